package lookup_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/internal/wait"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func emulator(t testing.TB) (*odootest.Server, string) { return odootest.StartT(t) }

// client is the system account's client over the API the suite runs on
// (odootest.TestAPI); a password stands in for the key over XML-RPC.
func client(url string) *odoo.Client {
	c := odootest.New().Config(url)
	c.Logger = quiet
	return odoo.New(c)
}

func directory(t testing.TB, url string, mod func(*lookup.Config)) *lookup.Directory {
	cfg := lookup.Config{Normalizer: lookup.Normalizer{Country: "BE"}, Logger: quiet, PageSize: 50}
	if mod != nil {
		mod(&cfg)
	}
	return lookup.NewDirectory(cfg, client(url))
}

func lookupName(t *testing.T, d *lookup.Directory, raw string) (lookup.Status, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r := d.Lookup(ctx, raw)
	return r.Status, r.Partner.DisplayName
}

func TestSyncIndexesMessyNumbersAndChoosesDeterministically(t *testing.T) {
	o, url := emulator(t)
	be, us := o.CountryID("BE"), o.CountryID("US")
	vip := o.AddCategory("VIP")
	seller := o.AddUser("john", "John Seller")
	acme := o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true, Phone: "02 555 12 34", CountryID: be, UserID: seller, CategoryIDs: []int{vip}})
	o.Upsert(odootest.Partner{Name: "Zoë Müller", ParentID: acme, Phone: "+32 (0)2 555 12 34", Mobile: "0475 12 34 56"})
	o.Upsert(odootest.Partner{Name: "Yankee Inc", IsCompany: true, Phone: "(870)-931-0505", CountryID: us})
	globex := o.Upsert(odootest.Partner{Name: "Globex", IsCompany: true, Phone: "0032 2/555.99.00"})
	o.Upsert(odootest.Partner{Name: "Ann", ParentID: globex, Phone: "02 555 77 77"})
	o.Upsert(odootest.Partner{Name: "Bob", ParentID: globex, Phone: "02 555 77 77"})
	o.Upsert(odootest.Partner{Name: "Older Person", Phone: "02 555 88 88"})
	o.Upsert(odootest.Partner{Name: "Newer Person", Phone: "02 555 88 88"})
	archived := o.Upsert(odootest.Partner{Name: "Gone Ltd", IsCompany: true, Phone: "02 555 66 66"})
	o.Update(archived, func(p *odootest.Partner) { p.Active = false })
	o.Upsert(odootest.Partner{Name: "Bad Number", Phone: "call reception"})
	// A contact with no country of its own, of a company in France: its
	// number is read as French before it is read as Belgian.
	gaumont := o.Upsert(odootest.Partner{Name: "Gaumont SA", IsCompany: true, CountryID: o.CountryID("FR")})
	o.Upsert(odootest.Partner{Name: "Jean", ParentID: gaumont, Phone: "01 23 45 67 89"})

	d := directory(t, url, nil)
	if err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, raw string
		status    lookup.Status
		display   string
	}{
		{"a company's contact beats the company", "025551234", lookup.Found, "ACME SA, Zoë Müller"},
		{"a contact's mobile", "+32475123456", lookup.Found, "ACME SA, Zoë Müller"},
		{"a US number stored with punctuation", "+18709310505", lookup.Found, "Yankee Inc"},
		{"several contacts of one company give the company", "025557777", lookup.Found, "Globex"},
		{"unrelated partners give the latest written", "025558888", lookup.Found, "Newer Person"},
		{"an archived partner is not shown", "025556666", lookup.NotFound, ""},
		{"a contact's number read with its company's country", "+33123456789", lookup.Found, "Gaumont SA, Jean"},
		{"an unknown number", "025550000", lookup.NotFound, ""},
		{"an internal extension", "101", lookup.Skipped, ""},
		{"anonymous", "anonymous", lookup.Skipped, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "mobile") && odootest.TestAPI() == odoo.JSON2 {
				// Odoo 19 removed res.partner.mobile: what is stored there is not read.
				tc.status, tc.display = lookup.NotFound, ""
			}
			s, name := lookupName(t, d, tc.raw)
			if s != tc.status || name != tc.display {
				t.Errorf("Lookup(%q) = %v %q, want %v %q", tc.raw, s, name, tc.status, tc.display)
			}
		})
	}
	r := d.Lookup(context.Background(), "025551234")
	if r.Matches != 2 || r.Partner.Company != "ACME SA" {
		t.Errorf("matches=%d company=%q, want 2 and ACME SA", r.Matches, r.Partner.Company)
	}
	r = d.Lookup(context.Background(), "025559900")
	if r.Partner.SalespersonID != 0 || len(r.Partner.Tags) != 0 {
		t.Errorf("Globex has no salesperson or tags, got %+v", r.Partner)
	}
	// ACME itself: salesperson and tags.
	o.Update(acme, func(p *odootest.Partner) { p.Phone = "02 555 12 00" })
	d.Refresh(context.Background())
	r = d.Lookup(context.Background(), "025551200")
	if r.Partner.SalespersonID != seller || strings.Join(r.Partner.Tags, ",") != "VIP" {
		t.Errorf("ACME: salesperson %d tags %v, want %d [VIP]", r.Partner.SalespersonID, r.Partner.Tags, seller)
	}
}

func TestEachChangeInOdooShowsAfterOneRefresh(t *testing.T) {
	o, url := emulator(t)
	tag := o.AddCategory("Prospect")
	a := o.Upsert(odootest.Partner{Name: "Alpha", Phone: "025551111", CategoryIDs: []int{tag}})
	b := o.Upsert(odootest.Partner{Name: "Bravo", Phone: "025552222", CategoryIDs: []int{tag}})
	c := o.Upsert(odootest.Partner{Name: "Charlie", Phone: "025553333"})
	e := o.Upsert(odootest.Partner{Name: "Echo", Phone: "025555555"})
	o.Upsert(odootest.Partner{Name: "Golf", Phone: "025557777", CategoryIDs: []int{tag}})
	d := directory(t, url, func(c *lookup.Config) { c.ReconcileEvery = 1 })
	if err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	o.Update(a, func(p *odootest.Partner) { p.Name = "Alpha Renamed" })
	o.Update(b, func(p *odootest.Partner) { p.Phone = "025552299" })
	o.Update(c, func(p *odootest.Partner) { p.Active = false })
	o.Upsert(odootest.Partner{Name: "Delta", Phone: "025554444"})
	o.Delete(e)
	o.RenameCategory(tag, "Customer")
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Run("a renamed tag, on partners that were not written", func(t *testing.T) {
		o.Upsert(odootest.Partner{Name: "Foxtrot", Phone: "025556666", CategoryIDs: []int{tag}})
		if err := d.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, raw := range []string{"025557777", "025552299", "025556666"} {
			if got := d.Lookup(context.Background(), raw).Partner.Tags; strings.Join(got, ",") != "Customer" {
				t.Errorf("Lookup(%q) tags = %q, want Customer", raw, got)
			}
		}
	})
	cases := []struct {
		name, raw, want string
	}{
		{"a rename", "025551111", "Alpha Renamed"},
		{"a changed number: the new one", "025552299", "Bravo"},
		{"a changed number: the old one is gone", "025552222", ""},
		{"an archived partner", "025553333", ""},
		{"a new partner", "025554444", "Delta"},
		{"a deleted partner", "025555555", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := lookupName(t, d, tc.raw); got != tc.want {
				t.Errorf("Lookup(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

func TestTwoEditsInTheSameSecondAreBothSeenAndNeitherTwice(t *testing.T) {
	o, url := emulator(t)
	sec := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	o.SetClock(func() time.Time { return sec })
	a := o.Upsert(odootest.Partner{Name: "A", Phone: "025551111"})
	d := directory(t, url, nil)
	if err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Same second as the sync saw: a second partner, then an edit of the first.
	b := o.Upsert(odootest.Partner{Name: "B", Phone: "025552222"})
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	o.Update(a, func(p *odootest.Partner) { p.Name = "A2" })
	o.Update(b, func(p *odootest.Partner) { p.Name = "B2" })
	sec = sec.Add(time.Second)
	o.Update(b, func(p *odootest.Partner) { p.Name = "B3" })
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, n := lookupName(t, d, "025551111"); n != "A2" {
		t.Errorf("first edit in the second: got %q, want A2", n)
	}
	if _, n := lookupName(t, d, "025552222"); n != "B3" {
		t.Errorf("latest edit: got %q, want B3", n)
	}
}

func TestOdooDownAtStart(t *testing.T) {
	o, url := emulator(t)
	vip := o.AddCategory("VIP")
	o.Upsert(odootest.Partner{Name: "Alpha", Phone: "025551111", CategoryIDs: []int{vip}})
	snap := filepath.Join(t.TempDir(), "index.snapshot")

	t.Run("with no snapshot, a lookup is UNAVAILABLE within its deadline", func(t *testing.T) {
		o.SetDown(true)
		defer o.SetDown(false)
		d := directory(t, url, func(c *lookup.Config) { c.CacheFile = snap })
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		r := d.Lookup(ctx, "025551111")
		if r.Status != lookup.Unavailable || time.Since(t0) > 300*time.Millisecond {
			t.Errorf("got %v after %v", r.Status, time.Since(t0))
		}
	})
	t.Run("with a snapshot, names still resolve", func(t *testing.T) {
		d := directory(t, url, func(c *lookup.Config) { c.CacheFile = snap })
		if err := d.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		o.SetDown(true)
		defer o.SetDown(false)
		d2 := directory(t, url, func(c *lookup.Config) { c.CacheFile = snap })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go d2.Run(ctx)
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if r := d2.Lookup(context.Background(), "025551111"); r.Partner.DisplayName == "Alpha" {
				if strings.Join(r.Partner.Tags, ",") != "VIP" {
					t.Errorf("tags from the snapshot: %q, want VIP", r.Partner.Tags)
				}
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Error("the snapshot did not resolve Alpha while Odoo was down")
	})
	t.Run("a corrupt snapshot is ignored with an error", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.snapshot")
		os.WriteFile(bad, []byte("garbage\x00\x01"), 0o600)
		d := directory(t, url, nil)
		if _, err := d.LoadSnapshot(bad); err == nil {
			t.Error("a corrupt snapshot loaded")
		}
		data, _ := os.ReadFile(snap)
		os.WriteFile(bad, data[:len(data)/2], 0o600)
		if _, err := d.LoadSnapshot(bad); err == nil || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("a truncated snapshot: %v", err)
		}
	})
}

func TestASlowOdooNeverDelaysALookupPastItsDeadline(t *testing.T) {
	o, url := emulator(t)
	o.Upsert(odootest.Partner{Name: "Alpha", Phone: "025551111"})
	d := directory(t, url, nil)
	if err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	o.SetLatency(3 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Refresh(ctx) // stuck behind the latency
	for _, raw := range []string{"025551111", "025559999"} {
		c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		t0 := time.Now()
		r := d.Lookup(c, raw)
		cancel()
		if el := time.Since(t0); el > 350*time.Millisecond { // slack for a loaded machine; Odoo takes 3 s
			t.Errorf("Lookup(%s) took %v with a 200ms deadline", raw, el)
		}
		if raw == "025551111" && r.Partner.DisplayName != "Alpha" {
			t.Errorf("a slow Odoo lost a known name: %+v", r)
		}
	}
}

func TestAnIncompleteIndexAsksOdooOncePerUnknownNumber(t *testing.T) {
	o, url := emulator(t)
	for i, ph := range []string{"025551111", "025552222", "025553333"} {
		o.Upsert(odootest.Partner{Name: string(rune('A' + i)), Phone: ph})
	}
	d := directory(t, url, func(c *lookup.Config) { c.IndexSize = 2 })
	if err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := d.State(); st.Complete || st.Numbers != 2 {
		t.Fatalf("state %+v: want 2 numbers and incomplete", st)
	}
	// The evicted number: a live search finds it within the deadline.
	if s, n := lookupName(t, d, "025551111"); s != lookup.Found || n != "A" {
		t.Errorf("evicted number: %v %q, want FOUND A", s, n)
	}
	// A burst of spam from one unknown number costs one Odoo query.
	before := o.Calls("res.partner.search_read")
	for i := 0; i < 50; i++ {
		if s, _ := lookupName(t, d, "+3225550000"); s != lookup.NotFound {
			t.Fatalf("spam call %d: %v", i, s)
		}
	}
	if q := o.Calls("res.partner.search_read") - before; q != 1 {
		t.Errorf("50 calls from one unknown number cost %d Odoo queries, want 1", q)
	}
}

func TestAMissingMobileFieldIsNotAsked(t *testing.T) {
	o, url := emulator(t)
	o.RemoveField("mobile")
	o.Upsert(odootest.Partner{Name: "Alpha", Phone: "025551111"})
	d := directory(t, url, nil)
	if err := d.Sync(context.Background()); err != nil {
		t.Fatalf("sync without a mobile field: %v", err)
	}
	if _, n := lookupName(t, d, "025551111"); n != "Alpha" {
		t.Errorf("got %q", n)
	}
}

// TestAFailingRefreshLogsOncePerOutage: Odoo down for many refreshes
// gives one line, and one more when it answers again.
func TestAFailingRefreshLogsOncePerOutage(t *testing.T) {
	o, url := emulator(t)
	o.Upsert(odootest.Partner{Name: "Alpha", Phone: "025551111"})
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	d := directory(t, url, func(c *lookup.Config) { c.RefreshInterval = 10 * time.Millisecond; c.Logger = log })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	wait.For(t, "the first sync", 5*time.Second, func() bool { return d.State().Loaded })
	o.SetDown(true)
	wait.For(t, "twenty failed refreshes", 5*time.Second, func() bool { return o.TotalCalls() > 40 })
	o.SetDown(false)
	text := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	wait.For(t, "the all-clear", 5*time.Second, func() bool { return strings.Contains(text(), "Odoo answers again") })
	if n := strings.Count(text(), "refresh failed"); n != 1 {
		t.Errorf("%d lines for one outage, want 1:\n%s", n, text())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestANumberOnlyPossibleIsStillFound: +32 3 123 45 67 is not valid in
// phonenumbers' metadata (Odoo's phone_sanitized is False for it), but
// carriers send it and partners store it.
func TestANumberOnlyPossibleIsStillFound(t *testing.T) {
	o, url := emulator(t)
	o.Upsert(odootest.Partner{Name: "Antwerp NV", IsCompany: true, Phone: "+32 3 123 45 67", CountryID: o.CountryID("BE")})
	d := directory(t, url, nil)
	if err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"+3231234567", "031234567", "0032 3 123 45 67"} {
		if s, n := lookupName(t, d, raw); s != lookup.Found || n != "Antwerp NV" {
			t.Errorf("%s: %v %q", raw, s, n)
		}
	}
}

// TestLookupsNeverWaitOnTheWriters: with every lock a sync, reconcile or
// snapshot takes held, lookups still answer from the published index.
func TestLookupsNeverWaitOnTheWriters(t *testing.T) {
	o, url := emulator(t)
	o.Upsert(odootest.Partner{Name: "Alpha", Phone: "025551111"})
	d := directory(t, url, nil)
	if err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	release := d.HoldLocks()
	defer release()
	for _, tc := range []struct {
		raw    string
		status lookup.Status
	}{{"025551111", lookup.Found}, {"025550000", lookup.NotFound}} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		r := d.Lookup(ctx, tc.raw)
		late := ctx.Err()
		cancel()
		if r.Status != tc.status || late != nil {
			t.Errorf("%s: %v (%v) while the writers held their locks", tc.raw, r.Status, late)
		}
	}
}

// TestAFullSyncHealsWhatARefreshMissed: a transaction stamped its write
// long before it committed, after the refresh had passed that time. The
// refresh cannot see it; the full sync puts it right and says so.
func TestAFullSyncHealsWhatARefreshMissed(t *testing.T) {
	o, url := emulator(t)
	o.Upsert(odootest.Partner{Name: "Alpha", Phone: "025551111"})
	var logs syncLog
	d := directory(t, url, func(c *lookup.Config) { c.Logger = logs.logger() })
	ctx := context.Background()
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	o.Upsert(odootest.Partner{Name: "Beta", Phone: "025552222"})
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	late := o.Upsert(odootest.Partner{Name: "Late Transaction", Phone: "025553333", WriteDate: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)})
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := lookupName(t, d, "025553333"); s != lookup.NotFound {
		t.Fatalf("the refresh saw the late write (%v): this test no longer makes it miss one", s)
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s, n := lookupName(t, d, "025553333"); s != lookup.Found || n != "Late Transaction" {
		t.Errorf("after the full sync: %v %q", s, n)
	}
	if !strings.Contains(logs.String(), "corrected=1") {
		t.Errorf("the full sync did not say what it corrected:\n%s", logs.String())
	}
	_ = late
}

// TestARefreshPagesByWriteDateAndID reads more changes than one page.
func TestARefreshPagesByWriteDateAndID(t *testing.T) {
	o, url := emulator(t)
	o.Upsert(odootest.Partner{Name: "Seed", Phone: "025550001"})
	d := directory(t, url, nil) // 50 records a page
	ctx := context.Background()
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	same := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC) // many records, one write_date
	for i := range 130 {
		o.Upsert(odootest.Partner{Name: fmt.Sprintf("Bulk %d", i), Phone: fmt.Sprintf("02 556 %02d %02d", i/100, i%100), WriteDate: same})
	}
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 49, 50, 99, 129} {
		if s, n := lookupName(t, d, fmt.Sprintf("02556%02d%02d", i/100, i%100)); s != lookup.Found || n != fmt.Sprintf("Bulk %d", i) {
			t.Errorf("Bulk %d: %v %q", i, s, n)
		}
	}
}

// TestABurstOfUnknownNumbersIsBoundedAtOdoo: just after start, from a
// snapshot, the index is not complete, so misses ask Odoo. 1,000 distinct
// unknown numbers at once cost at most LiveSearches requests at a time,
// and the rest give up at once instead of queueing.
func TestABurstOfUnknownNumbersIsBoundedAtOdoo(t *testing.T) {
	o, url := emulator(t)
	o.Upsert(odootest.Partner{Name: "Alpha", Phone: "025551111"})
	snap := filepath.Join(t.TempDir(), "snap")
	d0 := directory(t, url, func(c *lookup.Config) { c.CacheFile = snap })
	if err := d0.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	d0.SaveSnapshot(snap)
	d := directory(t, url, func(c *lookup.Config) { c.CacheFile = snap; c.LiveSearches = 4 })
	if _, err := d.LoadSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	// Odoo holds every request until the burst is over, so no search can
	// finish and free its slot for another while the burst runs.
	release := o.Hold()
	defer release()
	before := o.TotalCalls()
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			d.Lookup(ctx, fmt.Sprintf("+3225%06d", 100000+i))
		}()
	}
	wg.Wait()
	made, refused := d.LiveSearches()
	wait.For(t, "a search to reach Odoo", 5*time.Second, func() bool { return o.MaxInFlight() > 0 })
	release()
	wait.For(t, "the searches to end", 5*time.Second, func() bool { return d.LiveSearchesRunning() == 0 })
	after := o.TotalCalls()
	// A search from a snapshot reads the field list and the small tables
	// first (fields, countries, tags, companies): at most six requests each.
	if o.MaxInFlight() > 4 || made > 4 || made == 0 || made+refused != 1000 || after-before > made*6 {
		t.Errorf("%d searches made, %d refused, %d Odoo requests, %d at once; want at most 4 searches", made, refused, after-before, o.MaxInFlight())
	}
	t.Logf("1,000 unknown numbers: %d live searches, %d refused at the cap, %d Odoo requests, at most %d at once", made, refused, after-before, o.MaxInFlight())
}

// syncLog collects log lines from several goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
func (l *syncLog) logger() *slog.Logger        { return slog.New(slog.NewTextHandler(l, nil)) }

// TestAFullSyncReadsEverySpanOfIDs syncs partners whose ids are sparse in
// one place and dense in another, so that the spans the sync splits the
// ids into hold from none to several pages each, and one is created after
// the highest id was read.
func TestAFullSyncReadsEverySpanOfIDs(t *testing.T) {
	o, url := emulator(t)
	var ids []int
	for i := range 400 {
		ids = append(ids, o.Upsert(odootest.Partner{Name: fmt.Sprintf("P %d", i), Phone: fmt.Sprintf("02 557 %02d %02d", i/100, i%100)}))
	}
	for _, id := range ids[20:300] {
		o.Delete(id) // 120 left: spans of 10 / (120/400) ≈ 33 ids, the last 100 in 3
	}
	d := directory(t, url, func(c *lookup.Config) { c.PageSize = 10 })
	if err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := d.State(); st.Partners != 120 || st.Numbers != 120 {
		t.Fatalf("state %+v: want 120 partners and numbers", st)
	}
	for _, i := range []int{0, 19, 300, 301, 355, 399} {
		if s, n := lookupName(t, d, fmt.Sprintf("02557%02d%02d", i/100, i%100)); s != lookup.Found || n != fmt.Sprintf("P %d", i) {
			t.Errorf("P %d: %v %q", i, s, n)
		}
	}
}

// TestAFullSyncRereadsAContactWhoseCompanyMoved: a full sync keeps the
// numbers of partners read as before, but not of a contact whose number
// was read with its company's country when that country changed.
func TestAFullSyncRereadsAContactWhoseCompanyMoved(t *testing.T) {
	o, url := emulator(t)
	company := o.Upsert(odootest.Partner{Name: "Gaumont SA", IsCompany: true, CountryID: o.CountryID("FR")})
	o.Upsert(odootest.Partner{Name: "Jean", ParentID: company, Phone: "01 23 45 67 89"})
	o.Upsert(odootest.Partner{Name: "Stays", Phone: "02 555 12 34"})
	d := directory(t, url, nil)
	ctx := context.Background()
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s, n := lookupName(t, d, "+33123456789"); s != lookup.Found || n != "Gaumont SA, Jean" {
		t.Fatalf("before: %v %q", s, n)
	}
	be := o.CountryID("BE")
	o.Update(company, func(p *odootest.Partner) { p.CountryID = be })
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]string{"+33123456789": "", "+32123456789": "Gaumont SA, Jean", "025551234": "Stays"} {
		if _, n := lookupName(t, d, raw); n != want {
			t.Errorf("after the move, %s gives %q, want %q", raw, n, want)
		}
	}
}
