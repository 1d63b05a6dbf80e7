package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestOneLinePerCausePerIntervalCarryingTheCountHeldBack(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	l := &Limiter{Every: 50 * time.Millisecond}
	for range 2000 {
		l.Warn(log, "refused", "refused a peer")
		l.Warn(log, "bad_env", "bad env block")
	}
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Fatalf("%d lines for 4000 warnings of 2 causes in one interval, want 2:\n%s", got, buf.String())
	}
	time.Sleep(60 * time.Millisecond)
	l.Warn(log, "refused", "refused a peer")
	if !strings.Contains(buf.String(), "suppressed=1999") {
		t.Errorf("the next line does not say how many were held back:\n%s", buf.String())
	}
}
