package lookup

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func FuzzNumberRoundTrip(f *testing.F) {
	for _, s := range []string{"+3225551234", "+1", "+999999999999999", "+0123", "32", "+32 2", "+1234567890123456", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := numberOf(s)
		if ok && n.String() != s {
			t.Fatalf("numberOf(%q) = %d, which reads back as %q", s, n, n.String())
		}
	})
}

func TestNumberReadsEveryE164Form(t *testing.T) {
	for _, s := range []string{"+3225551234", "+1", "+999999999999999", "+12025550123"} {
		if n, ok := numberOf(s); !ok || n.String() != s {
			t.Errorf("numberOf(%q) = %d, %v", s, n, ok)
		}
	}
	for _, s := range []string{"", "+", "+0123", "3225551234", "+32 2", "+1234567890123456", "+32a"} {
		if _, ok := numberOf(s); ok {
			t.Errorf("numberOf(%q) accepted", s)
		}
	}
}

// TestSharedNumbersFollowAddAndDrop runs random adds and drops of a few
// partners on a few numbers against a plain map of id lists, cloning and
// keeping every published index to check that none is changed after.
func TestSharedNumbersFollowAddAndDrop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ps := []*partner{{id: 1}, {id: 2}, {id: 3}, {id: 4}}
	want := map[number][]int32{}
	ix := newIndex(100, "BE")
	type published struct {
		ix   *index
		want map[number][]int32
	}
	var history []published
	ids := func(list []*partner) []int32 {
		var out []int32
		for _, p := range list {
			out = append(out, p.id)
		}
		slices.Sort(out)
		return out
	}
	check := func(ix *index, want map[number][]int32, step int) {
		t.Helper()
		for n := number(1); n <= 3; n++ {
			if got := ids(ix.get(n)); !slices.Equal(got, want[n]) {
				t.Fatalf("step %d: number %d has %v, want %v", step, n, got, want[n])
			}
			if ps, sh := ix.shared[n]; sh && len(ps) < 2 {
				t.Fatalf("step %d: number %d is shared by %d", step, n, len(ps))
			}
		}
	}
	for step := 0; step < 2000; step++ {
		next := ix.clone()
		n, p := number(1+rng.IntN(3)), ps[rng.IntN(len(ps))]
		w := slices.DeleteFunc(slices.Clone(want[n]), func(id int32) bool { return id == p.id })
		if rng.IntN(2) == 0 {
			next.add(n, p)
			w = append(w, p.id)
		} else {
			next.drop(n, p.id)
		}
		slices.Sort(w)
		cur := map[number][]int32{}
		for k, v := range want {
			cur[k] = v
		}
		if len(w) == 0 {
			delete(cur, n)
		} else {
			cur[n] = w
		}
		history = append(history, published{ix, want})
		ix, want = next, cur
		check(ix, want, step)
	}
	for i, h := range history {
		check(h.ix, h.want, i)
	}
}
