package capture

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// asyncHandler formats and writes log records on its own goroutine. The
// access-log line of an exchange is written when the handler finishes, and
// for a chunked (streamed) response the client sees the end of the body
// only when the handler returns: logging inline put formatting and a
// write(2) on every response's critical path (BENCHMARKS.md). Records keep
// their order; when the queue is full they are dropped and counted rather
// than slowing the proxy.
type asyncHandler struct {
	inner slog.Handler
	q     *logQueue
}

type logItem struct {
	h slog.Handler
	r slog.Record
}

type logQueue struct {
	ch      chan logItem
	done    chan struct{}
	once    sync.Once
	dropped atomic.Int64
	closeMu sync.RWMutex // as Recorder's: a line after close is dropped
	closed  bool
}

var _ slog.Handler = (*asyncHandler)(nil)

func newAsyncHandler(inner slog.Handler, size int) *asyncHandler {
	q := &logQueue{ch: make(chan logItem, size), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		// As the recorder: parked while idle, no wake-up per line when busy.
		drain(q.ch, func(it logItem) { _ = it.h.Handle(context.Background(), it.r) })
	}()
	return &asyncHandler{inner: inner, q: q}
}

func (h *asyncHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *asyncHandler) Handle(_ context.Context, r slog.Record) error {
	h.q.closeMu.RLock()
	defer h.q.closeMu.RUnlock()
	if h.q.closed {
		h.q.dropped.Add(1)
		return nil
	}
	select {
	case h.q.ch <- logItem{h.inner, r.Clone()}:
	default:
		h.q.dropped.Add(1)
	}
	return nil
}

func (h *asyncHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &asyncHandler{inner: h.inner.WithAttrs(as), q: h.q}
}

func (h *asyncHandler) WithGroup(name string) slog.Handler {
	return &asyncHandler{inner: h.inner.WithGroup(name), q: h.q}
}

// close writes what is queued and stops the goroutine. Records logged
// afterwards are dropped and counted.
func (h *asyncHandler) close() {
	h.q.once.Do(func() {
		h.q.closeMu.Lock()
		h.q.closed = true
		close(h.q.ch)
		h.q.closeMu.Unlock()
	})
	<-h.q.done
	if n := h.q.dropped.Load(); n > 0 {
		r := slog.NewRecord(time.Now(), slog.LevelWarn, "log lines dropped: the log writer could not keep up", 0)
		r.AddAttrs(slog.Int64("dropped", n))
		_ = h.inner.Handle(context.Background(), r)
	}
}
