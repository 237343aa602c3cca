package format

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Frame-level layout of a segment (SPEC.md §2). A segment is a sequence of
// zstd frames (RFC 8878 §3.1): one skippable header frame, data frames that
// each hold whole NDJSON lines and a content checksum, and — once sealed —
// one skippable footer frame.
const (
	zstdMagic       = 0xFD2FB528
	skippableMask   = 0xFFFFFFF0
	skippableMagic  = 0x184D2A50
	headerMagic     = skippableMagic + 0 // payload: HeaderInfo JSON
	footerMagic     = skippableMagic + 1 // payload: FooterInfo JSON
	maxBlockSize    = 128 << 10          // RFC 8878 §3.1.1.2.3
	maxSkippableLen = 1 << 20            // our header/footer are < 1 KiB; anything larger is damage
)

// MaxFrameContent bounds the decoded size of one data frame. A writer ends
// frames at WriterOptions.MaxFrameBytes, but one huge record makes one frame;
// this limit is far above any capture cap and stops a damaged or hostile
// frame header from asking for unbounded memory.
const MaxFrameContent = 1 << 30

type frameKind int

const (
	frameData frameKind = iota
	frameHeader
	frameFooter
	frameSkippable // a skippable frame of some other writer: ignored
)

// frameSpan describes a frame found at a file offset.
type frameSpan struct {
	kind     frameKind
	off      int64
	size     int64 // total bytes of the frame on disk
	payload  []byte
	checksum bool // data frames: content checksum present
}

var errNeedMore = errors.New("frame extends past end of file")

// parseFrame reads the frame that starts at the beginning of b (taken from
// file offset off). It walks the frame's block headers to find where the
// frame ends without decompressing it. errNeedMore means b ends inside the
// frame: either more bytes must be read or, at end of file, the frame is
// torn.
func parseFrame(b []byte, off int64) (frameSpan, error) {
	if len(b) < 4 {
		return frameSpan{}, errNeedMore
	}
	magic := binary.LittleEndian.Uint32(b)
	if magic&skippableMask == skippableMagic {
		if len(b) < 8 {
			return frameSpan{}, errNeedMore
		}
		n := int64(binary.LittleEndian.Uint32(b[4:]))
		kind := frameSkippable
		switch magic {
		case headerMagic:
			kind = frameHeader
		case footerMagic:
			kind = frameFooter
		}
		if kind != frameSkippable && n > maxSkippableLen {
			return frameSpan{}, fmt.Errorf("skippable frame claims %d bytes", n)
		}
		if int64(len(b)) < 8+n {
			return frameSpan{}, errNeedMore
		}
		return frameSpan{kind: kind, off: off, size: 8 + n, payload: b[8 : 8+n]}, nil
	}
	if magic != zstdMagic {
		return frameSpan{}, fmt.Errorf("no zstd frame magic (found %#08x)", magic)
	}
	if len(b) < 5 {
		return frameSpan{}, errNeedMore
	}
	fhd := b[4]
	if fhd&0x08 != 0 {
		return frameSpan{}, errors.New("zstd frame header: reserved bit set")
	}
	singleSegment := fhd&0x20 != 0
	checksum := fhd&0x04 != 0
	pos := 5
	if !singleSegment {
		pos++ // Window_Descriptor
	}
	pos += [4]int{0, 1, 2, 4}[fhd&0x03] // Dictionary_ID
	fcs := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcs == 0 && singleSegment {
		fcs = 1
	}
	pos += fcs
	for {
		if len(b) < pos+3 {
			return frameSpan{}, errNeedMore
		}
		bh := uint32(b[pos]) | uint32(b[pos+1])<<8 | uint32(b[pos+2])<<16
		pos += 3
		last := bh&1 != 0
		size := int(bh >> 3)
		switch (bh >> 1) & 3 {
		case 0, 2: // raw, compressed
			if size > maxBlockSize {
				return frameSpan{}, fmt.Errorf("zstd block of %d bytes exceeds %d", size, maxBlockSize)
			}
			pos += size
		case 1: // RLE: one byte repeated size times
			pos++
		default:
			return frameSpan{}, errors.New("zstd block type reserved")
		}
		if last {
			break
		}
	}
	if checksum {
		pos += 4
	}
	if len(b) < pos {
		return frameSpan{}, errNeedMore
	}
	return frameSpan{kind: frameData, off: off, size: int64(pos), payload: b[:pos], checksum: checksum}, nil
}

// skippableFrame encodes payload as a skippable frame with the given magic.
func skippableFrame(magic uint32, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.LittleEndian.PutUint32(b, magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}
