package format

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// layout describes a sealed test segment: its bytes, the span of every
// frame, and for every record the span of the frame that holds it.
type layout struct {
	data      []byte
	spans     []frameSpan
	ids       []string // the records, in order
	recFrame  []frameSpan
	footerOff int64
}

func segmentLayout(t *testing.T, path string) layout {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := layout{data: data}
	for off := int64(0); off < int64(len(data)); {
		s, err := parseFrame(data[off:], off)
		if err != nil {
			t.Fatalf("clean segment does not parse at %d: %v", off, err)
		}
		l.spans = append(l.spans, s)
		if s.kind == frameFooter {
			l.footerOff = off
		}
		off += s.size
	}
	r := NewReader(bytes.NewReader(data), int64(len(data)), path)
	for r.Next() {
		l.ids = append(l.ids, string(r.Record()))
		i := slices.IndexFunc(l.spans, func(s frameSpan) bool { return s.off == r.Offset() })
		l.recFrame = append(l.recFrame, l.spans[i])
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	return l
}

// readBytes reads data as a segment and returns the records it yields.
// Tests compare them byte for byte with the records written, which proves
// that no partial or altered record is ever yielded.
func readBytes(t *testing.T, data []byte) ([]string, *Reader) {
	t.Helper()
	r := NewReader(bytes.NewReader(data), int64(len(data)), "seg")
	var recs []string
	for r.Next() {
		recs = append(recs, string(r.Record()))
	}
	return recs, r
}

func newLayout(t *testing.T) layout {
	// 120 records, 4 per frame: ~30 frames of a few hundred bytes each, so
	// the last 4 KiB cross many frame boundaries.
	return segmentLayout(t, writeSegment(t, t.TempDir(), testExchanges(120, 7), 4))
}

func TestTornTailAtEveryOffset(t *testing.T) {
	l := newLayout(t)
	size := int64(len(l.data))
	check := func(cut int64) {
		var want []string
		for i, s := range l.recFrame {
			if s.off+s.size <= cut {
				want = append(want, l.ids[i])
			}
		}
		got, r := readBytes(t, l.data[:cut])
		if !slices.Equal(got, want) {
			t.Fatalf("cut at %d: got %d records, want %d", cut, len(got), len(want))
		}
		onBoundary := slices.ContainsFunc(l.spans, func(s frameSpan) bool { return s.off+s.size == cut })
		var ce *CorruptionError
		switch {
		case onBoundary && r.Err() != nil:
			t.Fatalf("cut at frame boundary %d reported damage: %v", cut, r.Err())
		case !onBoundary && (!errors.As(r.Err(), &ce) || ce.Offset > cut || ce.File != "seg"):
			t.Fatalf("cut at %d: want a CorruptionError at or before the cut, got %v", cut, r.Err())
		}
	}
	start := max(0, size-4096)
	for cut := start; cut < size; cut++ {
		check(cut)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		check(rng.Int64N(start + 1))
	}
}

func TestCorruption(t *testing.T) {
	l := newLayout(t)
	mid := l.recFrame[len(l.recFrame)/2] // a data frame in the middle
	for _, tc := range []struct {
		name string
		mut  func([]byte) []byte
		// lost reports whether the record in frame s is lost.
		lost func(s frameSpan) bool
		// damageAt is the offset the first CorruptionError must name.
		damageAt int64
	}{
		{
			name:     "bad_checksum",
			mut:      func(b []byte) []byte { b[mid.off+mid.size-1] ^= 0x40; return b },
			lost:     func(s frameSpan) bool { return s.off == mid.off },
			damageAt: mid.off,
		},
		{
			name:     "garbage_between_frames",
			mut:      func(b []byte) []byte { return slices.Insert(b, int(mid.off), bytes.Repeat([]byte{0xAB}, 77)...) },
			lost:     func(frameSpan) bool { return false },
			damageAt: mid.off,
		},
		{
			name:     "zeroed_block",
			mut:      func(b []byte) []byte { clear(b[mid.off+10 : mid.off+40]); return b },
			lost:     func(s frameSpan) bool { return s.off == mid.off },
			damageAt: mid.off,
		},
		{
			name:     "bytes_after_footer",
			mut:      func(b []byte) []byte { return append(b, "junk"...) },
			lost:     func(frameSpan) bool { return false },
			damageAt: int64(len(l.data)),
		},
		{
			name:     "damaged_footer",
			mut:      func(b []byte) []byte { b[len(b)-3] ^= 0xff; return b },
			lost:     func(frameSpan) bool { return false },
			damageAt: l.footerOff,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.mut(bytes.Clone(l.data))
			var want []string
			for i, s := range l.recFrame {
				if !tc.lost(s) {
					want = append(want, l.ids[i])
				}
			}
			got, r := readBytes(t, data)
			if !slices.Equal(got, want) {
				t.Fatalf("got %d records, want %d", len(got), len(want))
			}
			var ce *CorruptionError
			if !errors.As(r.Err(), &ce) || ce.Offset != tc.damageAt {
				t.Fatalf("want CorruptionError at %d, got %v", tc.damageAt, r.Err())
			}
		})
	}
}

// TestFlipEveryByteOfAFrame: whatever byte of a middle frame is flipped,
// exactly that frame's records are lost, and never a partial record leaks.
func TestFlipEveryByteOfAFrame(t *testing.T) {
	l := newLayout(t)
	mid := l.recFrame[len(l.recFrame)/2]
	var want []string
	for i, s := range l.recFrame {
		if s.off != mid.off {
			want = append(want, l.ids[i])
		}
	}
	for off := mid.off; off < mid.off+mid.size; off++ {
		for _, bit := range []byte{0x01, 0x80} {
			data := bytes.Clone(l.data)
			data[off] ^= bit
			got, r := readBytes(t, data)
			var ce *CorruptionError
			if !errors.As(r.Err(), &ce) {
				t.Fatalf("flip %#x at %d went unreported", bit, off)
			}
			switch {
			case slices.Equal(got, want) && ce.Offset == mid.off:
				// The usual case: the frame fails its checks and is skipped.
			case slices.Equal(got, l.ids) && ce.Offset == l.footerOff:
				// A flip in a frame parameter the content does not depend
				// on (e.g. the window size): the content checksum still
				// verifies, so the records are genuine, and the whole-file
				// checksum in the footer reports the change.
			default:
				t.Fatalf("flip %#x at %d: got %d records, damage %v", bit, off, len(got), r.Err())
			}
		}
	}
}

func TestReadFooterOfUnsealedFile(t *testing.T) {
	l := newLayout(t)
	p := filepath.Join(t.TempDir(), "x"+OpenSuffix)
	os.WriteFile(p, l.data[:l.footerOff], 0o600)
	var ce *CorruptionError
	if _, err := ReadFooter(p); !errors.As(err, &ce) || !errors.Is(err, errNoFooter) {
		t.Fatalf("ReadFooter of a file without footer = %v", err)
	}
}

// TestDecodeInto: with DecodeInto, every frame is decoded into the buffer
// given for it, and every record slice still holds its record after the
// reader has moved on through all the other frames.
func TestDecodeInto(t *testing.T) {
	l := newLayout(t)
	r := NewReader(bytes.NewReader(l.data), int64(len(l.data)), "seg")
	var given [][]byte
	r.DecodeInto(func() []byte {
		if len(given)%2 == 1 {
			given = append(given, nil) // none: the reader allocates
			return nil
		}
		given = append(given, make([]byte, 0, 1<<20))
		return given[len(given)-1][:7] // handed with a length: decoded from 0
	})
	var kept [][]byte
	for r.Next() {
		kept = append(kept, r.Record())
		if b := given[len(given)-1]; b != nil && &r.Frame()[0] != &b[:1][0] {
			t.Fatalf("frame %d was not decoded into the buffer given for it", len(given))
		}
		if !bytes.Contains(r.Frame(), r.Record()) {
			t.Fatal("Frame does not hold the current record")
		}
	}
	if r.Err() != nil || len(kept) != len(l.ids) || len(l.spans) < 10 {
		t.Fatalf("%d records (want %d) in %d frames, err %v", len(kept), len(l.ids), len(l.spans), r.Err())
	}
	for i, rec := range kept {
		if string(rec) != l.ids[i] {
			t.Fatalf("record %d changed after later frames were read: %.60q", i, rec)
		}
	}
}
