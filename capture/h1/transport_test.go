package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// server is an HTTP server on a real socket that counts the connections
// it accepted.
type server struct {
	*httptest.Server
	conns atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	s := &server{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// rawServer answers each connection with handle, for what net/http's
// server would not send.
func rawServer(t *testing.T, handle func(c net.Conn, r *bufio.Reader)) (string, *atomic.Int64) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var accepted atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				handle(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + l.Addr().String(), &accepted
}

func post(t *testing.T, ctx context.Context, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func readAll(t *testing.T, tr *Transport, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp, string(b)
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Write([]byte(r.Method + " " + r.URL.Path + " " + string(b)))
}

func TestKeepAliveReusesConnection(t *testing.T) {
	s := newServer(t, echo)
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	var reused []bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) },
	})
	for i := range 3 {
		_, got := readAll(t, tr, post(t, ctx, s.URL+"/v1/x", strings.Repeat("b", i*5000)))
		if want := "POST /v1/x " + strings.Repeat("b", i*5000); got != want {
			t.Fatalf("body %d: got %d bytes, want %d", i, len(got), len(want))
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections for three requests in a row, want 1", n)
	}
	if want := []bool{false, true, true}; len(reused) != 3 || reused[0] || !reused[1] || !reused[2] {
		t.Errorf("GotConn reused %v, want %v", reused, want)
	}
}

func TestChunkedStreamReadInPieces(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		for i := range 50 {
			io.WriteString(w, "data: "+strings.Repeat("x", i*40)+"\n\n")
			w.(http.Flusher).Flush()
		}
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	for range 2 {
		resp, got := readAll(t, tr, post(t, context.Background(), s.URL, "{}"))
		if resp.TransferEncoding == nil || strings.Count(got, "data: ") != 50 || len(got) != 50*8+40*49*50/2 {
			t.Fatalf("chunked answer: %v, %d bytes", resp.TransferEncoding, len(got))
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestWaitThenReadTakesAllThatCame: Wait returns when the next bytes
// arrive, and one read then takes every chunk that came; Wait after the
// end, or on a body that has none, returns at once.
func TestWaitThenReadTakesAllThatCame(t *testing.T) {
	first, rest, written := make(chan bool), make(chan bool), make(chan bool)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // headers alone
		<-first
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-rest
		for i := range 10 {
			io.WriteString(w, fmt.Sprintf("data: %d\n\n", i))
			w.(http.Flusher).Flush()
		}
		written <- true
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(post(t, context.Background(), s.URL, "{}"))
	if err != nil {
		t.Fatal(err)
	}
	b := resp.Body.(interface{ Wait() })
	waited := make(chan struct{})
	go func() { b.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned before the body's bytes came")
	case <-time.After(50 * time.Millisecond):
	}
	first <- true
	<-waited
	buf := make([]byte, 8<<10)
	if n, err := resp.Body.Read(buf); string(buf[:n]) != "data: first\n\n" || err != nil {
		t.Fatalf("read after Wait: %q, %v", buf[:n], err)
	}
	rest <- true
	<-written // the ten chunks are in the socket
	b.Wait()
	n, err := resp.Body.Read(buf)
	if got := string(buf[:n]); strings.Count(got, "data: ") != 10 || err != nil && err != io.EOF {
		t.Fatalf("one read after Wait got %q (%v), want the ten chunks", got, err)
	}
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Fatalf("after the ten chunks: %q, %v", rest, err)
	}
	b.Wait() // at the end: returns at once

	nobody := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	resp, err = tr.RoundTrip(post(t, context.Background(), nobody.URL, "{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.(interface{ Wait() }).Wait() // no body: returns at once
	resp.Body.Close()
}

func TestServerClosedIdleConnectionIsNotUsed(t *testing.T) {
	// The server answers one request per connection, keep-alive in its
	// headers, and then closes it: the next request must not be lost on
	// the dead connection (a POST would not be sent again).
	url, accepted := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	for i := range 3 {
		if _, got := readAll(t, tr, post(t, context.Background(), url, "{}")); got != "ok" {
			t.Fatalf("request %d: %q", i, got)
		}
		time.Sleep(50 * time.Millisecond) // the server's FIN arrives
	}
	if n := accepted.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

func TestBodyClosedEarlyClosesConnection(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("z", 100_000)))
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(post(t, context.Background(), s.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	readAll(t, tr, post(t, context.Background(), s.URL, ""))
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: a half-read answer's connection cannot carry the next", n)
	}
}

func TestResponseWithoutBodyKeepsConnection(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	for range 2 {
		resp, err := tr.RoundTrip(post(t, context.Background(), s.URL, "x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // not read: nothing to read
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestCancelEndsBodyRead(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then the server notices the client leave
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	tr := &Transport{}
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := tr.RoundTrip(post(t, ctx, s.URL, "{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the read ended %v after the cancel", d)
	}
}

func TestCancelWhileWaitingForHeaders(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then the server notices the client leave
		<-r.Context().Done()
	})
	tr := &Transport{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := tr.RoundTrip(post(t, ctx, s.URL, "{}"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
}

func TestResponseHeaderTimeout(t *testing.T) {
	url, _ := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		http.ReadRequest(r)
		time.Sleep(time.Second)
	})
	tr := &Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	_, err := tr.RoundTrip(post(t, context.Background(), url, "{}"))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want a timeout", err)
	}
}

func TestResponseHeaderTimeoutDoesNotLimitBody(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			io.WriteString(w, "tick\n")
			w.(http.Flusher).Flush()
			time.Sleep(60 * time.Millisecond)
		}
	})
	tr := &Transport{ResponseHeaderTimeout: 40 * time.Millisecond}
	defer tr.CloseIdleConnections()
	if _, got := readAll(t, tr, post(t, context.Background(), s.URL, "{}")); got != "tick\ntick\ntick\n" {
		t.Fatalf("got %q", got)
	}
}

func TestInformationalResponsesAreSkipped(t *testing.T) {
	url, _ := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"+
			"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
	})
	var got1xx []int
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error { got1xx = append(got1xx, code); return nil },
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	resp, body := readAll(t, tr, post(t, ctx, url, "{}"))
	if resp.StatusCode != 200 || body != "done" || len(got1xx) != 2 || got1xx[0] != 100 || got1xx[1] != 103 {
		t.Fatalf("status %d body %q 1xx %v", resp.StatusCode, body, got1xx)
	}
}

func TestCloseDelimitedBody(t *testing.T) {
	url, accepted := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := http.ReadRequest(r); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nuntil the end")
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	for range 2 {
		if _, got := readAll(t, tr, post(t, context.Background(), url, "")); got != "until the end" {
			t.Fatalf("got %q", got)
		}
	}
	if n := accepted.Load(); n != 2 {
		t.Errorf("%d connections, want 2: a body that ends with the connection leaves none to reuse", n)
	}
}

func TestIdleTimeoutClosesConnection(t *testing.T) {
	closed := make(chan struct{})
	url, _ := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		for {
			req, err := http.ReadRequest(r)
			if err != nil {
				close(closed) // the client hung up
				return
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	tr := &Transport{IdleTimeout: 50 * time.Millisecond}
	readAll(t, tr, post(t, context.Background(), url, ""))
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle connection was not closed")
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := len(tr.idle[strings.TrimPrefix(url, "http://")]); n != 0 {
		t.Errorf("%d idle connections left in the pool", n)
	}
}

func TestMaxIdlePerHost(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-release; w.Write([]byte("ok")) })
	tr := &Transport{MaxIdlePerHost: 1}
	defer tr.CloseIdleConnections()
	var resps []*http.Response
	done := make(chan *http.Response)
	for range 3 {
		go func() {
			resp, err := tr.RoundTrip(post(t, context.Background(), s.URL, ""))
			if err != nil {
				t.Error(err)
			}
			done <- resp
		}()
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	for range 3 {
		resps = append(resps, <-done)
	}
	for _, r := range resps {
		if r != nil {
			io.ReadAll(r.Body)
			r.Body.Close()
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := len(tr.idle[strings.TrimPrefix(s.URL, "http://")]); n != 1 {
		t.Errorf("%d idle connections, want 1", n)
	}
}

func TestRejectsOtherSchemes(t *testing.T) {
	req := post(t, context.Background(), "https://example.com/", "{}")
	if _, err := (&Transport{}).RoundTrip(req); err == nil || !strings.Contains(err.Error(), "http://") {
		t.Fatalf("got %v", err)
	}
}

func TestRetryable(t *testing.T) {
	post := func(h string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "http://x/", strings.NewReader("{}"))
		if h != "" {
			r.Header.Set(h, "k1")
		}
		return r
	}
	get, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	unreplayable := post("")
	unreplayable.GetBody = nil
	for _, c := range []struct {
		name string
		e    roundTripError
		req  *http.Request
		want bool
	}{
		{"nothing written, body rewindable", roundTripError{nothingWritten: true, nothingRead: true}, post(""), true},
		{"nothing written, body gone", roundTripError{nothingWritten: true, nothingRead: true}, unreplayable, false},
		{"POST written, no answer", roundTripError{nothingRead: true}, post(""), false},
		{"POST with Idempotency-Key, no answer", roundTripError{nothingRead: true}, post("Idempotency-Key"), true},
		{"POST with X-Idempotency-Key, no answer", roundTripError{nothingRead: true}, post("X-Idempotency-Key"), true},
		{"GET written, no answer", roundTripError{nothingRead: true}, get, true},
		{"GET, answer begun", roundTripError{}, get, false},
	} {
		if got := c.e.retryable(c.req); got != c.want {
			t.Errorf("%s: retryable %v, want %v", c.name, got, c.want)
		}
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"example.com": "example.com:80", "example.com:8080": "example.com:8080",
		"[::1]": "[::1]:80", "[::1]:9": "[::1]:9", "127.0.0.1": "127.0.0.1:80",
	} {
		if got := hostPort(in); got != want {
			t.Errorf("hostPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEndlessHeadersAreRefused(t *testing.T) {
	url, _ := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := http.ReadRequest(r); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Filler: " + strings.Repeat("f", 1000) + "\r\n"
		for range 4 << 10 { // 4 MiB, then the end of the headers
			if _, err := io.WriteString(c, line); err != nil {
				return // the client gave up
			}
		}
		io.WriteString(c, "Content-Length: 0\r\n\r\n")
	})
	tr := &Transport{MaxResponseHeaderBytes: 64 << 10}
	_, err := tr.RoundTrip(post(t, context.Background(), url, "{}"))
	if !errors.Is(err, errHeaderTooLarge) {
		t.Fatalf("got %v, want %v", err, errHeaderTooLarge)
	}
	// Within the limit, the same headers are read whole.
	url, _ = rawServer(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := http.ReadRequest(r); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Long: "+strings.Repeat("l", 30_000)+"\r\nContent-Length: 2\r\n\r\nok")
	})
	resp, body := readAll(t, tr, post(t, context.Background(), url, "{}"))
	if len(resp.Header.Get("X-Long")) != 30_000 || body != "ok" {
		t.Fatalf("a 30 KB header line: %d bytes, body %q", len(resp.Header.Get("X-Long")), body)
	}
}
