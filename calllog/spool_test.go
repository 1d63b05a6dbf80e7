package calllog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func rec(i int) Record {
	return Record{UniqueID: fmt.Sprintf("1700000000.%d", i), Direction: Incoming, Number: "+3225551234", Status: "NOANSWER"}
}

func open(t *testing.T, dir string, o Options) *Spool {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	s, err := OpenSpool(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// drain reads and acks every record the spool has now.
func drain(t *testing.T, s *Spool) []string {
	t.Helper()
	var ids []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		e, err := s.Next(ctx)
		cancel()
		if err != nil {
			return ids
		}
		ids = append(ids, e.Record.UniqueID)
		if err := s.Ack(e.Next); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSpoolKeepsOrderAcrossSegmentsAndRestarts(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 1024})
	for i := 0; i < 50; i++ {
		if err := s.Append(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Deliver 20, then restart.
	for i := 0; i < 20; i++ {
		e, err := s.Next(context.Background())
		if err != nil || e.Record.UniqueID != rec(i).UniqueID {
			t.Fatalf("record %d: %+v %v", i, e.Record, err)
		}
		s.Ack(e.Next)
	}
	s.Close()
	s2 := open(t, dir, Options{SegmentBytes: 1024})
	ids := drain(t, s2)
	if len(ids) != 30 || ids[0] != rec(20).UniqueID || ids[29] != rec(49).UniqueID {
		t.Errorf("after a restart: %d records, %v", len(ids), ids)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(segs) != 1 {
		t.Errorf("%d segment files remain after everything was delivered, want 1 (the active one)", len(segs))
	}
}

// threeRecords writes records 0, 1 and 2 to a closed spool and returns its
// directory and its one segment file.
func threeRecords(t *testing.T) (dir, seg string) {
	t.Helper()
	dir = t.TempDir()
	s := open(t, dir, Options{})
	for i := 0; i < 3; i++ {
		if err := s.Append(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	return dir, filepath.Join(dir, "0000000000000001.log")
}

func TestATruncatedLastRecordIsDroppedWithOneLogLine(t *testing.T) {
	dir, seg := threeRecords(t)
	st, _ := os.Stat(seg)
	os.Truncate(seg, st.Size()-5)
	var logs bytes.Buffer
	s2 := open(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := s2.Append(context.Background(), rec(3)); err != nil {
		t.Fatal(err)
	}
	ids := drain(t, s2)
	if strings.Join(ids, " ") != strings.Join([]string{rec(0).UniqueID, rec(1).UniqueID, rec(3).UniqueID}, " ") {
		t.Errorf("records %v", ids)
	}
	if n := strings.Count(logs.String(), "cut short"); n != 1 {
		t.Errorf("%d log lines about the cut record:\n%s", n, logs.String())
	}
}

func TestACorruptRecordIsSkippedNotTheOthers(t *testing.T) {
	dir, seg := threeRecords(t)
	b, _ := os.ReadFile(seg)
	i := bytes.Index(b, []byte(rec(1).UniqueID))
	b[i] ^= 0xff // flip a byte inside the second record
	os.WriteFile(seg, b, 0o640)
	s2 := open(t, dir, Options{})
	ids := drain(t, s2)
	if len(ids) != 2 || ids[0] != rec(0).UniqueID || ids[1] != rec(2).UniqueID {
		t.Errorf("records %v, want the first and the third", ids)
	}
	if s2.Stats().Dropped != 1 {
		t.Errorf("dropped = %d, want 1", s2.Stats().Dropped)
	}
}

func TestAFullSpoolDropsTheOldestAndCountsThem(t *testing.T) {
	var logs bytes.Buffer
	s := open(t, t.TempDir(), Options{MaxBytes: 4096, SegmentBytes: 1024, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for i := 0; i < 200; i++ {
		if err := s.Append(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	ids := drain(t, s)
	st := s.Stats()
	if int64(len(ids))+st.Dropped != 200 || st.Dropped == 0 || ids[len(ids)-1] != rec(199).UniqueID {
		t.Errorf("kept %d, dropped %d, last %v", len(ids), st.Dropped, ids[len(ids)-1:])
	}
	if n := strings.Count(logs.String(), "spool is full"); n != 1 {
		t.Errorf("%d 'full' log lines, want 1:\n%s", n, logs.String())
	}
}

func TestConcurrentAppendsAreAllKeptOnce(t *testing.T) {
	s := open(t, t.TempDir(), Options{SegmentBytes: 4096})
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if err := s.Append(context.Background(), rec(g*1000+i)); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	seen := map[string]int{}
	for _, id := range drain(t, s) {
		seen[id]++
	}
	if len(seen) != 500 {
		t.Errorf("%d distinct records, want 500", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s read %d times", id, n)
		}
	}
}

// TestKill9 runs a child that appends as fast as it can and prints each
// record id once Append returned, kills it with SIGKILL, and checks that
// every printed record is in the spool.
func TestKill9AtAnyMomentLosesNothingAcknowledged(t *testing.T) {
	if dir := os.Getenv("CALLLOG_KILL9_DIR"); dir != "" {
		s, err := OpenSpool(dir, Options{SegmentBytes: 8192, Logger: quiet})
		if err != nil {
			os.Exit(3)
		}
		for i := 0; ; i++ {
			if s.Append(context.Background(), rec(i)) == nil {
				fmt.Println(i)
			}
		}
	}
	for round := 0; round < 3; round++ {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9AtAnyMomentLosesNothingAcknowledged$")
		cmd.Env = append(os.Environ(), "CALLLOG_KILL9_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it in full flight: after a number of acknowledged appends
		// that differs each round, so the kill lands at different points.
		var acked []string
		sc := bufio.NewScanner(out)
		target := 50 + round*173
		for sc.Scan() {
			acked = append(acked, sc.Text())
			if len(acked) == target {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		cmd.Wait()
		if len(acked) < target {
			t.Fatalf("the child acknowledged %d appends, then stopped on its own", len(acked))
		}
		s := open(t, dir, Options{SegmentBytes: 8192})
		got := map[string]bool{}
		for _, id := range drain(t, s) {
			got[id] = true
		}
		for _, a := range acked {
			n, _ := strconv.Atoi(a)
			if !got[rec(n).UniqueID] {
				t.Fatalf("round %d: record %d was acknowledged to the caller but is not in the spool (%d acked, %d read)", round, n, len(acked), len(got))
			}
		}
		t.Logf("round %d: %d acknowledged, %d read back", round, len(acked), len(got))
	}
}
