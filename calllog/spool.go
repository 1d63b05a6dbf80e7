package calllog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Spool layout: segment files "<16-digit number>.log" holding framed
// records — a 4-byte big-endian length, a 4-byte CRC-32C of the payload,
// then the JSON payload — and a "cursor" file naming the first record not
// yet delivered.
const (
	frameHeader    = 8
	maxRecordBytes = 64 << 10
)

// Options tune a spool; the zero value is fine.
type Options struct {
	MaxBytes     int64 // default 256 MiB; past it the oldest records go
	SegmentBytes int64 // default 1 MiB; the unit in which old records are dropped
	Logger       *slog.Logger
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by a closed spool.
var ErrClosed = errors.New("calllog: spool closed")

var errBadChecksum = errors.New("a checksum mismatch")

// Pos is a record's place in the spool.
type Pos struct {
	Segment int64 `json:"segment"`
	Offset  int64 `json:"offset"`
}

// Entry is a record read from the spool, and where the next one starts.
type Entry struct {
	Record Record
	Next   Pos
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
	active   *os.File
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

// OpenSpool opens or creates the spool in dir. A record cut short by a
// crash at the end of the last segment is dropped with one log line.
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
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("calllog: spool directory: %w", err)
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, segBytes: o.SegmentBytes, log: log, sizes: map[int64]int64{},
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
	s.active, err = os.OpenFile(s.path(s.activeN), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
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

// repairTail truncates the active segment after its last whole record.
func (s *Spool) repairTail() error {
	f, err := os.OpenFile(s.path(s.activeN), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return fmt.Errorf("calllog: spool: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	var off int64
	for {
		_, n, err := readFrame(f, off)
		if err == io.EOF {
			return nil
		}
		// A bad record with more after it is corruption, which Next skips;
		// one that runs to the end of the file is a write cut short.
		if errors.Is(err, errBadChecksum) && off+n < st.Size() {
			return nil
		}
		if err != nil {
			s.log.Warn("calllog: dropped a record cut short at the end of the spool (a crash while writing it)", "file", s.path(s.activeN), "offset", off, "err", err)
			if err := f.Truncate(off); err != nil {
				return err
			}
			s.sizes[s.activeN] = off
			return f.Sync()
		}
		off += n
	}
}

// readFrame reads the record at off; it returns the payload and the frame size.
func readFrame(r io.ReaderAt, off int64) ([]byte, int64, error) {
	var h [frameHeader]byte
	n, err := r.ReadAt(h[:], off)
	if n == 0 && err == io.EOF {
		return nil, 0, io.EOF
	}
	if n < frameHeader {
		return nil, 0, fmt.Errorf("a %d-byte frame header", n)
	}
	size := binary.BigEndian.Uint32(h[:4])
	if size == 0 || size > maxRecordBytes {
		return nil, 0, fmt.Errorf("a frame of %d bytes", size)
	}
	b := make([]byte, size)
	if n, _ := r.ReadAt(b, off+frameHeader); n < int(size) {
		return nil, 0, fmt.Errorf("a record cut at %d of %d bytes", n, size)
	}
	if crc32.Checksum(b, castagnoli) != binary.BigEndian.Uint32(h[4:]) {
		return nil, frameHeader + int64(size), errBadChecksum
	}
	return b, frameHeader + int64(size), nil
}

// Append writes r and makes it durable before returning. Concurrent
// appends share one fsync.
func (s *Spool) Append(ctx context.Context, r Record) error {
	payload, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if len(payload) > maxRecordBytes {
		return fmt.Errorf("calllog: a %d-byte record is too large", len(payload))
	}
	b := make([]byte, frameHeader+len(payload))
	binary.BigEndian.PutUint32(b[:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(payload, castagnoli))
	copy(b[frameHeader:], payload)
	req := appendReq{b: b, done: make(chan error, 1)}
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
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
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
	if _, err := s.active.Write(buf); err != nil {
		return fmt.Errorf("calllog: spool write: %w", err)
	}
	if err := syncData(s.active); err != nil {
		return fmt.Errorf("calllog: spool fsync: %w", err)
	}
	s.sizes[s.activeN] += int64(len(buf))
	s.appended.Add(int64(len(batch)))
	s.enforceLimit()
	close(s.notify)
	s.notify = make(chan struct{})
	return nil
}

// rotate starts a new segment. It runs under s.mu.
func (s *Spool) rotate() error {
	n := s.activeN + 1
	f, err := os.OpenFile(s.path(n), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
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

func countFrames(path string, from int64) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for off := from; ; n++ {
		_, size, err := readFrame(f, off)
		if err != nil {
			return n
		}
		off += size
	}
}

// Next returns the first undelivered record, waiting until there is one
// or ctx ends. A corrupt record is skipped with a log line.
func (s *Spool) Next(ctx context.Context) (Entry, error) {
	for {
		s.mu.Lock()
		pos, notify := s.cursor, s.notify
		size, last := s.sizes[pos.Segment], pos.Segment == s.activeN
		next := int64(0)
		if i := s.segIndex(pos.Segment); i >= 0 && i+1 < len(s.segs) {
			next = s.segs[i+1]
		}
		s.mu.Unlock()
		if pos.Offset < size {
			e, err := s.readAt(pos, size)
			if err == nil {
				return e, nil
			}
			s.log.Error("calllog: skipping a corrupt spool record", "segment", pos.Segment, "offset", pos.Offset, "err", err)
			s.dropped.Add(1)
			skip := Pos{Segment: pos.Segment, Offset: size} // the frame size is unknown: the rest of the segment
			if e.Next.Offset > pos.Offset {
				skip = e.Next
			}
			s.Ack(skip)
			continue
		}
		if !last && next != 0 {
			s.Ack(Pos{Segment: next})
			continue
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return Entry{}, ctx.Err()
		}
	}
}

func (s *Spool) readAt(pos Pos, size int64) (Entry, error) {
	f, err := os.Open(s.path(pos.Segment))
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	b, n, err := readFrame(io.NewSectionReader(f, 0, size), pos.Offset)
	var e Entry
	if n > 0 {
		e.Next = Pos{Segment: pos.Segment, Offset: pos.Offset + n}
	}
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(b, &e.Record); err != nil {
		return e, err
	}
	return e, nil
}

// Ack marks everything before next as delivered, durably, and removes
// segments that are fully delivered.
func (s *Spool) Ack(next Pos) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if next.Segment < s.cursor.Segment || next.Segment == s.cursor.Segment && next.Offset <= s.cursor.Offset {
		return nil
	}
	s.cursor = next
	for len(s.segs) > 1 && s.segs[0] < next.Segment {
		os.Remove(s.path(s.segs[0]))
		delete(s.sizes, s.segs[0])
		s.segs = s.segs[1:]
	}
	return s.saveCursor()
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
