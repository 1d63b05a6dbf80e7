// Reading the spool: the next record, skipping damage, and the cursor
// that marks what was delivered.

package calllog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
)

// Next returns the first undelivered record, waiting until there is one
// or ctx ends. A corrupt record is skipped with a log line.
func (s *Spool) Next(ctx context.Context) (Entry, error) { return s.next(ctx, nil) }

// NextAfter returns the record at from, which a record read earlier gave as
// its Next, without acknowledging anything: a reader may read ahead of
// what is delivered. A damaged stretch comes back as a Skipped entry.
func (s *Spool) NextAfter(ctx context.Context, from Pos) (Entry, error) { return s.next(ctx, &from) }

func (s *Spool) next(ctx context.Context, from *Pos) (Entry, error) {
	for {
		s.mu.Lock()
		pos, notify := s.cursor, s.notify
		if from != nil && (from.Segment > pos.Segment || from.Segment == pos.Segment && from.Offset > pos.Offset) {
			pos = *from
		}
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
			skip, lost, serr := s.damage(pos, size)
			if serr != nil {
				return Entry{}, serr
			}
			s.log.Error("calllog: skipped a damaged stretch of the spool; the calls in it are lost",
				"segment", pos.Segment, "offset", pos.Offset, "skipped", describeSkip(skip, lost), "err", err)
			s.dropped.Add(int64(lost))
			past := Pos{Segment: pos.Segment, Offset: pos.Offset + int64(skip)}
			if from != nil {
				return Entry{Next: past, Skipped: true}, nil
			}
			s.Ack(past)
			continue
		}
		if !last && next != 0 {
			if from != nil {
				from = &Pos{Segment: next}
				continue
			}
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

// readAt reads the record at pos, in a segment of size bytes.
func (s *Spool) readAt(pos Pos, size int64) (Entry, error) {
	f, err := os.Open(s.path(pos.Segment))
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	var h [frameHeader]byte
	hn, _ := f.ReadAt(h[:min(int64(frameHeader), size-pos.Offset)], pos.Offset)
	want := int64(frameHeader)
	if hn >= legacyHeader && h[0] != frameMagic[0] {
		want = legacyHeader + int64(binary.BigEndian.Uint32(h[:4]))
	} else if hn == frameHeader {
		want += int64(binary.BigEndian.Uint32(h[4:8]))
	}
	want = min(want, size-pos.Offset, frameHeader+maxRecord)
	b := make([]byte, want)
	n, _ := f.ReadAt(b, pos.Offset)
	payload, fn, err := decodeFrame(b[:n])
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Next: Pos{Segment: pos.Segment, Offset: pos.Offset + int64(fn)}}
	if err := json.Unmarshal(payload, &e.Record); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return e, nil
}

// damage measures the damaged stretch at pos: the bytes to skip to the next
// good frame (or to size), and the records lost in them.
func (s *Spool) damage(pos Pos, size int64) (skip, lost int, err error) {
	f, err := os.Open(s.path(pos.Segment))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	b := make([]byte, size-pos.Offset)
	n, _ := f.ReadAt(b, pos.Offset)
	b = b[:n]
	_, known, derr := decodeFrame(b)
	if derr == nil {
		// A good frame whose JSON does not read: skip exactly it.
		return known, 1, nil
	}
	skip, lost, _ = skipDamaged(b, known)
	return max(skip, 1), lost, nil
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
