// Package h1 is capture's transport for plain-HTTP upstreams (local
// inference servers, OpenAI-compatible APIs on a private network, the
// simulator): HTTP/1.1 with pooled keep-alive connections, like
// net/http's Transport, but each request is written and its response read
// on the caller's goroutine.
//
// net/http's Transport keeps two goroutines per connection (a reader and
// a writer, each with its own stack) and a 4 KiB write buffer for the
// connection's life. Capture holds one upstream connection per in-flight
// stream, and a stream waits most of its life for the next token: with
// net/http's Transport, 1,000 waiting streams held ~16 KiB each more than
// they do with this client, a fifth of their memory (BENCHMARKS.md §4).
// Here the write buffer is borrowed from a pool for the write, and nothing
// runs while a response is not being read.
//
// HTTPS upstreams keep net/http's Transport: they speak HTTP/2, where the
// streams share one connection and its goroutines.
package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"sync/atomic"
	"time"
)

// Transport is an http.RoundTripper for http:// URLs. The zero value
// dials directly, keeps two idle connections per host without a time
// limit, and waits for response headers as long as the request's context
// allows. A Transport must not be copied after first use.
type Transport struct {
	// DialContext opens a connection to host:port; nil uses a zero
	// net.Dialer. A connection it returns may wrap the TCP connection
	// (a proxy's tunnel) and should expose it with NetConn() net.Conn so
	// that an idle connection's liveness can be checked.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdlePerHost bounds the idle connections kept per host:port; 0
	// means 2, net/http's default.
	MaxIdlePerHost int
	// IdleTimeout closes a connection left idle that long; 0 keeps it
	// until the server closes it.
	IdleTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response's headers
	// once the request is written; 0 means no limit but the context's.
	ResponseHeaderTimeout time.Duration
	// MaxResponseHeaderBytes bounds the bytes read before a response's
	// headers end (1xx responses included); 0 means 1 MiB, net/http's
	// server default. A server that sends headers without end gets an
	// error, not the memory they would take.
	MaxResponseHeaderBytes int64

	mu   sync.Mutex
	idle map[string][]*conn // by host:port; the most recently used last
}

var _ http.RoundTripper = (*Transport)(nil)

// conn is one upstream connection; it belongs to one request at a time,
// or to the idle pool.
type conn struct {
	nc    net.Conn
	lr    limitedReader // what br reads from
	br    *bufio.Reader
	addr  string
	since time.Time   // idle since
	timer *time.Timer // closes it when idle too long
}

// readBufferSize is net/http's Transport's. It is the one buffer a
// waiting stream holds (capture's relay waits with body.Wait and reads
// into a pooled buffer only when bytes came), and one read of a stream
// takes what it holds — many small chunks at once: with 1 KiB, a burst of
// a streamed answer took twice as many reads and writes (BENCHMARKS.md §3).
// Response header lines are read through it (a longer line is joined, not
// refused).
const readBufferSize = 4 << 10

var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

// RoundTrip sends req over an idle connection to its host, or a new one,
// and returns the response once its headers arrived. The response body
// reads from the connection directly; reading it to the end returns the
// connection to the pool, and closing it earlier closes the connection
// (as net/http's Transport does with an unread body). Cancelling req's
// context closes the connection, which ends a read in progress with the
// context's error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" {
		closeBody(req)
		// Not the URL itself: it may carry a key in its query.
		return nil, errors.New("h1: only http:// URLs with a host are supported")
	}
	addr := hostPort(req.URL.Host)
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	for {
		c, reused, err := t.get(ctx, addr, trace)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := t.exchange(c, req, trace)
		if err == nil {
			return resp, nil
		}
		// As net/http: a connection the server closed while it sat idle is
		// not the request's fault. Send it again on a new connection when
		// nothing reached the server, or when the request is idempotent
		// and no answer began.
		var rerr *roundTripError
		if !reused || !errors.As(err, &rerr) || ctx.Err() != nil || !rerr.retryable(req) {
			closeBody(req)
			return nil, unwrap(err)
		}
		if req, err = rewound(req); err != nil {
			return nil, err
		}
	}
}

// CloseIdleConnections closes the connections in the idle pool.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.stopTimer()
			c.nc.Close()
		}
	}
}

// get takes an idle connection to addr that is still open, or dials one.
func (t *Transport) get(ctx context.Context, addr string, trace *httptrace.ClientTrace) (*conn, bool, error) {
	if trace != nil && trace.GetConn != nil {
		trace.GetConn(addr)
	}
	for {
		t.mu.Lock()
		list := t.idle[addr]
		if len(list) == 0 {
			t.mu.Unlock()
			break
		}
		c := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[addr] = list[:len(list)-1]
		t.mu.Unlock()
		c.stopTimer()
		if !alive(c) {
			c.nc.Close()
			continue
		}
		if trace != nil && trace.GotConn != nil {
			trace.GotConn(httptrace.GotConnInfo{Conn: c.nc, Reused: true, WasIdle: true, IdleTime: time.Since(c.since)})
		}
		return c, true, nil
	}
	dial := t.DialContext
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	// The dial runs on a goroutine of its own, which ends with it: on the
	// caller's goroutine, net's dialer (~4 KiB deep) would double the stack
	// the caller then keeps for as long as it serves the client's
	// connection — 8 KiB more a waiting stream.
	done := make(chan dialed, 1)
	go func() {
		growStack()
		nc, err := dial(ctx, "tcp", addr)
		done <- dialed{nc, err}
	}()
	d := <-done
	if d.err != nil {
		return nil, false, d.err
	}
	nc := d.nc
	c := &conn{nc: nc, lr: limitedReader{r: nc, n: unlimited}, addr: addr}
	c.br = bufio.NewReaderSize(&c.lr, readBufferSize)
	if trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: nc})
	}
	return c, false, nil
}

func (c *conn) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
	}
}

// growStack moves the dialing goroutine to a 16 KiB stack before it dials.
// Left alone, its stack would grow to 8 KiB, the size of the handlers'
// stacks; the runtime cuts stacks of one size from shared 32 KiB spans, so
// a finished dial's 8 KiB would stay stuck between live handlers' stacks
// (at 1,000 new connections at once, 4–5 KiB a stream as long as the
// streams last). 16 KiB stacks come from spans of their own, which the
// collector returns to the heap whole once the dials are done
// (BENCHMARKS.md §4). It costs two copies of a nearly empty stack per new
// connection.
//
//go:noinline
func growStack() byte {
	var pad [9 << 10]byte
	return firstByte(pad[:])
}

//go:noinline
func firstByte(b []byte) byte { return b[0] }

type dialed struct {
	nc  net.Conn
	err error
}

// put returns a connection whose response was read to the end to the idle
// pool, or closes it when the pool is full.
func (t *Transport) put(c *conn) {
	limit := t.MaxIdlePerHost
	if limit <= 0 {
		limit = 2
	}
	c.since = time.Now()
	t.mu.Lock()
	if len(t.idle[c.addr]) >= limit {
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	if t.idle == nil {
		t.idle = map[string][]*conn{}
	}
	t.idle[c.addr] = append(t.idle[c.addr], c)
	if t.IdleTimeout > 0 {
		if c.timer == nil {
			c.timer = time.AfterFunc(t.IdleTimeout, func() { t.expire(c) })
		} else {
			c.timer.Reset(t.IdleTimeout)
		}
	}
	t.mu.Unlock()
}

// expire closes c if it is still idle: get may have taken it out of the
// pool while its timer fired.
func (t *Transport) expire(c *conn) {
	t.mu.Lock()
	list := t.idle[c.addr]
	for i, x := range list {
		if x == c {
			t.idle[c.addr] = append(list[:i], list[i+1:]...)
			t.mu.Unlock()
			c.nc.Close()
			return
		}
	}
	t.mu.Unlock()
}

// exchange writes req on c and reads the response's headers.
func (t *Transport) exchange(c *conn, req *http.Request, trace *httptrace.ClientTrace) (*http.Response, error) {
	ctx := req.Context()
	// A cancelled request closes its connection: that ends a blocked read
	// or write at once, here or in the body.
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	fail := func(err error, e roundTripError) (*http.Response, error) {
		stop()
		c.nc.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		e.err = err
		return nil, &e
	}

	cw := &countingWriter{w: c.nc}
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(cw)
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	writers.Put(bw)
	if err != nil {
		return fail(err, roundTripError{nothingWritten: cw.n == 0})
	}
	if trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{})
	}

	if t.ResponseHeaderTimeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(t.ResponseHeaderTimeout))
	}
	c.lr.n = t.MaxResponseHeaderBytes
	if c.lr.n <= 0 {
		c.lr.n = 1 << 20
	}
	if _, err := c.br.Peek(1); err != nil {
		return fail(err, roundTripError{nothingRead: true})
	}
	if trace != nil && trace.GotFirstResponseByte != nil {
		trace.GotFirstResponseByte()
	}
	var resp *http.Response
	for informational := 0; ; informational++ {
		if resp, err = http.ReadResponse(c.br, req); err != nil {
			return fail(err, roundTripError{})
		}
		// 1xx answers (100 Continue, 103 Early Hints) precede the real
		// one; 101 ends HTTP on this connection and is the caller's.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if informational == 5 {
			return fail(errors.New("h1: too many 1xx informational responses"), roundTripError{})
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(err, roundTripError{})
			}
		}
	}
	if t.ResponseHeaderTimeout > 0 {
		c.nc.SetReadDeadline(time.Time{})
	}
	c.lr.n = unlimited
	resp.Body = &body{
		rc: resp.Body, t: t, c: c, ctx: ctx, stop: stop,
		reusable: !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols,
	}
	return resp, nil
}

// body is a response body that hands its connection back when read to
// the end. The relay reads it on one goroutine; Close may come from
// another.
type body struct {
	rc       io.ReadCloser
	t        *Transport
	c        *conn
	ctx      context.Context
	stop     func() bool
	reusable bool
	done     atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		if b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
		b.finish(false)
	}
	return n, err
}

// Wait blocks until the body has bytes (or its end, or an error) to read,
// holding no buffer but the connection's: a relay that waits here and
// then reads into a pooled buffer keeps none of its own while a stream is
// quiet. What ended the wait shows in the Read that follows. A body of
// known length needs no Wait (its last Read returns io.EOF with the last
// bytes; a Wait after them would block until the server's next bytes).
func (b *body) Wait() {
	if b.rc != http.NoBody && !b.done.Load() {
		_, _ = b.c.br.Peek(1)
	}
}

// Close before the end closes the connection: what is left of the
// response would have to be read before the next request. A response
// without a body leaves its connection reusable.
func (b *body) Close() error {
	b.finish(b.rc == http.NoBody)
	return nil
}

func (b *body) finish(reuse bool) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	// stop reports false when the context was cancelled, which closed
	// the connection already.
	if b.stop() && reuse && b.reusable && b.c.br.Buffered() == 0 {
		b.t.put(b.c)
		return
	}
	b.c.nc.Close()
}

// roundTripError says how far a failed exchange got, for the decision to
// send the request again.
type roundTripError struct {
	err            error
	nothingWritten bool // not one byte of the request was written
	nothingRead    bool // not one byte of a response arrived
}

func (e *roundTripError) Error() string { return e.err.Error() }
func (e *roundTripError) Unwrap() error { return e.err }

// retryable follows net/http's Transport: a request nothing of which was
// written may go again if its body can be produced again; one the server
// may have received, only if it is idempotent and no answer began.
func (e *roundTripError) retryable(req *http.Request) bool {
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if e.nothingWritten {
		return replayable
	}
	if !e.nothingRead || !replayable {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

func unwrap(err error) error {
	var rerr *roundTripError
	if errors.As(err, &rerr) {
		return rerr.err
	}
	return err
}

// rewound returns req with a fresh body for a second attempt.
func rewound(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := *req
	r.Body = b
	return &r, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// limitedReader fails a read once n bytes were read: it bounds a
// response's headers (the body's length is the relay's to bound).
type limitedReader struct {
	r io.Reader
	n int64
}

const unlimited = math.MaxInt64

var errHeaderTooLarge = errors.New("h1: the response's headers exceed the limit (MaxResponseHeaderBytes)")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// hostPort adds HTTP's default port to a URL's host when it names none.
func hostPort(host string) string {
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return host
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return net.JoinHostPort(host, "80")
}
