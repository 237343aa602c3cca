package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire"
)

var (
	// A stream from an http:// upstream (a capture/h1 body: a waiter) is
	// waited on without a buffer and each read then takes all that came,
	// into an 8 KiB buffer held only for that read: a waiting stream holds
	// none, and a burst goes out in a few large writes, not 1 KiB pieces.
	// Other bodies are read into 1 KiB first — every in-flight stream holds
	// its read buffer while it waits for the next event, and events are a
	// few hundred bytes (BENCHMARKS.md §4) — and once a read fills that
	// (a whole answer, a burst), 8 KiB at a time.
	smallRelayBufs = sync.Pool{New: func() any { b := make([]byte, 1<<10); return &b }}
	relayBufs      = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}
	builders       = sync.Pool{New: func() any { return new(format.ChunkBuilder) }}
)

// waiter is a response body that can wait for its next bytes without a
// buffer of the caller's (capture/h1's).
type waiter interface{ Wait() }

// relay copies the upstream response to the client: headers first, then
// each read of the body written and flushed at once (no added buffering),
// and kept in the record with its offset until the capture cap.
//
// Once headers are sent, a failure cannot be reported as an API error any
// more. If the upstream breaks mid-body, relay records the error and
// panics with http.ErrAbortHandler: net/http then drops the connection
// without ending the chunked body, so the client's SDK raises instead of
// accepting a truncated answer as complete (httputil.ReverseProxy does the
// same).
//
// A body that lessllm must rewrite whole (a translated JSON answer, the
// model list) is collected first, up to capture.max_body_bytes; its status
// line waits for it, so a failure or an oversized body still gets a proper
// 502 in the client's format, and it goes with its Content-Length.
func (x *exchange) relay(resp *http.Response, cancel context.CancelFunc) {
	limit := int64(x.s.Config.Capture.MaxBodyBytes)
	rec := &format.Response{Status: resp.StatusCode, Headers: format.RedactHeader(resp.Header, x.s.Config.Capture.RedactHeaders)}
	x.rec.Response = rec
	dialect := x.rt.dialect
	if x.tr != nil && len(wire.Codings(resp.Header.Get("Content-Encoding"))) > 0 {
		x.fail(dialect, http.StatusBadGateway, format.ErrUpstreamBroken, "upstream_encoding",
			fmt.Sprintf("lessllm: upstream %s compressed its answer (%s) although lessllm asked for identity; it cannot be translated",
				x.rt.providerName, resp.Header.Get("Content-Encoding")))
		return
	}
	collect := x.tr != nil && x.tr.collects(resp)

	var headers *headerFlusher
	var toClient io.Writer
	prepareHeaders := func() http.Header {
		h := x.w.Header()
		for k, vs := range resp.Header {
			h[k] = vs
		}
		for _, k := range hopHeaders {
			if k != "Content-Length" {
				h.Del(k)
			}
		}
		if x.tr != nil {
			x.tr.begin(resp, h)
		}
		return h
	}
	sendHeaders := func() {
		x.w.WriteHeader(resp.StatusCode)
		x.status = resp.StatusCode
		headers = newHeaderFlusher(http.NewResponseController(x.w))
		toClient = writerFunc(func(p []byte) (int, error) { return headers.write(x.w, p) })
	}
	if !collect {
		prepareHeaders()
		sendHeaders()
	}

	// An idle timer cancels the upstream request when the body stalls.
	var idleFired atomic.Bool
	idle := x.s.Config.Proxy.Timeouts.IdleStream
	timer := time.AfterFunc(idle, func() { idleFired.Store(true); cancel() })
	defer timer.Stop()

	// A body of known length is an answer that comes whole, not a stream
	// that waits: it is read as it is.
	wait, _ := resp.Body.(waiter)
	if resp.ContentLength >= 0 {
		wait = nil
	}
	pool := &smallRelayBufs
	if wait != nil {
		pool = &relayBufs
	}
	var bp *[]byte
	if wait == nil {
		bp = pool.Get().(*[]byte)
	}
	defer func() {
		if bp != nil {
			pool.Put(bp)
		}
	}()
	chunks := builders.Get().(*format.ChunkBuilder)
	var captured int64
	defer func() { // also when aborting
		rec.Chunks = chunks.Chunks()
		rec.Truncated = rec.Bytes > captured
		chunks.Reset()
		builders.Put(chunks)
	}()
	for full := false; ; {
		switch {
		case wait != nil: // the buffer is held for one read only
			if bp != nil {
				pool.Put(bp)
			}
			wait.Wait()
			bp = pool.Get().(*[]byte)
		case full && pool == &smallRelayBufs:
			pool.Put(bp)
			pool, bp = &relayBufs, relayBufs.Get().(*[]byte)
		}
		buf := *bp
		n, err := resp.Body.Read(buf)
		full = n == len(buf)
		if n > 0 {
			timer.Reset(idle)
			t := x.since()
			if captured < limit {
				keep := min(int64(n), limit-captured)
				chunks.Add(t, buf[:keep])
				captured += keep
			}
			rec.Bytes += int64(n)
			if collect {
				if rec.Bytes > limit {
					x.fail(dialect, http.StatusBadGateway, format.ErrUpstreamBroken, "upstream_too_large",
						fmt.Sprintf("lessllm: the upstream's answer exceeds %d bytes (capture.max_body_bytes), and it must be read whole to be rewritten", limit))
					return
				}
				_ = x.tr.chunk(t, buf[:n], nil)
				continue
			}
			var werr error
			if x.tr != nil {
				werr = x.tr.chunk(t, buf[:n], toClient)
			} else {
				_, werr = toClient.Write(buf[:n])
			}
			if errors.Is(werr, errEventTooLarge) {
				x.rec.Error = &format.Error{Kind: format.ErrUpstreamBroken, Message: werr.Error(), AtNS: x.since()}
				panic(http.ErrAbortHandler)
			}
			if werr != nil {
				x.rec.Error = &format.Error{Kind: format.ErrClientWrite, Message: "writing to the client failed: " + werr.Error(), AtNS: x.since()}
				if x.r.Context().Err() != nil {
					x.rec.Error.Kind = format.ErrClientDisconnect
				}
				break
			}
			if ferr := headers.flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				x.rec.Error = &format.Error{Kind: format.ErrClientDisconnect, Message: "flushing to the client failed: " + ferr.Error(), AtNS: x.since()}
				break
			}
		}
		if err == io.EOF {
			var werr error
			switch {
			case collect:
				// The rewritten body is whole before the status line goes:
				// it is sent with its length, headers and body in one
				// write, not chunked and then ended by a second write (and
				// a second wake-up of the client).
				h := prepareHeaders()
				var whole bytes.Buffer
				_ = x.tr.end(&whole) // a bytes.Buffer takes every write
				if whole.Len() > 0 {
					h.Set("Content-Length", strconv.Itoa(whole.Len()))
				}
				sendHeaders()
				_, werr = toClient.Write(whole.Bytes())
			case x.tr != nil:
				werr = x.tr.end(toClient)
			}
			if werr != nil {
				x.rec.Error = &format.Error{Kind: format.ErrClientWrite, Message: "writing to the client failed: " + werr.Error(), AtNS: x.since()}
			}
			_ = headers.flush() // an empty body: the headers go now
			break
		}
		if err != nil {
			kind, status := classifyUpstream(x.r.Context(), idleFired.Load(), err)
			msg := fmt.Sprintf("upstream body failed after %d bytes: %v", rec.Bytes, err)
			switch {
			case kind == format.ErrClientDisconnect && x.s.forced.Load():
				kind = format.ErrShutdown
			case kind == format.ErrUpstreamTimeout:
				msg = fmt.Sprintf("upstream sent nothing for %s (proxy.timeouts.idle_stream) after %d bytes", idle, rec.Bytes)
			}
			if collect { // nothing sent yet: the client gets an API error
				x.fail(dialect, status, kind, kind, "lessllm: "+msg)
				return
			}
			x.rec.Error = &format.Error{Kind: kind, Message: msg, AtNS: x.since()}
			if kind != format.ErrClientDisconnect {
				panic(http.ErrAbortHandler)
			}
			break
		}
	}
}

// headerFlushDelay is how long response headers may wait for the first
// body bytes to share their packet. A body that follows at once (almost
// every non-streamed answer) saves a write and a client wake-up; a stream
// whose first token is slow still shows the client its status within this
// delay, so a client's response-header timeout never fires because of the
// proxy.
const headerFlushDelay = time.Millisecond

// headerFlusher sends the response headers either with the first body
// bytes or, if none came within headerFlushDelay, on their own. The timer
// runs on another goroutine, so until the relaying goroutine takes over
// (its first write or flush) the two are serialised by mu; after that the
// timer can no longer touch the ResponseWriter and writes go straight
// through.
type headerFlusher struct {
	rc     *http.ResponseController
	timer  *time.Timer
	mu     sync.Mutex
	sent   bool // guarded by mu: the timer flushed, or the relay took over
	direct bool // owned by the relaying goroutine: it has taken over
}

func newHeaderFlusher(rc *http.ResponseController) *headerFlusher {
	h := &headerFlusher{rc: rc}
	h.timer = time.AfterFunc(headerFlushDelay, h.timerFlush)
	return h
}

// timerFlush runs on the timer's goroutine.
func (h *headerFlusher) timerFlush() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.sent {
		h.sent = true
		_ = h.rc.Flush()
	}
}

// takeOver makes the relaying goroutine the only user of the writer: the
// timer is stopped, or has finished its flush.
func (h *headerFlusher) takeOver() {
	if h.direct {
		return
	}
	h.mu.Lock()
	h.timer.Stop()
	h.sent, h.direct = true, true
	h.mu.Unlock()
}

// write writes p (the headers go with it if still pending).
func (h *headerFlusher) write(w io.Writer, p []byte) (int, error) {
	h.takeOver()
	return w.Write(p)
}

// flush sends what was written — and the headers, if still pending: once
// the upstream's body has begun, they wait no longer.
func (h *headerFlusher) flush() error {
	h.takeOver()
	return h.rc.Flush()
}

// writerFunc adapts a function to io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
