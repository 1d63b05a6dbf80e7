package dialplan

import (
	"context"
	"sync"
	"time"
)

// lazyDeadline is a context that ends at a deadline, but arms its timer
// only when something waits on it. Most lookups answer from memory and
// never wait, and arming a timer that is due before any other wakes the
// runtime's network poller: a write and a read on its eventfd for about
// one session in four under load.
type lazyDeadline struct {
	context.Context // the parent: Value, and Deadline when it is earlier
	at              time.Time
	once            sync.Once
	ctx             context.Context
	cancel          context.CancelFunc
}

// withLazyDeadline is context.WithDeadline with the timer armed on first
// use. Call stop when done, as with a CancelFunc.
func withLazyDeadline(parent context.Context, at time.Time) (ctx context.Context, stop func()) {
	c := &lazyDeadline{Context: parent, at: at}
	return c, c.stop
}

func (c *lazyDeadline) arm() {
	c.once.Do(func() { c.ctx, c.cancel = context.WithDeadline(c.Context, c.at) })
}

func (c *lazyDeadline) stop() {
	c.once.Do(func() { c.ctx, c.cancel = context.WithCancel(c.Context) })
	c.cancel()
}

func (c *lazyDeadline) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.at) {
		return d, true
	}
	return c.at, true
}

func (c *lazyDeadline) Done() <-chan struct{} {
	c.arm()
	return c.ctx.Done()
}

func (c *lazyDeadline) Err() error {
	c.arm()
	return c.ctx.Err()
}
