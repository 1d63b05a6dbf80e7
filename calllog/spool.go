package calllog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Spool layout: segment files "<16-digit number>.log" holding frames (see
// frame.go), and a "cursor" file naming the first record not yet delivered.

// Options tune a spool; the zero value is fine.
type Options struct {
	MaxBytes     int64 // default 256 MiB; past it the oldest records go
	SegmentBytes int64 // default 1 MiB; the unit in which old records are dropped
	Logger       *slog.Logger

	// openSegment opens the active segment for appending; tests put in
	// one that fails part-way.
	openSegment func(path string) (segmentFile, error)
}

// segmentFile is what the writer needs of the active segment.
type segmentFile interface {
	Write(b []byte) (int, error)
	DataSync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
}

// osSegment is a segment file on disk.
type osSegment struct{ *os.File }

func (f osSegment) DataSync() error { return syncData(f.File) }

func openSegment(path string) (segmentFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return osSegment{f}, nil
}

// ErrClosed is returned by a closed spool.
var ErrClosed = errors.New("calllog: spool closed")

// Pos is a record's place in the spool.
type Pos struct {
	Segment int64 `json:"segment"`
	Offset  int64 `json:"offset"`
}

// Entry is a record read from the spool, and where the next one starts.
type Entry struct {
	Record Record
	Next   Pos
	// Skipped marks a damaged stretch read ahead of the cursor: nothing to
	// deliver, only Next to acknowledge in its turn.
	Skipped bool
}

// Spool is a durable FIFO of records on disk.
type Spool struct {
	dir      string
	maxBytes int64
	segBytes int64
	log      *slog.Logger

	reqs    chan appendReq
	done    chan struct{}
	closeMu sync.RWMutex
	closed  bool

	mu       sync.Mutex
	segs     []int64 // segment numbers on disk, ascending
	sizes    map[int64]int64
	cursor   Pos
	open     func(path string) (segmentFile, error)
	active   segmentFile
	activeN  int64
	notify   chan struct{} // closed and replaced after each durable append
	dropped  atomic.Int64
	appended atomic.Int64
	full     bool
}

type appendReq struct {
	b    []byte
	done chan error
}

// Stats counts what the spool did since it was opened.
type Stats struct {
	Pending  int64 // bytes not yet delivered
	Appended int64
	Dropped  int64 // oldest records dropped because the spool was full
}

// OpenSpool opens or creates the spool in dir. A frame cut short by a
// crash at the end of the last segment is dropped with one log line;
// damaged frames elsewhere are left for Next to skip and count.
func OpenSpool(dir string, o Options) (*Spool, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	maxBytes := o.MaxBytes
	if maxBytes <= 0 {
		maxBytes = 256 << 20
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 1 << 20
	}
	if o.openSegment == nil {
		o.openSegment = openSegment
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("calllog: spool directory: %w", err)
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, segBytes: o.SegmentBytes, log: log, sizes: map[int64]int64{},
		open: o.openSegment,
		reqs: make(chan appendReq, 256), done: make(chan struct{}), notify: make(chan struct{})}
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		num, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(n), ".log"), 10, 64)
		if err != nil {
			continue
		}
		st, err := os.Stat(n)
		if err != nil {
			return nil, err
		}
		s.segs = append(s.segs, num)
		s.sizes[num] = st.Size()
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i] < s.segs[j] })
	if b, err := os.ReadFile(filepath.Join(dir, "cursor")); err == nil {
		if json.Unmarshal(b, &s.cursor) != nil {
			log.Warn("calllog: the spool cursor is unreadable; delivering from the oldest record (Odoo posts are checked, so none is duplicated)")
			s.cursor = Pos{}
		}
	}
	if len(s.segs) == 0 {
		s.segs = []int64{1}
		s.sizes[1] = 0
	}
	if i := s.segIndex(s.cursor.Segment); i < 0 {
		// Its segment was delivered and removed: go on with the next one.
		next := s.segs[0]
		for _, n := range s.segs {
			if n > s.cursor.Segment {
				next = n
				break
			}
		}
		s.cursor = Pos{Segment: next}
	}
	s.activeN = s.segs[len(s.segs)-1]
	if err := s.repairTail(); err != nil {
		return nil, err
	}
	s.active, err = s.open(s.path(s.activeN))
	if err != nil {
		return nil, fmt.Errorf("calllog: spool: %w", err)
	}
	go s.writer()
	return s, nil
}

func (s *Spool) path(n int64) string { return filepath.Join(s.dir, fmt.Sprintf("%016d.log", n)) }

func (s *Spool) segIndex(n int64) int {
	for i, x := range s.segs {
		if x == n {
			return i
		}
	}
	return -1
}

// repairTail truncates the active segment after its last good frame, but
// only when nothing good follows: a damaged frame with good frames behind
// it is corruption, which Next skips and counts, never a torn write.
func (s *Spool) repairTail() error {
	path := s.path(s.activeN)
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("calllog: spool: %w", err)
	}
	off := 0
	for off < len(b) {
		_, n, err := decodeFrame(b[off:])
		if err == nil {
			off += n
			continue
		}
		skip, lost, more := skipDamaged(b[off:], n)
		if more {
			off += skip // corruption in the middle: Next skips it
			continue
		}
		s.log.Warn("calllog: dropped the end of the spool, cut short by a crash while it was written, or damaged",
			"file", path, "offset", off, "skipped", describeSkip(len(b)-off, lost))
		s.dropped.Add(int64(lost))
		if err := os.Truncate(path, int64(off)); err != nil {
			return fmt.Errorf("calllog: spool: %w", err)
		}
		s.sizes[s.activeN] = int64(off)
		return nil
	}
	return nil
}

// Append writes r and makes it durable before returning. Concurrent
// appends share one fsync. ctx bounds only the wait for the writer to take
// the record: once taken, Append waits for the write, so that it never
// reports a failure for a record that will be delivered.
func (s *Spool) Append(ctx context.Context, r Record) error {
	payload, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if len(payload) > maxRecord {
		return fmt.Errorf("calllog: a %d-byte record is too large", len(payload))
	}
	req := appendReq{b: encodeFrame(payload), done: make(chan error, 1)}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- req:
		s.closeMu.RUnlock()
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	return <-req.done
}

// writer is the only goroutine that writes segments: it takes every
// waiting append, writes them, and syncs once (group commit).
func (s *Spool) writer() {
	defer close(s.done)
	for req := range s.reqs {
		batch := []appendReq{req}
	drain:
		for len(batch) < 512 {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := s.write(batch)
		for _, r := range batch {
			r.done <- err
		}
	}
	s.active.Close()
}

func (s *Spool) write(batch []appendReq) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sizes[s.activeN] >= s.segBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	var buf []byte
	for _, r := range batch {
		buf = append(buf, r.b...)
	}
	_, err := s.active.Write(buf)
	if err == nil {
		err = s.active.DataSync()
	}
	if err != nil {
		s.takeBack()
		return fmt.Errorf("calllog: spool write: %w", err)
	}
	s.sizes[s.activeN] += int64(len(buf))
	s.appended.Add(int64(len(batch)))
	s.enforceLimit()
	close(s.notify)
	s.notify = make(chan struct{})
	return nil
}

// takeBack truncates the active segment to its last durable frame after a
// failed write or fsync (a full disk), so that the next frame starts where
// the accounting says. Should that fail too, the accounting takes the file
// as it is, and Next skips the partial frames as damage. It runs under s.mu.
func (s *Spool) takeBack() {
	good := s.sizes[s.activeN]
	if err := s.active.Truncate(good); err == nil {
		return
	}
	if st, err := s.active.Stat(); err == nil && st.Size() > good {
		s.sizes[s.activeN] = st.Size()
	}
}

// rotate starts a new segment. It runs under s.mu.
func (s *Spool) rotate() error {
	n := s.activeN + 1
	f, err := s.open(s.path(n))
	if err != nil {
		return fmt.Errorf("calllog: spool: %w", err)
	}
	s.active.Close()
	s.active, s.activeN = f, n
	s.segs = append(s.segs, n)
	s.sizes[n] = 0
	syncDir(s.dir)
	return nil
}

// enforceLimit drops the oldest segments while the spool is over its
// limit, as a last resort. It runs under s.mu.
func (s *Spool) enforceLimit() {
	total := int64(0)
	for _, n := range s.segs {
		total += s.sizes[n]
	}
	for total > s.maxBytes && len(s.segs) > 1 {
		old := s.segs[0]
		lost := countFrames(s.path(old), 0)
		if old == s.cursor.Segment {
			lost = countFrames(s.path(old), s.cursor.Offset)
		}
		if old < s.cursor.Segment {
			lost = 0 // already delivered
		}
		os.Remove(s.path(old))
		total -= s.sizes[old]
		delete(s.sizes, old)
		s.segs = s.segs[1:]
		if s.cursor.Segment <= old {
			s.cursor = Pos{Segment: s.segs[0]}
			s.saveCursor()
		}
		s.dropped.Add(int64(lost))
		if !s.full {
			s.log.Error("calllog: the spool is full; dropping the oldest undelivered calls (is Odoo unreachable? raise [calllog] max_spool_mb)",
				"limit_mb", s.maxBytes>>20, "dropped", lost)
		}
		s.full = true
	}
	if total <= s.maxBytes/2 {
		s.full = false // log again only after the backlog halved
	}
}

// countFrames counts the records in a segment from offset from, damaged
// ones included.
func countFrames(path string, from int64) int {
	b, err := os.ReadFile(path)
	if err != nil || from >= int64(len(b)) {
		return 0
	}
	b = b[from:]
	n := 0
	for len(b) > 0 {
		_, size, err := decodeFrame(b)
		if err != nil {
			skip, lost, _ := skipDamaged(b, size)
			size, n = skip, n+lost-1
		}
		n++
		b = b[size:]
	}
	return n
}

// saveCursor writes the cursor atomically. It runs under s.mu.
func (s *Spool) saveCursor() error {
	b, _ := json.Marshal(s.cursor)
	tmp := filepath.Join(s.dir, "cursor.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	f.Close()
	if err := os.Rename(tmp, filepath.Join(s.dir, "cursor")); err != nil {
		return err
	}
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Stats reports the backlog and counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := int64(0)
	for _, n := range s.segs {
		switch {
		case n == s.cursor.Segment:
			pending += s.sizes[n] - s.cursor.Offset
		case n > s.cursor.Segment:
			pending += s.sizes[n]
		}
	}
	return Stats{Pending: pending, Appended: s.appended.Load(), Dropped: s.dropped.Load()}
}

// Close stops the writer after the appends already queued.
func (s *Spool) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.closeMu.Unlock()
	<-s.done
	return nil
}
