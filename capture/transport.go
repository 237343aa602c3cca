package capture

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
)

// NewTransport returns the upstream transport: pooled keep-alive
// connections, HTTP/2 where the upstream offers it, and the configured
// connect, TLS and response-header timeouts. It never decompresses: bytes
// are relayed and recorded exactly as the upstream sent them.
func NewTransport(p config.Proxy) *http.Transport {
	d := &net.Dialer{Timeout: p.Timeouts.Connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   p.Pool.MaxIdlePerHost,
		IdleConnTimeout:       p.Pool.IdleTimeout,
		TLSHandshakeTimeout:   p.Timeouts.TLSHandshake,
		ResponseHeaderTimeout: p.Timeouts.ResponseHeader,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// traceTimings collects connection milestones as offsets from start.
// httptrace callbacks may run on transport goroutines, hence the mutex.
type traceTimings struct {
	start time.Time
	mu    sync.Mutex
	t     format.Timings
}

func (tt *traceTimings) set(f *int64) {
	d := time.Since(tt.start).Nanoseconds()
	tt.mu.Lock()
	if *f == 0 {
		*f = max(d, 1) // 0 means "did not happen"
	}
	tt.mu.Unlock()
}

func (tt *traceTimings) clientTrace() *httptrace.ClientTrace {
	t := &tt.t
	return &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { tt.set(&t.DNSStart) },
		DNSDone:           func(httptrace.DNSDoneInfo) { tt.set(&t.DNSDone) },
		ConnectStart:      func(string, string) { tt.set(&t.ConnectStart) },
		ConnectDone:       func(string, string, error) { tt.set(&t.ConnectDone) },
		TLSHandshakeStart: func() { tt.set(&t.TLSStart) },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { tt.set(&t.TLSDone) },
		GotConn: func(info httptrace.GotConnInfo) {
			tt.set(&t.GotConn)
			tt.mu.Lock()
			t.ConnReused = info.Reused
			tt.mu.Unlock()
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { tt.set(&t.WroteRequest) },
		GotFirstResponseByte: func() { tt.set(&t.FirstByte) },
	}
}

// snapshot returns the timings collected so far, with requestRead added.
func (tt *traceTimings) snapshot(requestRead int64) format.Timings {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	t := tt.t
	t.RequestRead = requestRead
	return t
}
