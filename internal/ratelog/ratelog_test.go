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
	clock := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	l := &Limiter{Every: 10 * time.Second, Now: func() time.Time { return clock }}
	for range 2000 {
		l.Warn(log, "refused", "refused a peer")
		l.Warn(log, "bad_env", "bad env block")
	}
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Fatalf("%d lines for 4000 warnings of 2 causes in one interval, want 2:\n%s", got, buf.String())
	}
	clock = clock.Add(9 * time.Second)
	l.Warn(log, "refused", "refused a peer")
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Fatalf("a line went out 9 s into a 10 s interval:\n%s", buf.String())
	}
	clock = clock.Add(time.Second)
	l.Warn(log, "refused", "refused a peer")
	if !strings.Contains(buf.String(), "suppressed=2000") {
		t.Errorf("the next line does not say how many were held back:\n%s", buf.String())
	}
	if got := strings.Count(buf.String(), "\n"); got != 3 {
		t.Errorf("%d lines, want 3", got)
	}
}
