// Package capture is lessllm's hot path: a proxy that forwards LLM API
// requests to the configured upstreams, relays responses chunk by chunk
// with a flush per read, and hands every completed exchange — request,
// routing, connection timings, each chunk with its nanosecond offset — to a
// RecordSink. It never tokenizes, prices or queries anything (ARCHITECTURE.md §4);
// it never imports analyze, DuckDB or Parquet.
package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/capture/egress"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/configfile"
	"github.com/lessllm/lessllm/format/wire"
)

// Server is the capturing proxy, an http.Handler. Set its fields before
// the first request and do not change them afterwards.
//
// Unlike httputil.ReverseProxy, it reads the client's request body
// completely before sending anything upstream and sends its own copy. That
// decouples the upstream request from the inbound body, which net/http's
// server closes once response headers are written; a transport still
// holding that body then tears the upstream connection down mid-answer
// (golang/go#40747). Measured here with the keep-alive test's workload
// (curl, 1,000 streamed POSTs over one connection): a bare ReverseProxy
// completed 981, 991 and 976 of 1,000 in three runs ("read error during
// body copy: use of closed network connection"); the same ReverseProxy with
// a Director that swaps the inbound body for an in-memory copy completed
// 1,000 of 1,000 in three runs. LLM request bodies are small and complete
// before the model starts, so nothing is lost by reading them first.
type Server struct {
	// Config is required: providers, aliases, capture limits.
	Config *config.File
	// Transport sends upstream requests. Nil uses NewTransports(Config):
	// one pooled transport per provider over its proxy routes.
	Transport http.RoundTripper
	// Sink receives every exchange. Nil records nothing (a plain proxy).
	Sink RecordSink
	// Logger gets problems and, with AccessLog, one line per exchange (no
	// secrets, no bodies). Nil uses slog.Default().
	Logger *slog.Logger
	// AccessLog logs every exchange at info level (config logging.access_log;
	// Start turns it on at debug level too). False logs none.
	AccessLog bool
	// Metrics, if non-nil, is updated for every exchange.
	Metrics *Metrics
	// Node names this proxy in records. Empty leaves it to the Sink.
	Node string

	initOnce sync.Once
	inflight sync.WaitGroup
	// forced is set when a shutdown's grace period is over and open
	// connections are being closed: exchanges cut from then on are recorded
	// as shutdown, not as client disconnects.
	forced atomic.Bool
	// inboundKeys are the SHA-256 hashes of the keys clients must present
	// (config inbound_keys); empty admits everyone.
	inboundKeys map[string]bool
	// endpoints may use a configured API key (config allowed_endpoints).
	endpoints []config.Endpoint
}

// admit checks the client's lessllm key: X-Lessllm-Key (the client keeps
// its own provider key in Authorization), or the API key header itself.
// Every header that carries an inbound key is removed — a key sent twice,
// or under a custom name, is never forwarded — and the key is kept in
// X-Lessllm-Key (X-Lessllm-* headers stay here), so the provider's
// configured key is used upstream and the record keeps only its
// fingerprint.
func (s *Server) admit(r *http.Request) bool {
	key := ""
	for name, vs := range r.Header {
		for _, v := range vs {
			if k := credential(v); k != "" && s.inboundKeys[config.HashKey(k)] {
				key = k
				delete(r.Header, name)
				break
			}
		}
	}
	if r.Header.Get("X-Lessllm-Key") != "" || key == "" { // a lessllm key that is not one
		return false
	}
	r.Header.Set("X-Lessllm-Key", key)
	return true
}

// credential is the credential of an auth header value: what follows an
// auth scheme ("Bearer", any case, any spaces), else the whole value.
func credential(v string) string {
	v = strings.TrimSpace(v)
	if scheme, rest, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "bearer") {
		return strings.TrimSpace(rest)
	}
	return v
}

var _ http.Handler = (*Server)(nil)

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.Transport == nil {
			t, err := NewTransports(s.Config)
			if err != nil { // Config was validated: only a CA file that vanished since
				t = failingTransport{err}
			}
			s.Transport = t
		}
		if s.Logger == nil {
			s.Logger = slog.Default()
		}
		s.inboundKeys = s.Config.InboundKeyHashes()
		s.endpoints = s.Config.Endpoints()
	})
}

// Wait blocks until every exchange in flight has been handed to the Sink.
func (s *Server) Wait() { s.inflight.Wait() }

// exchange is the state of one request while it is proxied.
type exchange struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	start  time.Time
	rec    format.Exchange
	trace  *traceTimings
	rt     *route
	tr     bodyRewriter // set when the client must get another body than the upstream's
	status int          // status sent to the client (0: none)

	requestRead int64 // offset when the client's body was fully read
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	// Not a forward proxy: CONNECT and absolute-form requests
	// ("GET http://other-host/…", RFC 9112 §3.2.2) name a destination of
	// the client's choosing; lessllm only ever contacts configured upstreams.
	if r.Method == http.MethodConnect || !strings.HasPrefix(r.RequestURI, "/") {
		s.Logger.Warn("request refused: lessllm is not a forward proxy", "remote", r.RemoteAddr, "method", r.Method, "uri", r.RequestURI)
		writeAPIError(w, wire.OpenAI, http.StatusBadRequest, "not_a_forward_proxy",
			"lessllm is an API proxy, not a forward proxy: send API requests to its own URL (e.g. http://127.0.0.1:8000/v1/...)")
		return
	}
	// A path with dot segments or empty segments ("/v1/../../admin", also
	// percent-encoded) could walk out of a provider's base path on its host.
	if p := r.URL.Path; p != "/" && path.Clean(p) != strings.TrimSuffix(p, "/") {
		s.Logger.Warn("request refused: path not in canonical form", "remote", r.RemoteAddr, "path", p)
		writeAPIError(w, wire.OpenAI, http.StatusBadRequest, "bad_path", fmt.Sprintf("lessllm: path %q is not in canonical form (no . or .. segments, no //)", p))
		return
	}
	if len(s.inboundKeys) > 0 && !s.admit(r) {
		// Refused before anything is forwarded or recorded.
		dialect := dialectOf(r)
		if dialect == "" {
			dialect = wire.OpenAI
		}
		s.Logger.Warn("request refused: no valid lessllm key", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
		writeAPIError(w, dialect, http.StatusUnauthorized, "invalid_lessllm_key",
			"lessllm: this proxy needs a lessllm key: send it as the API key, or in X-Lessllm-Key next to your provider key")
		return
	}
	s.inflight.Add(1)
	defer s.inflight.Done()
	if s.Metrics != nil {
		s.Metrics.inflight.Inc()
		defer s.Metrics.inflight.Dec()
	}
	x := &exchange{s: s, w: w, r: r, start: time.Now()}
	x.trace = &traceTimings{start: x.start}
	x.rec = format.Exchange{
		V: format.RecordVersion, ID: format.NewID(x.start), Node: s.Node, StartNS: x.start.UnixNano(),
		Request: format.Request{Method: r.Method, Path: r.URL.Path, Query: format.RedactQuery(r.URL.RawQuery),
			Headers: format.RedactHeader(r.Header, s.Config.Capture.RedactHeaders)},
	}
	defer x.finish()
	x.proxy()
}

func (x *exchange) since() int64 { return time.Since(x.start).Nanoseconds() }

// fail ends an exchange that got no upstream response: it is recorded, and
// the client gets an error in its API's format (unless it is gone).
func (x *exchange) fail(dialect wire.Dialect, status int, kind, code, msg string) {
	x.rec.Error = &format.Error{Kind: kind, Message: msg, AtNS: x.since()}
	if kind == format.ErrClientDisconnect {
		return
	}
	x.status = status
	writeAPIError(x.w, dialect, status, code, msg)
}

func (x *exchange) proxy() {
	s, r := x.s, x.r
	dialect := dialectOf(r)
	if dialect == "" {
		x.fail(wire.OpenAI, http.StatusNotFound, format.ErrRejected, "unknown_path",
			fmt.Sprintf("lessllm proxies /v1/... API paths (and Azure OpenAI's /openai/..., Gemini's /v1beta/..., Bedrock's /model/...) only; %q is not one", r.URL.Path))
		return
	}
	if s.Config.Capture.OnWriteError == "reject" && s.Sink != nil && !s.Sink.Healthy() {
		x.fail(dialect, http.StatusServiceUnavailable, format.ErrRejected, "capture_unavailable",
			"lessllm cannot record exchanges right now and is configured to refuse requests (capture.on_write_error: reject)")
		return
	}
	body, err := x.readBody()
	x.rec.Request.SetBody(capBytes(body, s.Config.Capture.MaxBodyBytes), int64(len(body)))
	x.requestRead = x.since()
	switch {
	case errors.Is(err, errTooLarge):
		x.fail(dialect, http.StatusRequestEntityTooLarge, format.ErrRejected, "request_too_large",
			fmt.Sprintf("request body exceeds lessllm's limit of %d bytes (capture.max_request_bytes)", s.Config.Capture.MaxRequestBytes))
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		x.fail(dialect, http.StatusRequestTimeout, format.ErrRequestRead, "request_timeout",
			fmt.Sprintf("the request body did not arrive within %s (capture.read_body_timeout)", s.Config.Capture.ReadBodyTimeout))
		return
	case err != nil:
		x.fail(dialect, http.StatusBadRequest, format.ErrRequestRead, "request_read_failed", "reading the request body failed: "+err.Error())
		return
	}
	// A compressed request body (the Codex CLI zstd-compresses large ones)
	// is decoded where lessllm must read it: to route by model, to rewrite
	// or translate it. It is forwarded as it came otherwise.
	plain := body
	if ce := r.Header.Get("Content-Encoding"); len(wire.Codings(ce)) > 0 && len(s.Config.Models) > 0 {
		if plain, err = wire.DecodeBody(ce, body, int64(s.Config.Capture.MaxRequestBytes)); err != nil {
			x.fail(dialect, http.StatusBadRequest, format.ErrRejected, "undecodable_request", "lessllm cannot read the request body: "+err.Error())
			return
		}
	}

	rt, err := resolve(s.Config, dialect, r, plain)
	if err != nil {
		x.fail(dialect, http.StatusBadRequest, format.ErrRejected, "no_route", err.Error())
		return
	}
	x.rt = rt
	x.rec.Route = &format.Route{Provider: rt.providerName, Dialect: string(dialect), Model: rt.model,
		UpstreamModel: rt.upstreamModel, URL: format.RedactURL(rt.url), Proxy: "direct"}
	if rt.alias && !(rt.clientAuth && clientKey(r.Header)) && rt.provider.MissingKey() != "" {
		// Forwarded without a key, the call would fail upstream with an
		// error about the provider's auth that says nothing of lessllm.
		x.fail(dialect, http.StatusUnauthorized, format.ErrRejected, "no_api_key",
			fmt.Sprintf("lessllm: model alias %q goes to provider %s, which has no API key: %s is not set where lessllm runs (set it, or api_key for providers.%s in lessllm.yaml)",
				rt.model, rt.providerName, rt.provider.MissingKey(), rt.providerName))
		return
	}
	if usesConfiguredKey(r.Header, rt) && !endpointAllowed(s.endpoints, r.Method, r.URL.EscapedPath()) {
		x.fail(dialect, http.StatusForbidden, format.ErrRejected, "endpoint_not_allowed",
			fmt.Sprintf("lessllm: %s %s may not use the API key configured for provider %s (allowed_endpoints); send your own key for it, or add the endpoint to allowed_endpoints",
				r.Method, r.URL.Path, rt.providerName))
		return
	}
	upBody := body
	switch {
	case rt.translate:
		x.rec.Route.UpstreamDialect = string(rt.upstreamDialect)
		var warnings []string
		if dialect == wire.OpenAI {
			upBody, warnings, err = wire.OpenAIChatToAnthropic(plain, rt.bodyModel)
		} else {
			upBody, warnings, err = wire.AnthropicToOpenAIChatRequest(plain, rt.bodyModel)
		}
		x.rec.Warnings = warnings
		if err != nil {
			x.fail(dialect, http.StatusBadRequest, format.ErrRejected, "untranslatable_request", "lessllm cannot send this request to "+rt.providerName+": "+err.Error())
			return
		}
		x.tr = newResponseTranslator(dialect, plain, rt.model, x.start, int64(s.Config.Capture.MaxBodyBytes))
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models" && len(s.Config.Models) > 0:
		x.tr = &modelsLister{dialect: dialect, aliases: s.Config.Models}
	case rt.alias && rt.bodyModel != "" && rt.bodyModel != rt.model:
		if upBody, err = rewriteModel(plain, rt.bodyModel); err != nil {
			x.fail(dialect, http.StatusBadRequest, format.ErrRejected, "invalid_json", "request body is not a JSON object: "+err.Error())
			return
		}
	}
	if rt.provider.Type == config.Bedrock && dialect != wire.Bedrock {
		// A Messages request (the client's, or translated) goes to
		// Bedrock's invoke; its answer comes back as the Messages API's.
		if !rt.translate {
			upBody = plain
		}
		if upBody, _, err = bedrockMessagesBody(upBody); err != nil {
			x.fail(dialect, http.StatusBadRequest, format.ErrRejected, "invalid_json", "request body is not a JSON object: "+err.Error())
			return
		}
		x.rec.Route.UpstreamDialect = string(wire.Bedrock)
		x.tr = &eventStreamToSSE{next: x.tr}
	}

	// The upstream request outlives the client by clientGoneGrace: an SDK
	// that has read the final event ([DONE], message_stop) often hangs up
	// before the upstream's end of body arrives, and that exchange is
	// complete, not a disconnect. A client that leaves mid-answer still
	// cancels the upstream request (and its billing) that much later.
	ctx, cancel := context.WithCancel(httptrace.WithClientTrace(withProvider(context.WithoutCancel(r.Context()), rt.providerName), x.trace.clientTrace()))
	defer cancel()
	stop := context.AfterFunc(r.Context(), func() { time.AfterFunc(clientGoneGrace, cancel) })
	defer stop()
	up, err := http.NewRequestWithContext(ctx, r.Method, rt.url, bytes.NewReader(upBody))
	if err != nil {
		x.fail(dialect, http.StatusBadRequest, format.ErrRejected, "bad_request", err.Error())
		return
	}
	up.Header = upstreamHeader(r.Header, rt)
	if !bytes.Equal(upBody, body) {
		up.Header.Del("Content-Encoding") // lessllm rewrote it: it goes plain
	}
	if x.tr != nil {
		// The body is rewritten here, so it must arrive readable. (Other
		// answers are relayed as they come, compressed or not, and
		// decoded by analyze.)
		up.Header.Set("Accept-Encoding", "identity")
	}
	if rt.provider.Type == config.Bedrock {
		signer, err := signerFor(ctx, rt.provider)
		if err == nil {
			err = signer.sign(ctx, up, upBody)
		}
		if err != nil {
			x.fail(dialect, http.StatusBadGateway, format.ErrRejected, "aws_credentials", "lessllm cannot sign the request to "+rt.providerName+": "+err.Error())
			return
		}
	}
	x.recordUpstream(up, upBody, body)

	resp, err := s.Transport.RoundTrip(up)
	x.recordRoute(err)
	if err != nil {
		kind, status := classifyUpstream(r.Context(), false, err)
		if x.s.forced.Load() && kind == format.ErrClientDisconnect {
			kind = format.ErrShutdown
		}
		x.fail(dialect, status, kind, kind, format.RedactURLs(fmt.Sprintf("lessllm: upstream %s (%s) failed before responding: %v", rt.providerName, rt.url, err)))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// lessllm relays HTTP API calls; a protocol switch would turn the
		// connection into an unrecorded tunnel.
		x.fail(dialect, http.StatusBadGateway, format.ErrUpstreamBroken, "upstream_switched_protocols",
			fmt.Sprintf("lessllm: upstream %s answered 101 Switching Protocols; only HTTP API calls are relayed", rt.providerName))
		return
	}
	x.relay(resp, cancel)
}

// recordRoute names the route of the connection used and the routes that
// failed before it; when every route failed, the route is "none" and err
// lists them.
func (x *exchange) recordRoute(err error) {
	route, failed := x.trace.routes()
	var all *egress.AllFailedError
	if errors.As(err, &all) {
		route, failed = "none", nil
		for _, t := range all.Tried {
			failed = append(failed, t.Error())
		}
	}
	if route != "" {
		x.rec.Route.Proxy = route
	}
	x.rec.Route.FailedRoutes = failed
	if len(failed) > 0 {
		x.s.Logger.Warn("proxy route failed", "provider", x.rt.providerName, "used", x.rec.Route.Proxy, "failed", strings.Join(failed, "; "))
	}
}

// failingTransport answers every request with the error that kept the
// transports from being built.
type failingTransport struct{ err error }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// recordUpstream keeps the upstream request in the record when it differs
// from the client's: another body (alias), or credentials we supplied.
func (x *exchange) recordUpstream(up *http.Request, upBody, body []byte) {
	sameBody := bytes.Equal(upBody, body)
	sameAuth := true
	for _, h := range authHeaders {
		if up.Header.Get(h) != x.r.Header.Get(h) {
			sameAuth = false
		}
	}
	if sameBody && sameAuth {
		return
	}
	u := &format.Request{Method: up.Method, Path: up.URL.Path, Query: format.RedactQuery(up.URL.RawQuery), URL: format.RedactURL(up.URL.String()),
		Headers: format.RedactHeader(up.Header, x.s.Config.Capture.RedactHeaders)}
	if !sameBody {
		u.SetBody(capBytes(upBody, x.s.Config.Capture.MaxBodyBytes), int64(len(upBody)))
	}
	x.rec.Upstream = u
}

// finish completes the record and hands it to the sink, and logs the
// exchange. It runs even when the handler aborts the client's stream.
func (x *exchange) finish() {
	x.rec.EndNS = x.since()
	x.rec.Timings = x.trace.snapshot(x.requestRead)
	s := x.s
	provider := ""
	if x.rt != nil {
		provider = x.rt.providerName
	}
	var respBytes int64
	if x.rec.Response != nil {
		respBytes = x.rec.Response.Bytes
	}
	errKind := ""
	if x.rec.Error != nil {
		errKind = x.rec.Error.Kind
	}
	if s.Metrics != nil {
		s.Metrics.observe(provider, x.status, x.rec.Request.Bytes, respBytes, float64(x.rec.EndNS)/1e9, errKind)
	}
	if s.AccessLog && s.Logger.Enabled(context.Background(), slog.LevelInfo) {
		x.log(provider, respBytes)
	}
	if s.Sink != nil {
		s.Sink.Record(&x.rec)
	}
}

// log writes the exchange's access-log line: no keys, no bodies.
func (x *exchange) log(provider string, respBytes int64) {
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs, slog.String("id", x.rec.ID), slog.String("method", x.r.Method), slog.String("path", x.r.URL.Path),
		slog.String("provider", provider), slog.Int("status", x.status), slog.Float64("ms", float64(x.rec.EndNS)/1e6),
		slog.Int64("req_bytes", x.rec.Request.Bytes), slog.Int64("resp_bytes", respBytes))
	if x.rt != nil && x.rt.model != "" {
		attrs = append(attrs, slog.String("model", x.rt.model))
	}
	if x.rec.Error != nil {
		attrs = append(attrs, slog.String("error", x.rec.Error.Kind), slog.String("error_msg", x.rec.Error.Message))
	}
	if x.s.Logger.Enabled(context.Background(), slog.LevelDebug) {
		attrs = x.debugAttrs(attrs)
	}
	x.s.Logger.LogAttrs(context.Background(), slog.LevelInfo, "exchange", attrs...)
}

// debugAttrs adds what a developer chasing one slow or failing call wants
// (logging.level debug): where it went and the connection's milestones in
// milliseconds. Still no keys and no bodies: the URL is the recorded one,
// credentials in its query string already replaced.
func (x *exchange) debugAttrs(attrs []slog.Attr) []slog.Attr {
	if rt := x.rec.Route; rt != nil {
		attrs = append(attrs, slog.String("url", rt.URL), slog.String("route", rt.Proxy))
		if rt.UpstreamModel != "" {
			attrs = append(attrs, slog.String("upstream_model", rt.UpstreamModel))
		}
		if rt.UpstreamDialect != "" {
			attrs = append(attrs, slog.String("translated", rt.Dialect+"->"+rt.UpstreamDialect))
		}
		if len(rt.FailedRoutes) > 0 {
			attrs = append(attrs, slog.Any("failed_routes", rt.FailedRoutes))
		}
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	t := x.rec.Timings
	attrs = append(attrs, slog.Bool("conn_reused", t.ConnReused))
	for _, m := range []struct {
		name   string
		at, to int64
	}{{"dns_ms", t.DNSStart, t.DNSDone}, {"connect_ms", t.ConnectStart, t.ConnectDone}, {"tls_ms", t.TLSStart, t.TLSDone}} {
		if m.to > 0 {
			attrs = append(attrs, slog.Float64(m.name, ms(m.to-m.at)))
		}
	}
	if t.FirstByte > 0 {
		attrs = append(attrs, slog.Float64("first_byte_ms", ms(t.FirstByte)))
	}
	if x.rec.Response != nil {
		attrs = append(attrs, slog.Int("chunks", len(x.rec.Response.Chunks)), slog.Bool("truncated", x.rec.Response.Truncated))
	}
	if len(x.rec.Warnings) > 0 {
		attrs = append(attrs, slog.Any("warnings", x.rec.Warnings))
	}
	return attrs
}

// clientGoneGrace is how long the upstream request goes on after the client
// hung up (see proxy).
const clientGoneGrace = 50 * time.Millisecond

var errTooLarge = errors.New("request body too large")

// readBody reads the whole request body, up to capture.max_request_bytes,
// within capture.read_body_timeout. Memory grows with the bytes that
// actually arrive, never with what Content-Length announces: a client
// announcing 64 MiB and sending one byte holds one small buffer.
func (x *exchange) readBody() ([]byte, error) {
	r := x.r
	limit := int64(x.s.Config.Capture.MaxRequestBytes)
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	// The deadline covers the body only: it is lifted before the answer
	// streams, when the server's background read must not time out.
	rc := http.NewResponseController(x.w)
	if rc.SetReadDeadline(time.Now().Add(x.s.Config.Capture.ReadBodyTimeout)) == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	var buf bytes.Buffer
	buf.Grow(int(min(max(r.ContentLength+1, 512), 64<<10))) // +1: EOF without a second read
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if n > limit {
		return buf.Bytes()[:limit], errTooLarge
	}
	return buf.Bytes(), err
}

func capBytes(b []byte, limit configfile.ByteSize) []byte {
	if int64(len(b)) > int64(limit) {
		return b[:limit]
	}
	return b
}
