// Live search: a miss on an incomplete index asks Odoo for that one number.

package lookup

import (
	"context"
	"slices"
	"time"
)

// closed is a channel that is already closed: a search not made.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// searchLive asks Odoo for one number in the background, once per number
// at a time, and returns a channel closed when it is done. At most
// LiveSearches run at once: past that it gives up at once, so a burst of
// unknown numbers never queues behind Odoo.
func (d *Directory) searchLive(e164 string) <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.pending[e164]; ok {
		return ch
	}
	select {
	case d.slots <- struct{}{}:
	default:
		d.gaveUp.Add(1)
		return closed
	}
	d.searches.Add(1)
	ch := make(chan struct{})
	d.pending[e164] = ch
	go func() {
		defer func() {
			<-d.slots
			d.mu.Lock()
			delete(d.pending, e164)
			d.mu.Unlock()
			close(ch)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.searchNumber(ctx, e164); err != nil {
			d.failed(err)
		}
	}()
	return ch
}

// searchNumber reads partners whose phone or mobile ends with the number's
// last digits, keeps those that normalize to e164, and caches a miss.
func (d *Directory) searchNumber(ctx context.Context, e164 string) error {
	d.mu.Lock()
	haveMeta := d.fields != nil
	d.mu.Unlock()
	if !haveMeta {
		if err := d.loadMeta(ctx); err != nil {
			return err
		}
	}
	tail := e164
	if len(tail) > 6 {
		tail = tail[len(tail)-6:]
	}
	// Stored numbers carry spaces and dots; match the last two digit groups loosely.
	pattern := "%" + tail[:len(tail)-4] + "%" + tail[len(tail)-4:len(tail)-2] + "%" + tail[len(tail)-2:]
	domain := []any{"|", []any{"phone", "ilike", pattern}}
	if d.hasField("mobile") {
		domain = append(domain, []any{"mobile", "ilike", pattern})
	} else {
		domain = domain[1:]
	}
	recs, err := d.readPartners(ctx, domain, "id")
	if err != nil {
		return err
	}
	d.mu.Lock()
	m := d.meta()
	d.mu.Unlock()
	// A scratch index decodes the records: it reads the published partners
	// (for a company's country and name) and interns tags of its own.
	cur := d.idx.Load()
	scratch := &index{partners: cur.partners, tagSets: map[string]*tagSet{}}
	var ps []*partner
	for _, r := range recs {
		if !active(r) {
			continue
		}
		p := scratch.decode(m, r, signature(r))
		if n, ok := numberOf(e164); ok && slices.Contains(d.numbersOf(scratch, m, r, p), n) {
			p.addNumber(n)
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		d.neg.Add(e164, struct{}{})
		return nil
	}
	d.found.Add(e164, ps)
	d.loaded.Store(true)
	return nil
}
