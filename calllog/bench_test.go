package calllog

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkSpoolAppend: one durable append at a time (write + fdatasync).
func BenchmarkSpoolAppend(b *testing.B) {
	s, err := OpenSpool(b.TempDir(), Options{Logger: quiet, MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rec(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Append(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkSpoolAppendParallel: many hangups at once share fsyncs.
func BenchmarkSpoolAppendParallel(b *testing.B) {
	s, err := OpenSpool(b.TempDir(), Options{Logger: quiet, MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rec(1)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(context.Background(), r); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkBareFdatasync is the baseline: the same bytes appended to a
// file and synced, with no spool around them.
func BenchmarkBareFdatasync(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "bare"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 200)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Write(buf)
		if err := syncData(f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}
