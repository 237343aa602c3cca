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
}

var _ slog.Handler = (*asyncHandler)(nil)

func newAsyncHandler(inner slog.Handler, size int) *asyncHandler {
	q := &logQueue{ch: make(chan logItem, size), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		for {
			select {
			case it, ok := <-q.ch:
				if !ok {
					return
				}
				_ = it.h.Handle(context.Background(), it.r)
			default:
				time.Sleep(drainPause) // as the recorder: no wake-up per line
			}
		}
	}()
	return &asyncHandler{inner: inner, q: q}
}

func (h *asyncHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *asyncHandler) Handle(_ context.Context, r slog.Record) error {
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
// afterwards panic on the closed channel, so close only at the very end.
func (h *asyncHandler) close() {
	h.q.once.Do(func() { close(h.q.ch) })
	<-h.q.done
	if n := h.q.dropped.Load(); n > 0 {
		r := slog.NewRecord(time.Now(), slog.LevelWarn, "log lines dropped: the log writer could not keep up", 0)
		r.AddAttrs(slog.Int64("dropped", n))
		_ = h.inner.Handle(context.Background(), r)
	}
}
