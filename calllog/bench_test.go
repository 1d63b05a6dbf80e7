package calllog

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
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

// BenchmarkClaim: one instance claims calls its peer never held (the
// usual case: one odoo-agi got the hangup), against a bare loopback POST
// of the same size answered with the same JSON.
func BenchmarkClaim(b *testing.B) {
	const secret = "a shared secret of both"
	b.Run("claim", func(b *testing.B) {
		a := &Claims{Self: "agi1", Secret: secret, Logger: quiet}
		peer := &Claims{Self: "agi2", Secret: secret, Logger: quiet}
		srv := httptest.NewServer(peer)
		defer srv.Close()
		a.Peers, peer.Peers = []string{srv.URL}, []string{"http://127.0.0.1:1"}
		for i := 0; b.Loop(); i++ {
			if mine, err := a.Acquire(context.Background(), "pbx:1733400000."+strconv.Itoa(i)); err != nil || !mine {
				b.Fatal(mine, err)
			}
		}
	})
	b.Run("bare-post", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req claimRequest
			json.NewDecoder(r.Body).Decode(&req)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]bool{"granted": true})
		}))
		defer srv.Close()
		client := &http.Client{}
		for i := 0; b.Loop(); i++ {
			body, _ := json.Marshal(claimRequest{Call: "pbx:1733400000." + strconv.Itoa(i), From: "agi1"})
			resp, err := client.Post(srv.URL+"/cluster/claim", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
