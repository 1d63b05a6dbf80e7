// Live search: a miss on an incomplete index asks Odoo for that one number.

package lookup

import (
	"context"
	"time"
)

// searchLive asks Odoo for one number in the background, once per number
// at a time, and returns a channel closed when it is done.
func (d *Directory) searchLive(e164 string) <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.pending[e164]; ok {
		return ch
	}
	ch := make(chan struct{})
	d.pending[e164] = ch
	go func() {
		defer func() {
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
	recs, err := d.readPartners(ctx, domain, "id", 0)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ix, m := d.idx, d.meta()
	found := false
	for _, r := range recs {
		p := ix.decode(m, r)
		if !containsString(d.numbersOf(ix, m, r, p), e164) {
			continue
		}
		if cur, ok := ix.partners[p.id]; ok {
			ix.remove(cur)
		}
		d.insert(ix, m, p, r)
		found = found || p.hasNumbers()
	}
	if !found {
		d.neg.Add(e164, struct{}{})
	}
	d.loaded = d.loaded || found
	return nil
}
