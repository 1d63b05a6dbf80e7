package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// sweepRecordings deletes the recordings in dir older than keep, and
// returns how many it deleted. Only <linkedid>.wav files are touched.
func sweepRecordings(dir string, keep time.Duration, now time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".wav") {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < keep {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// keepRecordings sweeps dir at start and every hour until ctx ends.
func keepRecordings(ctx context.Context, log *slog.Logger, dir string, keep time.Duration) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := sweepRecordings(dir, keep, time.Now()); err != nil {
			log.Warn("recordings: could not delete old recordings ([recordings] keep)", "dir", dir, "err", err)
		} else if n > 0 {
			log.Info("recordings: deleted old recordings", "count", n, "older_than", keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
