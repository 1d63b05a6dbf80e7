// Keeping the index in step with Odoo: the full sync, the incremental
// refresh on write_date, reconciling deleted partners, and the small tables
// (countries, tags, PBX users) that records refer to.

package lookup

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/odoo-agi/odoo-agi/odoo"
)

// Run loads the snapshot, syncs fully, then refreshes every
// RefreshInterval until ctx ends. Failures are logged and retried.
func (d *Directory) Run(ctx context.Context) {
	if d.cfg.CacheFile != "" {
		if n, err := d.LoadSnapshot(d.cfg.CacheFile); err != nil {
			d.log.Warn("lookup: ignoring the index snapshot", "file", d.cfg.CacheFile, "err", err)
		} else if n > 0 {
			d.log.Info("lookup: loaded the index snapshot; names resolve while Odoo syncs", "file", d.cfg.CacheFile, "partners", n)
		}
	}
	d.mu.Lock()
	synced := !d.lastSync.IsZero()
	d.mu.Unlock()
	var down outage
	backoff := time.Second
	for !synced {
		err := d.Sync(ctx)
		if err == nil {
			down.over(d.log)
			break
		}
		if ctx.Err() != nil {
			return
		}
		down.failed(d.log, "lookup: full sync failed; retrying until Odoo answers", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, time.Minute)
	}
	t := time.NewTicker(d.cfg.RefreshInterval)
	defer t.Stop()
	full := time.NewTimer(jitter(d.cfg.FullSyncInterval))
	defer full.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err = d.Refresh(ctx)
		case <-full.C:
			err = d.Sync(ctx)
			full.Reset(jitter(d.cfg.FullSyncInterval))
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			down.failed(d.log, "lookup: refresh failed; serving the last index until Odoo answers", err)
		default:
			down.over(d.log)
		}
	}
}

// jitter spreads d by ±10%, so that instances started together do not
// all re-read Odoo at the same moment.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

// outageEvery is how often a failure that lasts is logged again.
const outageEvery = 5 * time.Minute

// outage logs a run of failed syncs: the first at once, then once every
// outageEvery while it lasts, with how many failed, and one line when
// Odoo answers again.
type outage struct {
	since, logged time.Time
	failures      int
}

func (o *outage) failed(log *slog.Logger, msg string, err error) {
	o.failures++
	now := time.Now()
	switch {
	case o.since.IsZero():
		o.since, o.logged = now, now
		log.Warn(msg, "err", err)
	case now.Sub(o.logged) >= outageEvery:
		o.logged = now
		log.Warn(msg, "err", err, "failing_for", now.Sub(o.since).Round(time.Second), "failures", o.failures)
	}
}

func (o *outage) over(log *slog.Logger) {
	if o.since.IsZero() {
		return
	}
	log.Info("lookup: Odoo answers again", "was_down_for", time.Since(o.since).Round(time.Second), "failures", o.failures)
	*o = outage{}
}

// Sync reads every partner into a new index and swaps it in; lookups
// use the old one until then.
func (d *Directory) Sync(ctx context.Context) error {
	start := time.Now()
	if err := d.loadMeta(ctx); err != nil {
		return d.failed(err)
	}
	d.mu.Lock()
	m := d.meta()
	d.mu.Unlock()
	prev := d.idx.Load() // what the last sync read, to compare with
	spans, count, err := d.spans(ctx)
	if err != nil {
		return d.failed(err)
	}
	ix := newIndex(d.cfg.IndexSize, d.cfg.Normalizer.Country)
	ix.complete = true
	// Sized for what Odoo counts, so that they are not grown and copied
	// again and again on the way to a million entries.
	ix.partners = make(map[int32]*partner, min(count, 2*d.cfg.IndexSize))
	ix.numbers = make(map[number]*partner, min(count, d.cfg.IndexSize))
	// Three stages overlap: spans of ids are fetched and decoded, two at a
	// time (Odoo serves one while the other is decoded); each is then
	// prepared (signed, and its numbers normalized: the costly part) on a
	// goroutine of its own, at most GOMAXPROCS at once; and they are
	// indexed here, in id order.
	prepared := make(chan chan []preparedRecord, runtime.GOMAXPROCS(0))
	var fetchErr error
	var errOnce sync.Once
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		defer close(prepared)
		fetching := make(chan struct{}, syncFetches)
		for _, sp := range spans {
			select {
			case fetching <- struct{}{}:
			case <-fctx.Done():
				return
			}
			page := make(chan []preparedRecord, 1)
			select {
			case prepared <- page:
			case <-fctx.Done():
				return
			}
			go func() {
				recs, err := d.readSpan(fctx, sp)
				<-fetching
				if err != nil {
					errOnce.Do(func() { fetchErr = err; stop() })
					page <- nil
					return
				}
				page <- d.prepare(m, prev, recs)
			}()
		}
	}()
	maxWrite := int64(0)
	pbx := d.cfg.Normalizer.Country
	for page := range prepared {
		for _, pr := range <-page {
			p := ix.decode(m, pr.r, pr.sig)
			maxWrite = max(maxWrite, p.writeDate)
			numbers := pr.numbers
			own, company := regionsOf(ix, m, p)
			switch {
			case pr.same != nil && pr.same.numberedWith == p.numberedWith:
				numbers = pr.same.numberList()
			case pr.same != nil, company != "" && company != own && company != pbx:
				// Read with the partner's own region only (or not read);
				// its company's, known now, comes between.
				numbers = d.normalized(pr.r, p.id, own, company)
			}
			d.insert(ix, p, pr.r, numbers)
		}
	}
	// Every page was taken, so every fetch is over: fetchErr is settled.
	if fetchErr != nil {
		return d.failed(fetchErr)
	}
	if err := ctx.Err(); err != nil {
		return d.failed(err)
	}
	d.wmu.Lock()
	old := d.idx.Load()
	wasLoaded := d.loaded.Load()
	d.idx.Store(ix)
	d.loaded.Store(true)
	d.wmu.Unlock()
	d.mu.Lock()
	d.lastWrite, d.lastSync, d.lastErr = max(d.lastWrite, maxWrite), time.Now(), nil
	d.mu.Unlock()
	d.syncOnce.Do(func() { close(d.synced) })
	d.neg.Purge()
	d.found.Purge()
	args := []any{"partners", len(ix.partners), "numbers", len(ix.numbers), "complete", ix.complete, "took", time.Since(start).Round(time.Millisecond)}
	if wasLoaded {
		// A refresh can miss a write (a transaction older than its look-back
		// window): say how many records the full sync put right.
		args = append(args, "corrected", corrected(old, ix))
	}
	d.log.Info("lookup: full sync done", args...)
	d.saveSnapshot()
	// The old index and the pages read are garbage now, as large as the
	// index itself: hand that memory back at once, not over minutes.
	debug.FreeOSMemory()
	return nil
}

// syncFetches is how many spans a full sync reads from Odoo at once.
const syncFetches = 2

// span is the partner ids a sync reads in one go: lo < id <= hi, or
// lo < id when hi is 0.
type span struct{ lo, hi int32 }

// spans splits the partners' ids into spans of about a page each, from
// how many partners there are and the highest id. The last is open:
// partners created meanwhile are read too.
func (d *Directory) spans(ctx context.Context) (spans []span, count int, err error) {
	all := map[string]any{"context": map[string]any{"active_test": false}}
	res, err := d.odoo.Execute(ctx, "res.partner", "search_count", []any{[]any{}}, all)
	if err != nil {
		return nil, 0, err
	}
	count, _ = odoo.Int(res)
	res, err = d.odoo.Execute(ctx, "res.partner", "search", []any{[]any{}},
		map[string]any{"limit": 1, "order": "id desc", "context": map[string]any{"active_test": false}})
	if err != nil {
		return nil, 0, err
	}
	ids := odoo.IDs(res)
	if count == 0 || len(ids) == 0 {
		return []span{{0, 0}}, count, nil
	}
	top := int64(ids[0])
	// Ids are dense unless partners were deleted: a span of width ids
	// holds about a page. One that holds more is read page by page.
	width := max(int64(d.cfg.PageSize), top*int64(d.cfg.PageSize)/int64(count))
	for lo := int64(0); lo < top; lo += width {
		spans = append(spans, span{int32(lo), int32(min(lo+width, top))})
	}
	return append(spans, span{int32(top), 0}), count, nil
}

// readSpan reads the partners of a span in id order, page by page.
func (d *Directory) readSpan(ctx context.Context, sp span) ([]map[string]any, error) {
	var all []map[string]any
	for {
		domain := []any{[]any{"id", ">", sp.lo}}
		if sp.hi > 0 {
			domain = append(domain, []any{"id", "<=", sp.hi})
		}
		recs, err := d.readPartners(ctx, domain, "id")
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = recs
		} else {
			all = append(all, recs...)
		}
		if len(recs) < d.cfg.PageSize {
			return all, nil
		}
		sp.lo = idOf(recs[len(recs)-1]["id"])
	}
}

// preparedRecord is a record read by a sync, signed, with its numbers
// normalized with its own country's region (and the PBX's), or the same
// partner of the published index when that one was read identically.
type preparedRecord struct {
	r       map[string]any
	sig     uint64
	numbers []number
	same    *partner
}

// prepare does the work of indexing a page that needs no index: it can run
// beside the fetching and the indexing of other pages. A partner read as
// the published index holds it keeps its numbers, unless they were read
// with another company's country (the indexing checks that): normalizing
// is most of a sync's work, and most partners do not change between two.
func (d *Directory) prepare(m meta, old *index, recs []map[string]any) []preparedRecord {
	reuse := !old.truncated && old.country == d.cfg.Normalizer.Country
	out := make([]preparedRecord, len(recs))
	for i, r := range recs {
		out[i] = preparedRecord{r: r, sig: signature(r)}
		if q, ok := old.partners[idOf(r["id"])]; reuse && ok && q.sig == out[i].sig {
			out[i].same = q
			continue
		}
		if active(r) {
			country, _ := odoo.Many2one(r["country_id"])
			out[i].numbers = d.normalized(r, idOf(r["id"]), m.countries[country])
		}
	}
	return out
}

// corrected counts the partners that differ between two indexes: added,
// removed, or read differently.
func corrected(old, cur *index) int {
	n := 0
	for id, p := range cur.partners {
		if q, ok := old.partners[id]; !ok || q.sig != p.sig {
			n++
		}
	}
	for id := range old.partners {
		if _, ok := cur.partners[id]; !ok {
			n++
		}
	}
	return n
}

// Refresh applies partners written since the last sync. write_date has
// one-second resolution and is stamped when a transaction starts, so the
// query looks back a little and skips records already applied. It pages by
// (write_date, id), never by offset: writes while it reads cannot shift a
// record out of a page. The changes go to a clone, swapped in at the end.
func (d *Directory) Refresh(ctx context.Context) error {
	d.mu.Lock()
	since := d.lastWrite
	d.refreshes++
	reconcile := d.refreshes%d.cfg.ReconcileEvery == 0
	d.mu.Unlock()
	if !d.loaded.Load() || since == 0 {
		return d.Sync(ctx)
	}
	if err := d.loadMeta(ctx); err != nil {
		return d.failed(err)
	}
	var all []map[string]any
	domain := []any{[]any{"write_date", ">=", time.Unix(since-10, 0).UTC().Format(odooTime)}}
	for {
		recs, err := d.readPartners(ctx, domain, "write_date, id")
		if err != nil {
			return d.failed(err)
		}
		all = append(all, recs...)
		if len(recs) < d.cfg.PageSize {
			break
		}
		last := recs[len(recs)-1]
		wd, id := odoo.String(last["write_date"]), idOf(last["id"])
		domain = []any{"|", []any{"write_date", ">", wd}, "&", []any{"write_date", "=", wd}, []any{"id", ">", id}}
	}
	changed := 0
	if len(all) > 0 {
		d.mu.Lock()
		m := d.meta()
		d.mu.Unlock()
		d.wmu.Lock()
		next := d.idx.Load().clone()
		maxWrite := int64(0)
		for _, r := range all {
			ok, wd := d.apply(next, m, r)
			if ok {
				changed++
				maxWrite = max(maxWrite, wd)
			}
		}
		if changed > 0 {
			d.idx.Store(next)
		}
		d.wmu.Unlock()
		d.mu.Lock()
		d.lastWrite = max(d.lastWrite, maxWrite)
		d.mu.Unlock()
	}
	if reconcile {
		n, err := d.reconcile(ctx)
		if err != nil {
			return d.failed(err)
		}
		changed += n
	}
	d.mu.Lock()
	d.lastSync, d.lastErr = time.Now(), nil
	d.mu.Unlock()
	if changed > 0 {
		d.log.Debug("lookup: refresh applied changes", "partners", changed)
		d.saveSnapshot()
	}
	return nil
}

// reconcile drops partners that were deleted in Odoo.
func (d *Directory) reconcile(ctx context.Context) (int, error) {
	res, err := d.odoo.Execute(ctx, "res.partner", "search", []any{[]any{}}, map[string]any{"context": map[string]any{"active_test": false}})
	if err != nil {
		return 0, err
	}
	alive := map[int32]bool{}
	for _, id := range odoo.IDs(res) {
		alive[int32(id)] = true
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	cur := d.idx.Load()
	var gone []*partner
	for id, p := range cur.partners {
		if !alive[id] {
			gone = append(gone, p)
		}
	}
	if len(gone) > 0 {
		next := cur.clone()
		for _, p := range gone {
			next.remove(p)
		}
		d.idx.Store(next)
	}
	return len(gone), nil
}

func (d *Directory) meta() meta { return meta{d.countries, d.tags} }

func (d *Directory) readPartners(ctx context.Context, domain []any, order string) ([]map[string]any, error) {
	d.mu.Lock()
	fields := d.fields
	d.mu.Unlock()
	kw := map[string]any{
		"fields":  odoo.List(fields),
		"order":   order,
		"limit":   d.cfg.PageSize,
		"context": map[string]any{"active_test": false},
	}
	res, err := d.odoo.Execute(ctx, "res.partner", "search_read", []any{domain}, kw)
	if err != nil {
		return nil, err
	}
	return odoo.Records(res), nil
}

// loadMeta reads, once, which partner fields exist, and on every call the
// countries, tags and PBX users (small tables).
func (d *Directory) loadMeta(ctx context.Context) error {
	d.mu.Lock()
	haveFields := d.fields != nil
	d.mu.Unlock()
	if !haveFields {
		res, err := d.odoo.Execute(ctx, "res.partner", "fields_get", []any{}, map[string]any{"attributes": []any{"type"}})
		if err != nil {
			return err
		}
		exists, _ := res.(map[string]any)
		var fields []string
		for _, f := range partnerFields {
			if _, ok := exists[f]; ok || f == "id" {
				fields = append(fields, f)
			}
		}
		if _, ok := exists["phone"]; !ok {
			return &odoo.Error{Kind: odoo.ErrServer, Msg: "odoo: res.partner has no phone field; is this the contacts model?"}
		}
		d.mu.Lock()
		d.fields = fields
		d.mu.Unlock()
	}
	countries, err := d.idNames(ctx, "res.country", "code")
	if err != nil {
		return err
	}
	tags, err := d.idNames(ctx, "res.partner.category", "name")
	if err != nil {
		return err
	}
	// The companies the account belongs to: Odoo shows an internal user
	// only those, and the partners of others stay invisible to it.
	companies, err := d.idNames(ctx, "res.company", "name")
	if err != nil {
		return err
	}
	users, names := map[string]int{}, map[string]string{}
	d.mu.Lock()
	logins := d.cfg.UserLogins
	d.mu.Unlock()
	if len(logins) > 0 {
		res, err := d.odoo.Execute(ctx, "res.users", "search_read",
			[]any{[]any{[]any{"login", "in", odoo.List(logins)}}},
			map[string]any{"fields": []any{"login", "name"}, "context": map[string]any{"active_test": false}})
		if err != nil {
			return err
		}
		for _, r := range odoo.Records(res) {
			id, _ := odoo.Int(r["id"])
			users[odoo.String(r["login"])] = id
			names[odoo.String(r["login"])] = odoo.String(r["name"])
		}
		for _, l := range logins {
			if _, ok := users[l]; !ok {
				d.log.Warn("lookup: [[users]] login not found in Odoo", "login", l)
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	renamed := !sameMap(d.tags, tags)
	d.countries, d.tags, d.users, d.userNames = countries, tags, users, names
	d.companies.Store(&companies)
	if renamed {
		for _, ts := range d.idx.Load().tagSets {
			tn := tagNames(tags, ts.ids)
			ts.names.Store(&tn)
		}
	}
	return nil
}

func (d *Directory) idNames(ctx context.Context, model, field string) (map[int]string, error) {
	res, err := d.odoo.Execute(ctx, model, "search_read", []any{[]any{}},
		map[string]any{"fields": []any{field}, "context": map[string]any{"active_test": false}})
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, r := range odoo.Records(res) {
		id, _ := odoo.Int(r["id"])
		out[id] = odoo.String(r[field])
	}
	return out, nil
}

func (d *Directory) hasField(f string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return containsString(d.fields, f)
}

func (d *Directory) failed(err error) error {
	d.mu.Lock()
	d.lastErr = err
	d.mu.Unlock()
	return err
}

func sameMap(a, b map[int]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
