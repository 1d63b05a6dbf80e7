package lookup_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// seed adds n partners with a phone each and a mobile on every other one.
func seed(o *odootest.Server, n int) {
	be := o.CountryID("BE")
	for i := 0; i < n; i++ {
		p := odootest.Partner{Name: fmt.Sprintf("Contact %d", i), Phone: fmt.Sprintf("02 %03d %02d %02d", 200+i/10000, (i/100)%100, i%100), CountryID: be}
		if i%2 == 0 {
			p.Mobile = fmt.Sprintf("+32 470 %02d %02d %02d", i/10000, (i/100)%100, i%100)
		}
		o.Upsert(p)
	}
}

func BenchmarkLookupHit(b *testing.B) {
	o, url := emulator(b)
	seed(o, 1000)
	d := directory(b, url, nil)
	if err := d.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if r := d.Lookup(ctx, "022000102"); r.Status != lookup.Found {
		b.Fatalf("warm-up: %+v", r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d.Lookup(ctx, "022000102").Status != lookup.Found {
			b.Fatal("miss")
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	n := lookup.Normalizer{Country: "BE"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := n.Caller("+32 2 555 12 34"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexBuild100k syncs 100,000 partners (150,000 numbers) from
// the emulator and reports the heap held per indexed number.
func BenchmarkIndexBuild100k(b *testing.B) {
	o, url := emulator(b)
	seed(o, 100_000)
	// The emulator renders its rows on first read; do that before measuring.
	if _, err := client(url).Execute(context.Background(), "res.partner", "search_count", []any{[]any{}}, nil); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		d := directory(b, url, func(c *lookup.Config) { c.PageSize = 2000 })
		if err := d.Sync(context.Background()); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := d.State()
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(st.Numbers), "B/number")
		b.ReportMetric(float64(st.Numbers), "numbers")
		runtime.KeepAlive(d)
	}
}

// BenchmarkFullSync syncs the same partners over XML-RPC and over JSON-2
// from one Odoo 19 emulator, so that the two compare in one run. The
// emulator serves both in-process: its own work is in both figures.
// Set ODOO_AGI_BENCH_PARTNERS for another size (100000 in the README).
func BenchmarkFullSync(b *testing.B) {
	n := 20_000
	if s := os.Getenv("ODOO_AGI_BENCH_PARTNERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	o := odootest.New()
	url, err := o.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	o.SetVersion(19)
	seed(o, n)
	key := o.AddAPIKey("asterisk1")
	for _, api := range []string{odoo.XMLRPC, odoo.JSON2} {
		c := odoo.New(odoo.Config{URL: url, DB: "odoo", User: "asterisk1", APIKey: key, API: api, Logger: quiet, Timeout: 5 * time.Minute})
		b.Run(api, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := lookup.NewDirectory(lookup.Config{Normalizer: lookup.Normalizer{Country: "BE"}, Logger: quiet, PageSize: 2000}, c)
				if err := d.Sync(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "partners")
		})
		// Again on the same directory: the 6-hourly sync, which keeps
		// the numbers of partners that did not change.
		b.Run(api+"-warm", func(b *testing.B) {
			d := lookup.NewDirectory(lookup.Config{Normalizer: lookup.Normalizer{Country: "BE"}, Logger: quiet, PageSize: 2000}, c)
			if err := d.Sync(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Sync(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
