package calllog

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// faultySegment fails writes or syncs on demand, as a full disk does.
type faultySegment struct {
	segmentFile
	mu           sync.Mutex
	writeAfter   int  // > 0: the next write stores this many bytes, then fails
	failSync     bool // the next DataSync fails
	failTruncate bool
	block        chan struct{} // the next write waits for it
}

func (f *faultySegment) Write(b []byte) (int, error) {
	f.mu.Lock()
	n, block := f.writeAfter, f.block
	f.writeAfter, f.block = 0, nil
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	if n > 0 {
		w, _ := f.segmentFile.Write(b[:min(n, len(b))])
		return w, syscall.ENOSPC
	}
	return f.segmentFile.Write(b)
}

func (f *faultySegment) DataSync() error {
	f.mu.Lock()
	fail := f.failSync
	f.failSync = false
	f.mu.Unlock()
	if fail {
		return syscall.EIO
	}
	return f.segmentFile.DataSync()
}

func (f *faultySegment) Truncate(size int64) error {
	if f.failTruncate {
		return syscall.EIO
	}
	return f.segmentFile.Truncate(size)
}

func faulty(t *testing.T, dir string) (*Spool, *faultySegment) {
	t.Helper()
	fs := &faultySegment{}
	s := open(t, dir, Options{openSegment: func(p string) (segmentFile, error) {
		f, err := openSegment(p)
		fs.segmentFile = f
		return fs, err
	}})
	return s, fs
}

// drainAll reads and acks everything pending, without waiting for more.
func drainAll(t *testing.T, s *Spool) []string {
	t.Helper()
	var ids []string
	for s.Stats().Pending > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		e, err := s.Next(ctx)
		cancel()
		if err != nil {
			break
		}
		ids = append(ids, e.Record.UniqueID)
		s.Ack(e.Next)
	}
	return ids
}

func ids(ns ...int) []string {
	var out []string
	for _, n := range ns {
		out = append(out, rec(n).UniqueID)
	}
	return out
}

func TestAFailedWriteIsTakenBackAndReported(t *testing.T) {
	cases := []struct {
		name    string
		breakIt func(*faultySegment)
	}{
		{"the disk fills in the middle of a frame", func(f *faultySegment) { f.writeAfter = 37 }},
		{"the disk fills after the header", func(f *faultySegment) { f.writeAfter = frameHeader }},
		{"fdatasync fails after a whole write", func(f *faultySegment) { f.failSync = true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, f := faulty(t, dir)
			ctx := context.Background()
			if err := s.Append(ctx, rec(0)); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			tc.breakIt(f)
			f.mu.Unlock()
			if err := s.Append(ctx, rec(1)); err == nil {
				t.Fatal("Append reported success for a write that failed")
			}
			for i := 2; i < 5; i++ { // space is back
				if err := s.Append(ctx, rec(i)); err != nil {
					t.Fatal(err)
				}
			}
			want := ids(0, 2, 3, 4)
			if got := drainAll(t, s); !slices.Equal(got, want) {
				t.Errorf("read %v, want %v", got, want)
			}
			s.Close()
			s2 := open(t, dir, Options{})
			if got := drainAll(t, s2); len(got) != 0 || s2.Stats().Dropped != 0 {
				t.Errorf("after a restart: %v, dropped %d", got, s2.Stats().Dropped)
			}
		})
	}
	t.Run("the truncate fails as well", func(t *testing.T) {
		s, f := faulty(t, t.TempDir())
		ctx := context.Background()
		s.Append(ctx, rec(0))
		f.mu.Lock()
		f.writeAfter, f.failTruncate = 37, true
		f.mu.Unlock()
		if err := s.Append(ctx, rec(1)); err == nil {
			t.Fatal("Append reported success for a write that failed")
		}
		f.failTruncate = false
		s.Append(ctx, rec(2))
		if got := drainAll(t, s); !slices.Equal(got, ids(0, 2)) {
			t.Errorf("read %v, want records 0 and 2 around the partial frame", got)
		}
	})
}

func TestAppendNeverFailsForARecordItQueued(t *testing.T) {
	s, f := faulty(t, t.TempDir())
	release := make(chan struct{})
	f.mu.Lock()
	f.block = release
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Append(ctx, rec(0)) }()
	<-ctx.Done()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Errorf("Append = %v for a record the writer had taken and then wrote", err)
	}
	if got := drainAll(t, s); !slices.Equal(got, ids(0)) {
		t.Errorf("read %v", got)
	}
}

// frameStarts returns the offsets of the frames in a segment file.
func frameStarts(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for off := 0; off < len(b); {
		_, n, err := decodeFrame(b[off:])
		if err != nil {
			t.Fatalf("%s: %v at %d", path, err, off)
		}
		out = append(out, off)
		off += n
	}
	return out
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	names, _ := filepath.Glob(filepath.Join(from, "*"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			continue // a directory
		}
		os.WriteFile(filepath.Join(to, filepath.Base(n)), b, 0o640)
	}
	return to
}

// TestEveryBitFlipInAFrameHeaderCostsThatRecordOnly flips, one at a time,
// every bit of the header (magic, length and both checksums) of a frame in
// a sealed segment, in the middle of the active one, and at its end.
func TestEveryBitFlipInAFrameHeaderCostsThatRecordOnly(t *testing.T) {
	pristine := t.TempDir()
	s := open(t, pristine, Options{SegmentBytes: 600})
	for i := range 10 {
		if err := s.Append(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(pristine, "*.log"))
	if len(segs) < 2 {
		t.Fatalf("want a sealed and an active segment, got %d", len(segs))
	}
	// Record numbers by segment, in order.
	var where []struct {
		seg string
		off int
	}
	for _, seg := range segs {
		for _, off := range frameStarts(t, seg) {
			where = append(where, struct {
				seg string
				off int
			}{filepath.Base(seg), off})
		}
	}
	last := len(where) - 1
	activeFirst := slices.IndexFunc(where, func(w struct {
		seg string
		off int
	}) bool {
		return w.seg == filepath.Base(segs[len(segs)-1])
	})
	for _, k := range []int{1, activeFirst + 1, last} {
		for bit := range frameHeader * 8 {
			dir := copyDir(t, pristine)
			path := filepath.Join(dir, where[k].seg)
			b, _ := os.ReadFile(path)
			b[where[k].off+bit/8] ^= 1 << (bit % 8)
			os.WriteFile(path, b, 0o640)
			s := open(t, dir, Options{SegmentBytes: 600})
			got := drainAll(t, s)
			var want []string
			for i := range 10 {
				if i != k {
					want = append(want, rec(i).UniqueID)
				}
			}
			dropped := s.Stats().Dropped
			s.Close()
			if !slices.Equal(got, want) || dropped != 1 {
				t.Fatalf("record %d (%s at %d), bit %d: read %d records %v, dropped %d; want every other record and 1 dropped",
					k, where[k].seg, where[k].off, bit, len(got), got, dropped)
			}
		}
	}
}

func TestADamagedLengthInTheActiveSegmentIsNotTakenForATornTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	for i := range 10 {
		s.Append(context.Background(), rec(i))
	}
	s.Close()
	seg := filepath.Join(dir, "0000000000000001.log")
	starts := frameStarts(t, seg)
	b, _ := os.ReadFile(seg)
	b[starts[2]+5] = 0xff // a length of ~16 MB
	os.WriteFile(seg, b, 0o640)
	var logs bytes.Buffer
	s2 := open(t, dir, Options{Logger: quietTo(&logs)})
	got := drainAll(t, s2)
	if !slices.Equal(got, ids(0, 1, 3, 4, 5, 6, 7, 8, 9)) || s2.Stats().Dropped != 1 {
		t.Errorf("read %v, dropped %d; want all but record 2, and 1 dropped", got, s2.Stats().Dropped)
	}
	if !bytes.Contains(logs.Bytes(), []byte("1 record(s)")) || bytes.Contains(logs.Bytes(), []byte("cut short")) {
		t.Errorf("logs:\n%s", logs.String())
	}
	if st, _ := os.Stat(seg); st.Size() != int64(len(b)) {
		t.Errorf("the segment was truncated from %d to %d bytes", len(b), st.Size())
	}
}

func quietTo(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
