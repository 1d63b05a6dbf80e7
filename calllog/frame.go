package calllog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// A frame is one record on disk:
//
//	0  magic "\xffOAG"  (0xff never occurs in UTF-8, so never in a payload)
//	4  payload length, big-endian uint32
//	8  CRC-32C of the payload
//	12 CRC-32C of bytes 0–11
//	16 the JSON payload
//
// The header checksum lets a reader trust a length before using it, and the
// magic lets it find the next good frame after a damaged one: one bad byte
// costs one record, never the rest of a segment.
//
// Spools written before this format hold legacy frames: length, payload
// CRC, payload. They are still read; new frames are always the above.
const (
	frameHeader  = 16
	legacyHeader = 8
	maxRecord    = 64 << 10
)

var (
	frameMagic = []byte("\xffOAG")
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// Frame read errors.
var (
	errTorn    = errors.New("a frame cut short") // its header is good, its payload runs past the end
	errCorrupt = errors.New("a damaged frame")
)

// encodeFrame frames payload.
func encodeFrame(payload []byte) []byte {
	b := make([]byte, frameHeader+len(payload))
	copy(b, frameMagic)
	binary.BigEndian.PutUint32(b[4:8], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[8:12], crc32.Checksum(payload, castagnoli))
	binary.BigEndian.PutUint32(b[12:16], crc32.Checksum(b[:12], castagnoli))
	copy(b[frameHeader:], payload)
	return b
}

// decodeFrame reads the frame at the start of b. It returns the payload and
// the frame's size, or errTorn (b ends inside a frame whose header is good,
// or inside a header), or errCorrupt.
func decodeFrame(b []byte) ([]byte, int, error) {
	if len(b) > 0 && b[0] != frameMagic[0] {
		return decodeLegacy(b)
	}
	if len(b) < frameHeader {
		if bytes.HasPrefix(frameMagic, b[:min(len(b), len(frameMagic))]) {
			return nil, 0, errTorn
		}
		return nil, 0, errCorrupt
	}
	if !bytes.Equal(b[:4], frameMagic) || crc32.Checksum(b[:12], castagnoli) != binary.BigEndian.Uint32(b[12:16]) {
		return nil, 0, errCorrupt
	}
	size := int(binary.BigEndian.Uint32(b[4:8]))
	if size == 0 || size > maxRecord {
		return nil, 0, errCorrupt
	}
	if len(b) < frameHeader+size {
		return nil, 0, errTorn
	}
	payload := b[frameHeader : frameHeader+size]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[8:12]) {
		// The header is good, so the length is: skip exactly this frame.
		return nil, frameHeader + size, errCorrupt
	}
	return payload, frameHeader + size, nil
}

// decodeLegacy reads a frame of the earlier format (length, CRC, payload).
func decodeLegacy(b []byte) ([]byte, int, error) {
	if len(b) < legacyHeader {
		return nil, 0, errCorrupt
	}
	size := int(binary.BigEndian.Uint32(b[:4]))
	if size == 0 || size > maxRecord || len(b) < legacyHeader+size {
		return nil, 0, errCorrupt
	}
	payload := b[legacyHeader : legacyHeader+size]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[4:8]) {
		return nil, 0, errCorrupt
	}
	return payload, legacyHeader + size, nil
}

// resync finds the first whole, good frame in b after offset 0. It returns
// its offset, or -1 when there is none.
func resync(b []byte) int {
	for i := 1; i < len(b); {
		j := bytes.IndexByte(b[i:], frameMagic[0])
		if j < 0 {
			return -1
		}
		i += j
		if _, _, err := decodeFrame(b[i:]); err == nil {
			return i
		}
		i++
	}
	return -1
}

// lostIn counts the records in a damaged stretch: the frame starts in it,
// and at least one.
func lostIn(b []byte) int {
	return max(1, bytes.Count(b, frameMagic))
}

// skipDamaged decides what to skip at the start of b, a damaged frame:
// up to the next good frame, or all of b. It returns the bytes to skip,
// the records lost in them, and whether a good frame follows.
func skipDamaged(b []byte, knownSize int) (skip, lost int, more bool) {
	next := resync(b)
	if knownSize > 0 && knownSize <= len(b) && (next < 0 || next >= knownSize) {
		// The header is good and no good frame starts inside the extent it
		// claims: exactly this frame. (A frame cut short by a failed write
		// has a good header too, and the next frame starts inside it.)
		return knownSize, 1, knownSize < len(b)
	}
	if next > 0 {
		return next, lostIn(b[:next]), true
	}
	return len(b), lostIn(b), false
}

func describeSkip(skip, lost int) string {
	return fmt.Sprintf("%d bytes, %d record(s)", skip, lost)
}
