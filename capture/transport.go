package capture

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/capture/egress"
	"github.com/lessllm/lessllm/capture/h1"
	"github.com/lessllm/lessllm/format"
)

// UpstreamTransport is the transport of one provider: pooled keep-alive
// connections (to the upstream, through whichever route dialed them) with
// the configured connect, TLS and response-header timeouts. It never
// decompresses: bytes are relayed and recorded exactly as the upstream
// sent them.
//
// https:// goes over net/http's Transport, with HTTP/2 where the upstream
// offers it. http:// goes over h1.Transport, which reads each response on
// the handler's goroutine: net/http's would keep two goroutines and a
// write buffer per connection, about a fifth of a waiting stream's memory
// (docs/ARCHITECTURE.md, "Memory per stream").
type UpstreamTransport struct {
	plain *h1.Transport
	tls   *http.Transport
}

var _ http.RoundTripper = (*UpstreamTransport)(nil)

// NewTransport returns a provider's transport over the routes of d.
func NewTransport(p config.Proxy, d *egress.Dialer) *UpstreamTransport {
	return &UpstreamTransport{
		plain: &h1.Transport{
			DialContext:           d.DialContext,
			MaxIdlePerHost:        p.Pool.MaxIdlePerHost,
			IdleTimeout:           p.Pool.IdleTimeout,
			ResponseHeaderTimeout: p.Timeouts.ResponseHeader,
		},
		tls: &http.Transport{
			MaxResponseHeaderBytes: 1 << 20, // as h1's: an upstream's headers are a few KB
			DialContext:            d.DialContext,
			ForceAttemptHTTP2:      true,
			MaxIdleConnsPerHost:    p.Pool.MaxIdlePerHost,
			IdleConnTimeout:        p.Pool.IdleTimeout,
			TLSHandshakeTimeout:    p.Timeouts.TLSHandshake,
			ResponseHeaderTimeout:  p.Timeouts.ResponseHeader,
			ExpectContinueTimeout:  time.Second,
			DisableCompression:     true,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		},
	}
}

// RoundTrip sends r over the transport of its URL's scheme.
func (t *UpstreamTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" {
		return t.plain.RoundTrip(r)
	}
	return t.tls.RoundTrip(r)
}

// CloseIdleConnections closes both transports' idle connections.
func (t *UpstreamTransport) CloseIdleConnections() {
	t.plain.CloseIdleConnections()
	t.tls.CloseIdleConnections()
}

// NewTransports returns the RoundTripper a Server uses by default: one
// transport per provider, each dialing over that provider's routes.
func NewTransports(cfg *config.File) (http.RoundTripper, error) {
	t := providerTransports{}
	for name, prov := range cfg.Providers {
		d, err := NewDialer(cfg, prov)
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", name, err)
		}
		t[name] = NewTransport(cfg.Proxy, d)
	}
	return t, nil
}

// providerTransports sends each request over the transport of the provider
// the server routed it to (a context value).
type providerTransports map[string]*UpstreamTransport

type providerKey struct{}

func withProvider(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, providerKey{}, name)
}

func (t providerTransports) RoundTrip(r *http.Request) (*http.Response, error) {
	name, _ := r.Context().Value(providerKey{}).(string)
	tr, ok := t[name]
	if !ok {
		return nil, fmt.Errorf("no transport for provider %q", name)
	}
	return tr.RoundTrip(r)
}

// NewDialer builds a provider's route dialer: its own proxy block, else the
// top-level one, else the standard environment variables (HTTPS_PROXY or
// HTTP_PROXY by the base URL's scheme, then ALL_PROXY; NO_PROXY), else
// direct. Configured proxies apply to loopback upstreams too unless
// no_proxy names them (Go's ProxyFromEnvironment skips loopback silently).
func NewDialer(cfg *config.File, prov *config.Provider) (*egress.Dialer, error) {
	routes := &cfg.Proxy.Routes
	if prov.Proxy != nil && prov.Proxy.Configured() {
		routes = prov.Proxy
	}
	scheme := "https"
	if u, err := url.Parse(prov.BaseURL); err == nil && u.Scheme != "" {
		scheme = u.Scheme
	}
	var list []string
	noProxy := routes.NoProxy
	auth := routes.Auth
	switch {
	case len(routes.Fallback) > 0:
		list = routes.Fallback
	case routes.Configured():
		if scheme == "https" {
			list = appendNonEmpty(list, routes.HTTPSProxy)
		} else {
			list = appendNonEmpty(list, routes.HTTPProxy)
		}
		list = appendNonEmpty(list, routes.SOCKSProxy)
	default:
		list = appendNonEmpty(list, env(strings.ToUpper(scheme)+"_PROXY"))
		if len(list) == 0 {
			list = appendNonEmpty(list, env("ALL_PROXY"))
		}
		if v := env("NO_PROXY"); v != "" {
			noProxy = strings.Split(v, ",")
		}
	}
	d := &egress.Dialer{NoProxy: noProxy, Timeout: cfg.Proxy.Timeouts.Connect, Handshake: cfg.Proxy.Timeouts.TLSHandshake}
	for _, s := range list {
		r, err := egress.ParseRoute(s, auth.Username, auth.Password)
		if err != nil {
			return nil, err
		}
		d.Routes = append(d.Routes, r)
	}
	if routes.CAFile != "" {
		pem, err := os.ReadFile(routes.CAFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", routes.CAFile)
		}
		d.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	return d, nil
}

func appendNonEmpty(list []string, s string) []string {
	if s = strings.TrimSpace(s); s != "" {
		list = append(list, s)
	}
	return list
}

// env reads a proxy variable in either case, upper first (curl's order).
func env(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return os.Getenv(strings.ToLower(name))
}

// traceTimings collects connection milestones as offsets from start.
// httptrace callbacks may run on transport goroutines, hence the mutex.
type traceTimings struct {
	start time.Time
	mu    sync.Mutex
	t     format.Timings
	// route is the route of the connection used; failed, for a new
	// connection, the routes that failed before it.
	route  string
	failed []string
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
			c := egress.ConnOf(info.Conn)
			tt.mu.Lock()
			t.ConnReused = info.Reused
			if c != nil {
				tt.route = c.Route
				if !info.Reused {
					for _, f := range c.Failed {
						tt.failed = append(tt.failed, f.Error())
					}
					t.ProxyHandshake = c.Handshake.Nanoseconds() // 0 when direct
				}
			}
			tt.mu.Unlock()
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { tt.set(&t.WroteRequest) },
		GotFirstResponseByte: func() { tt.set(&t.FirstByte) },
	}
}

// routes returns the route used and the failed attempts before it.
func (tt *traceTimings) routes() (string, []string) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.route, tt.failed
}

// snapshot returns the timings collected so far, with requestRead added.
func (tt *traceTimings) snapshot(requestRead int64) format.Timings {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	t := tt.t
	t.RequestRead = requestRead
	return t
}
