package calllog

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/odoo-agi/odoo-agi/odoo"
)

// Two workers deliver: one takes new calls from the spool in order; the
// other takes, from a second spool, the calls that failed on their own (a
// record rule on one partner, an activity Odoo refuses) and retries each
// with its own backoff. A failure that stops every call (Odoo unreachable,
// the login refused, no such database) holds the worker at its head
// instead: nothing could go past it anyway.

// causes name delivery failures, for the metric and the logs.
var causes = [...]string{"unreachable", "login", "access", "refused", "server", "other"}

func causeOf(err error) int {
	for i, k := range []error{odoo.ErrUnreachable, odoo.ErrLogin, odoo.ErrAccess, odoo.ErrUser, odoo.ErrServer} {
		if errors.Is(err, k) {
			return i
		}
	}
	return len(causes) - 1
}

// blocksAll reports a failure no call can get past.
func blocksAll(err error) bool {
	var se *stepError
	return !errors.As(err, &se) || errors.Is(err, odoo.ErrUnreachable) || errors.Is(err, odoo.ErrLogin) || errors.Is(err, odoo.ErrNoDatabase)
}

// givenUp reports a failure about the record itself that retrying will not
// mend, after enough attempts: a server traceback (Fault 1), a partner
// deleted since, or an activity Odoo refuses for this call (Fault 2, e.g.
// the assignee cannot see the partner). Rights (Fault 4) and setup errors
// (a posting user without email) wait for an admin instead.
func givenUp(err error, attempts int) bool {
	if attempts < 5 {
		return false
	}
	var oe *odoo.Error
	var se *stepError
	if !errors.As(err, &oe) || !errors.As(err, &se) {
		return false
	}
	return oe.Fault == 1 || oe.Fault == 2 && (strings.Contains(oe.Msg, "does not exist") || se.step == "activity")
}

// retryDelay is a call's wait before its next attempt.
func (d *Deliverer) retryDelay(attempts int) time.Duration {
	minB, maxB := d.backoffs()
	return min(minB<<min(attempts, 20), maxB)
}

func (d *Deliverer) backoffs() (time.Duration, time.Duration) {
	minB, maxB := d.Config.MinBackoff, d.Config.MaxBackoff
	if minB <= 0 {
		minB = time.Second
	}
	if maxB <= 0 {
		maxB = 5 * time.Minute
	}
	return minB, maxB
}

// Run delivers from sp, and from retry the calls that failed on their own,
// until ctx ends. retry may be nil: such calls then wait at sp's head.
func (d *Deliverer) Run(ctx context.Context, sp, retry *Spool) {
	var wg sync.WaitGroup
	wg.Go(func() { d.work(ctx, sp, retry, &d.episodes[0]) })
	if retry != nil {
		wg.Go(func() { d.work(ctx, retry, retry, &d.episodes[1]) })
	}
	wg.Wait()
}

// work delivers the records of from, acknowledging them in order. ep is
// its episode of failures that hold it; a call set aside belongs to the
// retry worker's. The new-call worker posts up to Config.Workers calls at
// once (calls with the same number one after the other, so that a
// contact's chatter keeps their order); the retry worker, one.
func (d *Deliverer) work(ctx context.Context, from, retry *Spool, ep *episode) {
	w := &worker{d: d, ctx: ctx, from: from, retry: retry, ep: ep}
	w.minB, w.maxB = d.backoffs()
	w.backoff = w.minB
	n := d.Config.Workers
	if from == retry || n < 1 {
		n = 1
	}
	jobs := make(chan *job, n)      // in spool order
	slots := make(chan struct{}, n) // records in flight, settling included
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		defer close(jobs)
		last := map[string]chan struct{}{} // each number's latest call in flight
		var pos *Pos
		for {
			var e Entry
			var err error
			if pos == nil {
				e, err = from.Next(ctx)
			} else {
				e, err = from.NextAfter(ctx, *pos)
			}
			if err != nil {
				return
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			pos = &e.Next
			j := &job{e: e, r: e.Record, done: make(chan struct{})}
			before := last[j.r.Number]
			last[j.r.Number] = j.done
			wg.Go(func() {
				defer close(j.done)
				if before != nil {
					<-before
				}
				if !j.e.Skipped {
					j.at = time.Now()
					j.err = w.first(&j.r)
				}
			})
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
			if len(last) > 10*n {
				for num, ch := range last {
					select {
					case <-ch:
						delete(last, num) // settled
					default:
					}
				}
			}
		}
	})
	for j := range jobs {
		<-j.done
		if !w.settle(j) {
			return
		}
		<-slots
	}
}

// job is one record in flight.
type job struct {
	e    Entry
	r    Record
	at   time.Time // its first attempt's start
	err  error
	done chan struct{}
}

// worker is one spool's delivery loop.
type worker struct {
	d           *Deliverer
	ctx         context.Context
	from, retry *Spool
	ep          *episode

	minB, maxB, backoff time.Duration
	// recovered is when a call held in place went through: a call in
	// flight that failed before it failed with the same outage.
	recovered time.Time
}

// first is a record's first attempt: it waits first for its retry time.
func (w *worker) first(r *Record) error {
	if wait := time.Until(time.Unix(r.RetryAt, 0)); r.RetryAt > 0 && wait > 0 {
		select {
		case <-w.ctx.Done():
			return w.ctx.Err()
		case <-time.After(wait):
		}
	}
	return w.d.deliver(w.ctx, r)
}

func (w *worker) pause() bool {
	select {
	case <-w.ctx.Done():
		return false
	case <-time.After(w.backoff):
	}
	w.backoff = min(2*w.backoff, w.maxB)
	return true
}

// settle acknowledges j, sets it aside for a retry, or, when its failure
// holds every call, tries it again in its place. It reports whether to go
// on.
func (w *worker) settle(j *job) bool {
	d, r, err := w.d, &j.r, j.err
	held := false
	for {
		if err == nil {
			if held {
				w.recovered = time.Now()
			}
			// Cleared before the ack: an empty spool never reports a failure.
			d.cleared(w.ep, w.from)
			w.from.Ack(j.e.Next)
			w.backoff = w.minB
			return true
		}
		if w.ctx.Err() != nil {
			return false
		}
		if !held && blocksAll(err) && j.at.Before(w.recovered) {
			// It failed during the outage that a call before it waited out.
			held = true
			err = d.deliver(w.ctx, r)
			continue
		}
		d.failures[causeOf(err)].Add(1)
		r.Attempts++
		r.LastError = err.Error()
		switch {
		case givenUp(err, r.Attempts):
			d.log().Error("calllog: Odoo rejects this call log; giving up on it", "uniqueid", r.UniqueID, "attempts", r.Attempts, "err", err)
			d.rejected.Add(1)
			w.from.Ack(j.e.Next)
			return true
		case blocksAll(err) || w.retry == nil:
			held = true
			d.failed(w.ep, err, "every call waits in the spool and is retried")
			if !w.pause() {
				return false
			}
			err = d.deliver(w.ctx, r)
			continue
		}
		r.RetryAt = time.Now().Add(d.retryDelay(r.Attempts)).Unix()
		// The retry worker's episode starts before the call is handed over,
		// so its success can never be overwritten by this failure.
		d.failed(&d.episodes[1], err, "this call is retried on its own; the other calls go on")
		if aerr := w.retry.Append(w.ctx, *r); aerr != nil {
			d.failed(w.ep, aerr, "could not set the call aside for a retry; it waits at the head of the spool")
			if !w.pause() {
				return false
			}
			err = d.deliver(w.ctx, r)
			continue
		}
		w.from.Ack(j.e.Next)
		d.retried.Add(1)
		// A cause that hits every retried call is not hammered.
		return w.from != w.retry || w.pause()
	}
}

// episode is a run of failures: logged once when it starts, again only
// when its cause changes, and once when it clears. The new-call worker's
// holds it at the head; the retry worker's covers the calls set aside.
type episode struct {
	lastMsg string
	since   time.Time
}

func (d *Deliverer) failed(ep *episode, err error, what string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	msg := err.Error()
	if msg == ep.lastMsg {
		return
	}
	if ep.lastMsg == "" {
		ep.since = time.Now()
	}
	ep.lastMsg = msg
	d.log().Error("calllog: cannot deliver to Odoo; "+what, "err", err)
}

func (d *Deliverer) cleared(ep *episode, sp *Spool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ep.lastMsg == "" {
		return
	}
	d.log().Info("calllog: delivering to Odoo again", "failing_for", time.Since(ep.since).Round(time.Second), "backlog_bytes", sp.Stats().Pending)
	ep.lastMsg = ""
}

// DeliveryStats counts what the workers did, and what fails now.
type DeliveryStats struct {
	Delivered, Skipped, Rejected int64
	Retried                      int64            // calls set aside to be retried on their own
	Failures                     map[string]int64 // failed attempts by cause
	LastError                    string           // "" while delivery works
}

// Stats reports the counters and the current failure, if any.
func (d *Deliverer) Stats() DeliveryStats {
	st := DeliveryStats{Delivered: d.delivered.Load(), Skipped: d.skipped.Load(), Rejected: d.rejected.Load(),
		Retried: d.retried.Load(), Failures: map[string]int64{}}
	for i, c := range causes {
		st.Failures[c] = d.failures[i].Load()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ep := range d.episodes {
		if ep.lastMsg != "" {
			st.LastError = ep.lastMsg
		}
	}
	return st
}
