package lookup

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// BenchmarkSuggest1M builds the suggestions over a million partners with
// made-up names ("Company, First Last", a number each) and times queries:
// 3-letter prefixes of a random name's words, and two-word queries. It
// reports the p50 and p99 of each kind, the build time, and the heap the
// search adds per partner.
func BenchmarkSuggest1M(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(1, 2))
	syll := []string{"an", "be", "ca", "de", "el", "fa", "go", "ha", "in", "jo", "ka", "li", "ma", "no", "or", "pe", "qu", "ra", "si", "to", "ul", "va", "wi", "xe", "yo", "zé"}
	word := func() string {
		w := ""
		for range 2 + rng.IntN(3) {
			w += syll[rng.IntN(len(syll))]
		}
		return string(w[0]-32) + w[1:]
	}
	ix := newIndex(2*n, "BE")
	for i := range n {
		p := &partner{id: int32(i + 1)}
		p.name = word() + " " + word()
		p.display = word() + " NV, " + p.name
		p.numbers[0] = number(32_470_000_000 + uint64(i))
		ix.partners[p.id] = p
		ix.numbers[p.numbers[0]] = p
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	h0 := heap()
	start := time.Now()
	ns := buildNames(ix)
	build := time.Since(start)
	h1 := heap()
	queries := make([]string, 1000)
	pairs := make([]string, 1000)
	for i := range queries {
		p := ix.partners[int32(1+rng.IntN(n))]
		ws := slices.DeleteFunc(words(fold(p.display)), func(w string) bool { return len(w) < 3 })
		queries[i] = ws[rng.IntN(len(ws))][:3]
		pairs[i] = ws[0][:3] + " " + ws[len(ws)-1][:3]
	}
	var one, two []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t := time.Now()
		if len(ns.suggest(queries[i%len(queries)], "BE", 8)) == 0 {
			b.Fatalf("nothing for %q", queries[i%len(queries)])
		}
		one = append(one, time.Since(t))
		t = time.Now()
		ns.suggest(pairs[i%len(pairs)], "BE", 8)
		two = append(two, time.Since(t))
	}
	b.StopTimer()
	q := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(one, .5), "prefix-p50-ms")
	b.ReportMetric(q(one, .99), "prefix-p99-ms")
	b.ReportMetric(q(two, .5), "two-words-p50-ms")
	b.ReportMetric(q(two, .99), "two-words-p99-ms")
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(float64(int64(h1)-int64(h0))/n, "B/partner")
	runtime.KeepAlive(ns)
}
