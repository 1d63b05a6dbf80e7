// Package ratelog keeps a flood of one warning from flooding the log: per
// cause, one line every interval, carrying how many were held back since
// the last one. Metrics, not logs, keep the exact counts.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultEvery is the interval of a zero Limiter.
const DefaultEvery = 10 * time.Second

// Limiter lets one line per cause through every Every. Its zero value
// is ready to use.
type Limiter struct {
	Every time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	causes map[string]*tally
}

type tally struct {
	last time.Time
	held int
}

// Log writes msg at level unless a line of the same cause went out less
// than Every ago; then it only counts it. The line that goes out carries
// "suppressed", the count held back since the previous one, when any were.
func (l *Limiter) Log(log *slog.Logger, level slog.Level, cause, msg string, args ...any) {
	if !log.Enabled(context.Background(), level) {
		return
	}
	every := l.Every
	if every <= 0 {
		every = DefaultEvery
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	at := now()
	l.mu.Lock()
	if l.causes == nil {
		l.causes = map[string]*tally{}
	}
	c := l.causes[cause]
	if c == nil {
		c = &tally{}
		l.causes[cause] = c
	}
	if !c.last.IsZero() && at.Sub(c.last) < every {
		c.held++
		l.mu.Unlock()
		return
	}
	held := c.held
	c.last, c.held = at, 0
	l.mu.Unlock()
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	log.Log(context.Background(), level, msg, args...)
}

// Warn is Log at warning level.
func (l *Limiter) Warn(log *slog.Logger, cause, msg string, args ...any) {
	l.Log(log, slog.LevelWarn, cause, msg, args...)
}
