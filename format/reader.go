package format

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// decoder is shared by all readers: zstd.Decoder.DecodeAll is safe for
// concurrent use, and building one per file would dominate small segments.
var decoder = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithDecoderMaxMemory(MaxFrameContent),
		zstd.WithDecoderMaxWindow(MaxFrameContent))
	if err != nil {
		panic(err) // only invalid options fail, and ours are constant
	}
	return d
})

const readWindow = 256 << 10

// Reader streams the records of one segment file.
//
// It verifies every data frame (zstd content checksum) before yielding any
// line from it, so a record it yields is exactly what the writer wrote, and
// it never yields part of a record. Damage — a torn tail, flipped bits,
// garbage — is skipped: the reader resynchronises on the next frame and
// keeps going, so every intact frame after the damage is still read. Each
// damaged region is reported as a *CorruptionError by Err. The reader never
// modifies the file; see Repair.
type Reader struct {
	ra   io.ReaderAt
	size int64
	name string
	file *os.File // owned when opened by Open

	win    []byte // cached file bytes starting at winOff
	winOff int64
	off    int64 // offset of the next frame

	frame    []byte // decoded content of the current data frame
	frameBuf []byte
	next     func() []byte // where each frame is decoded (DecodeInto); nil: frameBuf
	frameOff int64
	pos      int
	rec      []byte

	header  *HeaderInfo
	footer  *FooterInfo
	records int64
	frames  int64
	goodEnd int64 // end of the last data frame read whole

	sum    hash.Hash
	hashed int64

	damage []*CorruptionError
	ioErr  error
}

// NewReader reads the segment held in ra, size bytes long. name is used in
// errors.
func NewReader(ra io.ReaderAt, size int64, name string) *Reader {
	return &Reader{ra: ra, size: size, name: name, sum: sha256.New()}
}

// Open opens a segment file for reading. Close releases it.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r := NewReader(f, st.Size(), path)
	r.file = f
	return r, nil
}

// Close closes the file when the reader was made by Open.
func (r *Reader) Close() error {
	if r.file == nil {
		return nil
	}
	return r.file.Close()
}

// Next advances to the next complete record. It returns false at the end of
// the file or on an I/O error; Err tells which, and reports damage.
func (r *Reader) Next() bool {
	for {
		if r.pos < len(r.frame) {
			i := bytes.IndexByte(r.frame[r.pos:], '\n')
			line := r.frame[r.pos : r.pos+i]
			r.pos += i + 1
			if len(line) == 0 {
				continue
			}
			r.rec = line
			r.records++
			return true
		}
		r.frame, r.pos = nil, 0
		if !r.nextDataFrame() {
			return false
		}
	}
}

// DecodeInto makes the reader decode each data frame into a buffer next
// returns (appending to it; nil or too small, new memory) instead of into
// one buffer it reuses, so that a record stays valid after Next for as long
// as the caller leaves its frame's buffer alone. A caller handing records
// to other goroutines saves copying each of them, and can recycle frame
// buffers (Frame) instead of having every frame allocated and zeroed anew.
func (r *Reader) DecodeInto(next func() []byte) { r.next = next }

// Frame returns the decoded data frame that holds the current record: with
// DecodeInto, the buffer next gave (or the one that replaced it), to be
// recycled once none of its records is in use.
func (r *Reader) Frame() []byte { return r.frame }

// Record returns the current record line, without its newline. The slice is
// valid until the next call to Next, or, with DecodeInto, while its frame's
// buffer is left alone.
func (r *Reader) Record() []byte { return r.rec }

// Offset returns the file offset of the frame holding the current record.
func (r *Reader) Offset() int64 { return r.frameOff }

// Header returns the segment header, or nil if it was missing or damaged.
func (r *Reader) Header() *HeaderInfo { return r.header }

// Footer returns the footer once Next has returned false, or nil if the file
// has none (not sealed, or truncated).
func (r *Reader) Footer() *FooterInfo { return r.footer }

// GoodEnd returns the file offset just past the last data frame read
// whole so far. In a segment that is still being written, damage at or
// after it (at the end of the file) is the frame the writer is appending,
// not damage.
func (r *Reader) GoodEnd() int64 { return r.goodEnd }

// Records returns how many records were read so far.
func (r *Reader) Records() int64 { return r.records }

// Damage lists every corruption found so far.
func (r *Reader) Damage() []*CorruptionError { return r.damage }

// Err returns the I/O error that stopped the reader, else the damage found
// (a *CorruptionError, or several joined), else nil.
func (r *Reader) Err() error {
	if r.ioErr != nil {
		return r.ioErr
	}
	errs := make([]error, len(r.damage))
	for i, d := range r.damage {
		errs[i] = d
	}
	return errors.Join(errs...)
}

func (r *Reader) corrupt(off int64, err error) {
	r.damage = append(r.damage, &CorruptionError{File: r.name, Offset: off, Err: err})
}

// bytesAt returns up to n bytes at off (fewer at end of file), from the
// cached window when it covers them.
func (r *Reader) bytesAt(off int64, n int) ([]byte, error) {
	if rem := r.size - off; int64(n) > rem {
		n = int(rem)
	}
	if off >= r.winOff && off+int64(n) <= r.winOff+int64(len(r.win)) {
		return r.win[off-r.winOff : off-r.winOff+int64(n)], nil
	}
	want := max(n, readWindow)
	if rem := r.size - off; int64(want) > rem {
		want = int(rem)
	}
	if cap(r.win) < want {
		r.win = make([]byte, want)
	}
	r.win = r.win[:want]
	m, err := r.ra.ReadAt(r.win, off)
	if m < want && err != nil {
		r.win = r.win[:0]
		return nil, err
	}
	r.winOff = off
	return r.win[:n], nil
}

// hashTo feeds file bytes [r.hashed, end) into the whole-file checksum.
func (r *Reader) hashTo(end int64) error {
	for r.hashed < end {
		b, err := r.bytesAt(r.hashed, int(min(end-r.hashed, readWindow)))
		if err != nil {
			return err
		}
		r.sum.Write(b)
		r.hashed += int64(len(b))
	}
	return nil
}

// frameAt parses the frame at r.off, reading more of the file as needed. A
// parse error (damage) and an I/O error are returned apart.
func (r *Reader) frameAt() (span frameSpan, damage, ioErr error) {
	n := 64 << 10
	for {
		b, err := r.bytesAt(r.off, n)
		if err != nil {
			return frameSpan{}, nil, err
		}
		span, perr := parseFrame(b, r.off)
		if perr != errNeedMore {
			return span, perr, nil
		}
		if r.off+int64(len(b)) >= r.size {
			return frameSpan{}, errTorn, nil
		}
		n *= 2
	}
}

// nextDataFrame walks frames until one decodes, handling header, footer and
// damage on the way. It returns false at end of file or on an I/O error.
func (r *Reader) nextDataFrame() bool {
	for r.off < r.size && r.ioErr == nil {
		span, damage, ioErr := r.frameAt()
		if ioErr != nil {
			r.ioErr = ioErr
			return false
		}
		if damage == nil {
			switch span.kind {
			case frameHeader:
				damage = r.readHeader(span)
			case frameFooter:
				damage = r.checkFooter(span)
			case frameData:
				if r.decodeFrame(span, &damage) {
					return true
				}
			}
		}
		if damage != nil {
			// A torn tail ends the file, but a damaged length field looks
			// the same: resynchronising tells them apart at no cost.
			r.corrupt(r.off, damage)
			r.resync(r.off + 1)
			continue
		}
		r.off += span.size
	}
	return false
}

func (r *Reader) readHeader(span frameSpan) error {
	var h HeaderInfo
	if err := json.Unmarshal(span.payload, &h); err != nil || h.Format != FormatName {
		return fmt.Errorf("unreadable segment header: %v", err)
	}
	if h.Version > SegmentVersion {
		r.ioErr = fmt.Errorf("%s: segment version %d is newer than this build reads (%d)", r.name, h.Version, SegmentVersion)
	}
	r.header = &h
	return nil
}

// decodeFrame verifies and decodes a data frame into r.frame. It returns
// true when the frame holds records; damage is set when it is unusable.
func (r *Reader) decodeFrame(span frameSpan, damage *error) bool {
	if !span.checksum {
		*damage = errors.New("data frame without content checksum")
		return false
	}
	buf := r.frameBuf[:0]
	if r.next != nil {
		buf = r.next()[:0]
	}
	content, err := decoder().DecodeAll(span.payload, buf)
	if err != nil {
		*damage = fmt.Errorf("data frame: %w", err)
		return false
	}
	if r.next == nil {
		r.frameBuf = content
	}
	if err := r.hashTo(span.off + span.size); err != nil {
		r.ioErr = err
		return false
	}
	r.frameOff = r.off
	r.off += span.size
	r.goodEnd = r.off
	r.frames++
	if i := bytes.LastIndexByte(content, '\n'); i != len(content)-1 {
		r.corrupt(r.frameOff, errors.New("data frame ends inside a record"))
		content = content[:i+1]
	}
	r.frame, r.pos = content, 0
	return true
}

// checkFooter verifies the footer against what was read. Mismatches are
// reported only on an otherwise clean file: after damage they are expected.
func (r *Reader) checkFooter(span frameSpan) error {
	payload := bytes.Clone(span.payload) // hashTo may move the window
	var ft FooterInfo
	if err := json.Unmarshal(payload, &ft); err != nil || ft.Format != FormatName {
		return fmt.Errorf("unreadable footer: %v", err)
	}
	r.footer = &ft
	if span.off+span.size != r.size {
		r.corrupt(span.off+span.size, errors.New("bytes after the footer"))
	}
	if len(r.damage) > 0 {
		return nil
	}
	if err := r.hashTo(span.off); err != nil {
		r.ioErr = err
		return nil
	}
	got := hex.EncodeToString(r.sum.Sum(nil))
	switch {
	case got != ft.SHA256:
		r.corrupt(span.off, fmt.Errorf("file checksum %s does not match footer %s", got, ft.SHA256))
	case ft.Records != r.records:
		r.corrupt(span.off, fmt.Errorf("footer counts %d records, file holds %d", ft.Records, r.records))
	}
	return nil
}

// resync moves r.off to the next offset at or after from that starts with a
// zstd frame magic or our header/footer magic. A false match inside damaged
// bytes fails to parse or to verify and leads to another resync, so
// resynchronising can only lose damaged bytes, never yield them.
func (r *Reader) resync(from int64) {
	for off := from; off < r.size; {
		b, err := r.bytesAt(off, readWindow)
		if err != nil {
			r.ioErr = err
			return
		}
		for i := 0; i+4 <= len(b); i++ {
			m := binary.LittleEndian.Uint32(b[i:])
			if m == zstdMagic || m == headerMagic || m == footerMagic {
				r.off = off + int64(i)
				return
			}
		}
		if off+int64(len(b)) >= r.size {
			break
		}
		off += int64(len(b)) - 3 // a magic may straddle windows
	}
	r.off = r.size
}
