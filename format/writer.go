package format

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
)

// WriterOptions configure a Writer. The zero value of every field but Dir
// selects the documented default.
type WriterOptions struct {
	Dir  string // created (DirMode) if missing
	Node string // node name in file names and records; default: host name

	// MaxSegmentBytes seals the current segment once its compressed size
	// reaches it. Default 128 MiB.
	MaxSegmentBytes int64
	// MaxSegmentAge seals a segment this long after it was created, so that
	// a quiet node still ships its data. Default 1h.
	MaxSegmentAge time.Duration
	// FlushInterval bounds how long an appended record waits before it is
	// handed to the kernel as part of a complete, checksummed zstd frame
	// (ARCHITECTURE.md §3). Default 200ms.
	FlushInterval time.Duration
	// MaxFrameBytes ends a frame early once this much uncompressed NDJSON is
	// pending, bounding memory and the loss from one damaged frame.
	// Default 4 MiB.
	MaxFrameBytes int
	// Level is the zstd level. Default zstd.SpeedFastest: on realistic
	// streams it compresses within 3% of SpeedDefault for ~15% less CPU
	// (BENCHMARKS.md), and the writer shares the cores with the proxy.
	Level zstd.EncoderLevel
	// FileMode and DirMode default to 0600 and 0700: records hold prompts.
	FileMode os.FileMode
	DirMode  os.FileMode
	// OnError, if set, is called (from the flushing goroutine) when records
	// could not be written; records says how many were lost with that frame.
	OnError func(err error, records int)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o *WriterOptions) setDefaults() error {
	if o.Dir == "" {
		return errors.New("format: WriterOptions.Dir is empty")
	}
	if o.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("format: no node name given and host name unknown: %w", err)
		}
		o.Node = h
	}
	o.Node = SanitizeNode(o.Node)
	if o.MaxSegmentBytes <= 0 {
		o.MaxSegmentBytes = 128 << 20
	}
	if o.MaxSegmentAge <= 0 {
		o.MaxSegmentAge = time.Hour
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = 4 << 20
	}
	if o.Level == 0 {
		o.Level = zstd.SpeedFastest
	}
	if o.FileMode == 0 {
		o.FileMode = 0o600
	}
	if o.DirMode == 0 {
		o.DirMode = 0o700
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// WriterStats are cumulative counters of a Writer.
type WriterStats struct {
	RecordsWritten int64 // handed to the kernel in a complete frame
	RecordsDropped int64 // lost to write errors
	BytesWritten   int64 // compressed bytes, headers and footers included
	FramesWritten  int64
	SegmentsSealed int64
	WriteErrors    int64
	// SegmentsRelinked counts segments found deleted while being written
	// and recreated with everything written so far.
	SegmentsRelinked int64
}

// Writer appends exchanges to segment files in one directory (SPEC.md).
//
// Append encodes a record into a pending buffer and returns; a background
// goroutine turns the buffer into one complete zstd frame (with content
// checksum) every FlushInterval and writes it with a single write(2). So a
// record is on its way to disk within FlushInterval of Append returning,
// and a crash tears at most the frame being written. Segments rotate by
// size and age; sealing appends a footer, fsyncs, renames *.open to the
// sealed name and fsyncs the directory.
//
// One Writer per (Dir, Node) at a time: NewWriter takes a lock file and,
// holding it, repairs that node's leftover .open files.
type Writer struct {
	opts WriterOptions
	enc  *zstd.Encoder
	lock *os.File
	// tightened is the directory's mode before NewWriter narrowed it.
	tightened os.FileMode

	mu             sync.Mutex // guards the pending batch and closed
	pending        []byte
	pendingRecords int64
	pendingFirst   int64
	pendingLast    int64
	spare          []byte
	closed         bool

	flushMu  sync.Mutex // serialises frame writes; guards seg and frameBuf
	seg      *segmentFile
	frameBuf []byte

	recovered []RepairResult
	sealing   sync.WaitGroup // seals run off the flush path
	stop      chan struct{}
	done      chan struct{}

	recordsWritten, recordsDropped, bytesWritten atomic.Int64
	framesWritten, segmentsSealed, writeErrors   atomic.Int64
	segmentsRelinked                             atomic.Int64
	lastErr                                      atomic.Pointer[error]
}

// NewWriter creates the directory if needed, locks it for opts.Node,
// repairs and seals that node's leftover .open files (see Recovered), and
// starts the flushing goroutine.
func NewWriter(opts WriterOptions) (*Writer, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, opts.DirMode); err != nil {
		return nil, err
	}
	// An existing directory keeps its mode through MkdirAll: one open to
	// others (0777 left by a provisioning script) is narrowed to DirMode.
	st, err := os.Stat(opts.Dir)
	if err != nil {
		return nil, err
	}
	var tightened os.FileMode
	if st.Mode().Perm()&^opts.DirMode != 0 {
		if err := os.Chmod(opts.Dir, opts.DirMode); err != nil {
			return nil, fmt.Errorf("format: %s is open to others (%v) and cannot be narrowed to %v: %w", opts.Dir, st.Mode().Perm(), opts.DirMode, err)
		}
		tightened = st.Mode().Perm()
	}
	lock, err := lockNode(opts.Dir, opts.Node)
	if err != nil {
		return nil, err
	}
	recovered, err := RepairDir(opts.Dir, opts.Node)
	if err != nil {
		lock.Close()
		return nil, err
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(opts.Level), zstd.WithEncoderCRC(true), zstd.WithEncoderConcurrency(1))
	if err != nil {
		lock.Close()
		return nil, err
	}
	w := &Writer{opts: opts, enc: enc, lock: lock, recovered: recovered, tightened: tightened,
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w, nil
}

// Tightened is the mode the directory had when NewWriter narrowed it to
// DirMode, or 0.
func (w *Writer) Tightened() os.FileMode { return w.tightened }

// Recovered lists the leftover segments NewWriter repaired.
func (w *Writer) Recovered() []RepairResult { return w.recovered }

// Node is the sanitized node name the writer uses.
func (w *Writer) Node() string { return w.opts.Node }

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("format: writer closed")

// Append queues ex for the next frame. It fills ex.V and ex.Node when they
// are zero. The record is written within FlushInterval; Append blocks only
// when MaxFrameBytes are pending, to compress and write them.
func (w *Writer) Append(ex *Exchange) error {
	if ex.V == 0 {
		ex.V = RecordVersion
	}
	if ex.Node == "" {
		ex.Node = w.opts.Node
	}
	// Encoding appends straight to the pending batch, under the lock: no
	// scratch buffer, no copy. Appends are serialised anyway (capture has
	// one appending goroutine), and the flusher holds the lock only to swap
	// batches.
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	var err error
	w.pending, err = AppendJSON(w.pending, ex)
	if err != nil {
		w.mu.Unlock()
		return fmt.Errorf("format: encode record %s: %w", ex.ID, err)
	}
	if w.pendingRecords == 0 || ex.StartNS < w.pendingFirst {
		w.pendingFirst = ex.StartNS
	}
	if w.pendingRecords == 0 || ex.StartNS > w.pendingLast {
		w.pendingLast = ex.StartNS
	}
	w.pendingRecords++
	full := len(w.pending) >= w.opts.MaxFrameBytes
	w.mu.Unlock()
	if full {
		return w.flush()
	}
	return nil
}

// Flush writes pending records now as one frame, and waits for segments
// being sealed (the periodic flush does not wait).
func (w *Writer) Flush() error {
	err := w.flush()
	w.flushMu.Lock() // sealing.Go runs under flushMu: Wait must not race it
	w.sealing.Wait()
	w.flushMu.Unlock()
	return err
}

func (w *Writer) loop() {
	defer close(w.done)
	t := time.NewTicker(w.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			_ = w.flush()
		}
	}
}

// flush compresses the pending batch into one frame, writes it, and seals
// the segment when it is big or old enough.
func (w *Writer) flush() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	batch, n, first, last := w.pending, w.pendingRecords, w.pendingFirst, w.pendingLast
	w.pending, w.spare, w.pendingRecords = w.spare[:0], nil, 0
	w.mu.Unlock()

	var err error
	if n > 0 {
		w.frameBuf = w.enc.EncodeAll(batch, w.frameBuf[:0])
		err = w.writeFrame(w.frameBuf, n, int64(len(batch)), first, last)
	}
	w.mu.Lock()
	w.spare = batch[:0]
	w.mu.Unlock()

	if s := w.seg; s != nil && (s.size >= w.opts.MaxSegmentBytes || w.opts.Now().Sub(s.created) >= w.opts.MaxSegmentAge) {
		w.sealLocked()
	}
	return err
}

func (w *Writer) writeFrame(frame []byte, n, content, first, last int64) error {
	if w.seg == nil {
		now := w.opts.Now()
		base := filepath.Join(w.opts.Dir, SegmentName(w.opts.Node, now))
		s, err := createSegment(base+OpenSuffix, base+SealedSuffix, w.opts.Node, now, w.opts.FileMode)
		if err != nil {
			return w.fail(fmt.Errorf("format: create segment: %w", err), n)
		}
		w.seg = s
		w.bytesWritten.Add(s.size)
	}
	if !w.seg.linked() {
		if err := w.seg.relink(); err != nil {
			w.seg.abandon()
			w.seg = nil
			return w.fail(fmt.Errorf("format: the segment being written is gone from its directory (removed or replaced?) and could not be recreated: %w", err), n)
		}
		w.segmentsRelinked.Add(1)
	}
	before := w.seg.size
	if err := w.seg.writeFrame(frame, n, content, first, last); err != nil {
		if w.seg.size != before || !isRetryable(err) {
			// The file is in an unknown state: leave it for Repair and
			// start a new segment with the next frame.
			w.seg.abandon()
			w.seg = nil
		}
		return w.fail(fmt.Errorf("format: write segment: %w", err), n)
	}
	w.recordsWritten.Add(n)
	w.framesWritten.Add(1)
	w.bytesWritten.Add(int64(len(frame)))
	return nil
}

// isRetryable: errors after which the same file can take the next frame
// (the failed write was cut back). Anything else abandons the file.
func isRetryable(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func (w *Writer) fail(err error, records int64) error {
	w.writeErrors.Add(1)
	w.lastErr.Store(&err)
	w.recordsDropped.Add(records)
	if w.opts.OnError != nil {
		w.opts.OnError(err, int(records))
	}
	return err
}

// sealLocked detaches the current segment and seals it in the background:
// sealing fsyncs twice, and the next frame must not wait for that, or the
// flush-delay bound would not hold across a rotation.
func (w *Writer) sealLocked() {
	s := w.seg
	w.seg = nil
	w.sealing.Go(func() {
		if err := s.seal(w.opts.Now(), false); err != nil {
			w.writeErrors.Add(1)
			w.lastErr.Store(&err)
			if w.opts.OnError != nil {
				w.opts.OnError(err, 0)
			}
			return
		}
		w.segmentsSealed.Add(1)
	})
}

// Close writes what is pending, seals the current segment and releases the
// directory lock. Append fails with ErrClosed afterwards.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	err := w.flush()
	w.flushMu.Lock()
	if w.seg != nil {
		w.sealLocked()
	}
	w.sealing.Wait()
	w.flushMu.Unlock()
	if n := w.writeErrors.Load(); n > 0 {
		err = errors.Join(err, fmt.Errorf("format: %d write or seal errors, the last: %w", n, *w.lastErr.Load()))
	}
	w.enc.Close()
	return errors.Join(err, w.lock.Close())
}

// Stats returns the writer's counters.
func (w *Writer) Stats() WriterStats {
	return WriterStats{
		RecordsWritten:   w.recordsWritten.Load(),
		RecordsDropped:   w.recordsDropped.Load(),
		BytesWritten:     w.bytesWritten.Load(),
		FramesWritten:    w.framesWritten.Load(),
		SegmentsSealed:   w.segmentsSealed.Load(),
		SegmentsRelinked: w.segmentsRelinked.Load(),
		WriteErrors:      w.writeErrors.Load(),
	}
}
