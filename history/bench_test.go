package history_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/history"
)

// BenchmarkRecent20Of10000 reads the page's 20 recent calls of a user who
// has 10,000 in the history.
func BenchmarkRecent20Of10000(b *testing.B) {
	s, err := history.Open(filepath.Join(b.TempDir(), "h.db"), history.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now().Add(-10000 * time.Minute)
	value := []byte(`{"id":1,"call":"1795836300.0","state":"missed","direction":"in","number":"+32475123456","pretty":"+32 475 12 34 56","name":"ACME SA, Zoë Müller","partner_id":42,"at":"2026-12-04T12:00:00Z"}`)
	for i := range 10000 {
		if err := s.Put("john", start.Add(time.Duration(i)*time.Minute), fmt.Sprint(i), value); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if got, _ := s.Recent("john", 20); len(got) != 20 {
			b.Fatal(len(got))
		}
	}
}
