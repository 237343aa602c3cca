// Package apitest is a simulated OpenAI + Anthropic + Gemini + Bedrock API
// (Azure OpenAI's paths to the OpenAI one, azure.go; Gemini's, gemini.go;
// Bedrock Runtime's, bedrock.go) — a test upstream,
// as net/http/httptest is a test server — for tests, benchmarks, the demo
// and `lessllm simulate`. It is not on capture's path: capture forwards to
// it as to any upstream. It speaks the real wire formats (checked with the
// official Go SDKs), paces tokens with a configurable first-token delay and
// per-token time, models each provider's documented prompt caching, and
// injects faults on request.
//
// Per-request controls are headers, so one simulator serves every test:
//
//	X-Sim-Fault: 429 | 500 | 529 | stall | stall-mid | reset | reset-mid
//	X-Sim-Output-Tokens: N       tokens to generate (default Options.OutputTokens, capped by max_tokens)
//	X-Sim-TTFT-Ms, X-Sim-TPOT-Ms override the pacing for this request
//	X-Sim-Stamp: 1               each streamed token's text is " @<Unix ns when sent>", so a
//	                             client can measure per-token delivery delay (it survives translation)
package apitest

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lessllm/lessllm/format/wire"
)

// Options configure a Simulator. Zero values select the defaults; a
// negative TTFT or TPOT means no delay at all (benchmarks of the proxy
// itself, where timer wake-ups would only add noise).
type Options struct {
	TTFT         time.Duration // first token delay; default 150ms
	TPOT         time.Duration // time per further token; default 20ms
	Jitter       float64       // ± fraction applied to every delay; default 0 (exact)
	OutputTokens int           // default 40
	Seed         uint64
	// NoCache disables the prompt-cache model (cached counts stay 0).
	NoCache bool
	// Now is the clock of the cache model; default time.Now.
	Now func() time.Time
	// AWSCredentials, when set, are the access keys (id → secret) whose
	// SigV4 signatures Bedrock calls must carry, checked exactly; nil
	// checks only that calls are signed for bedrock.
	AWSCredentials map[string]string
	// Encodings are the content codings answers are compressed with, in
	// order of preference, when the client's Accept-Encoding allows one.
	// Nil means DefaultEncodings; an empty non-nil list never compresses.
	Encodings []string
}

// Simulator is an http.Handler serving the simulated APIs.
type Simulator struct {
	opts  Options
	cache *cacheModel
	mux   *http.ServeMux
	rngMu sync.Mutex
	rng   *rand.Rand
	seq   atomic.Int64

	mu       sync.Mutex
	received []Received
	keep     int
}

// Received is a request as the simulator saw it, kept for tests that check
// what reached the upstream (headers, body).
type Received struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

var _ http.Handler = (*Simulator)(nil)

// New returns a simulator.
func New(opts Options) *Simulator {
	if opts.TTFT == 0 {
		opts.TTFT = 150 * time.Millisecond
	}
	if opts.TPOT == 0 {
		opts.TPOT = 20 * time.Millisecond
	}
	if opts.OutputTokens == 0 {
		opts.OutputTokens = 40
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Encodings == nil {
		opts.Encodings = DefaultEncodings
	}
	s := &Simulator{opts: opts, cache: newCacheModel(), rng: rand.New(rand.NewPCG(opts.Seed, 0x5eed)), keep: 1000}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v1/chat/completions", s.chat)
	s.mux.HandleFunc("POST /v1/responses", s.responses)
	s.mux.HandleFunc("POST /v1/messages", s.messages)
	s.mux.HandleFunc("POST /v1/messages/count_tokens", s.countTokens)
	s.mux.HandleFunc("POST /v1/completions", s.completions)
	s.mux.HandleFunc("POST /v1/embeddings", s.embeddings)
	s.mux.HandleFunc("GET /v1/models", s.models)
	s.routeAzure()
	s.routeGemini()
	s.routeBedrock()
	return s
}

// Received returns the last requests served (at most 1000), oldest first.
func (s *Simulator) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	// Clients compress large request bodies (the Codex CLI sends zstd).
	if ce := r.Header.Get("Content-Encoding"); ce != "" {
		if body, err = wire.DecodeBody(ce, body, 64<<20); err != nil {
			writeError(w, wire.OpenAI, http.StatusBadRequest, "invalid_request_error", "request body: "+err.Error())
			return
		}
	}
	if coding := encoding(s.opts.Encodings, r.Header.Get("Accept-Encoding")); coding != "" {
		cw := &compressWriter{ResponseWriter: w, coding: coding}
		defer cw.close()
		w = cw
	}
	s.mu.Lock()
	if len(s.received) >= s.keep {
		s.received = s.received[1:]
	}
	s.received = append(s.received, Received{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	if s.fault(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// call is one generation request, parsed into what the simulator needs.
type call struct {
	w        http.ResponseWriter
	r        *http.Request
	model    string
	stream   bool
	usage    bool // OpenAI stream_options.include_usage
	tokens   int  // output tokens to generate
	limited  bool // the request's token limit ended generation (finish_reason length / stop_reason max_tokens)
	ttft     time.Duration
	tpot     time.Duration
	prompt   promptTokens
	faultMid bool // fault after a few chunks
	stamp    bool // X-Sim-Stamp: tokens carry their send time
	begun    time.Time
}

// token is the text of streamed token i.
func (c *call) token(i int) string {
	if c.stamp {
		return " @" + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	return word(i)
}

// start parses the common fields; it writes a 400 and returns nil when the
// body is not a JSON object.
func (s *Simulator) start(w http.ResponseWriter, r *http.Request, dialect wire.Dialect, maxTokensField string) (*call, map[string]any) {
	begun := time.Now()
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, dialect, http.StatusBadRequest, "invalid_request_error", "request body is not a JSON object: "+err.Error())
		return nil, nil
	}
	c := &call{w: w, r: r, ttft: s.opts.TTFT, tpot: s.opts.TPOT, tokens: s.opts.OutputTokens, begun: begun}
	c.model, _ = req["model"].(string)
	c.stream, _ = req["stream"].(bool)
	limits := req
	if dialect == wire.Gemini { // the path names the model; limits are in generationConfig
		c.model, _, _ = strings.Cut(r.PathValue("method"), ":")
		limits, _ = req["generationConfig"].(map[string]any)
	}
	if so, ok := req["stream_options"].(map[string]any); ok {
		c.usage, _ = so["include_usage"].(bool)
	}
	if v, err := strconv.Atoi(r.Header.Get("X-Sim-Output-Tokens")); err == nil && v > 0 {
		c.tokens = v
	}
	for _, f := range []string{maxTokensField, "max_completion_tokens"} {
		if mt, ok := limits[f].(float64); ok && int(mt) <= c.tokens && mt > 0 {
			c.tokens, c.limited = int(mt), true
		}
	}
	if v, err := strconv.Atoi(r.Header.Get("X-Sim-TTFT-Ms")); err == nil {
		c.ttft = time.Duration(v) * time.Millisecond
	}
	if v, err := strconv.Atoi(r.Header.Get("X-Sim-TPOT-Ms")); err == nil {
		c.tpot = time.Duration(v) * time.Millisecond
	}
	c.faultMid = strings.HasSuffix(r.Header.Get("X-Sim-Fault"), "-mid")
	c.stamp = r.Header.Get("X-Sim-Stamp") == "1"
	if c.model == "" {
		writeError(w, dialect, http.StatusBadRequest, "invalid_request_error", "model is required")
		return nil, nil
	}
	return c, req
}

// jittered applies the configured ± jitter to d; a negative d is no delay.
func (s *Simulator) jittered(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	if s.opts.Jitter > 0 {
		s.rngMu.Lock()
		d = time.Duration(float64(d) * (1 + s.opts.Jitter*(2*s.rng.Float64()-1)))
		s.rngMu.Unlock()
	}
	return d
}

// waitUntil waits until t, or until the client goes away.
func (s *Simulator) waitUntil(c *call, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return c.r.Context().Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-c.r.Context().Done():
		return false
	}
}

// Text returns the text the simulator generates for n output tokens, so
// tests can check what a client received.
func Text(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(word(i))
	}
	return b.String()
}

// word returns the i-th generated token's text: deterministic prose.
func word(i int) string {
	return " " + vocabulary[(i*7+i/3)%len(vocabulary)]
}

var vocabulary = strings.Fields(`the quick brown fox jumps over a lazy dog while streams of tokens arrive
at steady pace through proxies caches and networks measuring latency cost and time carefully`)

func (s *Simulator) id(prefix string) string {
	return fmt.Sprintf("%s%08x%012x", prefix, s.seq.Add(1), time.Now().UnixNano()&0xffffffffffff)
}

// sse writes one server-sent event and flushes it.
func sse(w http.ResponseWriter, event string, data []byte) {
	if event != "" {
		io.WriteString(w, "event: "+event+"\n")
	}
	io.WriteString(w, "data: ")
	w.Write(data)
	io.WriteString(w, "\n\n")
	w.(http.Flusher).Flush()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(mustJSON(v))
}

// writeError writes an error in the dialect's own shape (Gemini's names
// its kind by the status, not typ).
func writeError(w http.ResponseWriter, dialect wire.Dialect, status int, typ, msg string) {
	switch dialect {
	case wire.Anthropic:
		writeJSON(w, status, map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
		return
	case wire.Gemini:
		writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg, "status": wire.GeminiStatus(status)}})
		return
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})
}

// fault injects the X-Sim-Fault failures that happen before any response.
func (s *Simulator) fault(w http.ResponseWriter, r *http.Request) bool {
	dialect := wire.DialectOf(r.URL.Path, r.Header)
	switch r.Header.Get("X-Sim-Fault") {
	case "429":
		w.Header().Set("Retry-After", "2")
		typ := "rate_limit_exceeded"
		if dialect == wire.Anthropic {
			typ = "rate_limit_error"
		}
		writeError(w, dialect, http.StatusTooManyRequests, typ, "Rate limit reached (simulated)")
	case "500":
		typ := "server_error"
		if dialect == wire.Anthropic {
			typ = "api_error"
		}
		writeError(w, dialect, http.StatusInternalServerError, typ, "The server had an error (simulated)")
	case "529":
		writeError(w, dialect, 529, "overloaded_error", "Overloaded (simulated)")
	case "stall":
		<-r.Context().Done() // never answer
	case "reset":
		hijackClose(w)
	default:
		return false
	}
	return true
}

// midFault is called after a few streamed chunks of a *-mid fault.
func midFault(c *call) {
	switch c.r.Header.Get("X-Sim-Fault") {
	case "stall-mid":
		<-c.r.Context().Done()
	case "reset-mid":
		hijackClose(c.w)
	}
	panic(http.ErrAbortHandler) // end the handler without a clean end of stream
}

// hijackClose drops the TCP connection with an RST, as a crashing upstream
// or a middlebox would.
func hijackClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func (s *Simulator) models(w http.ResponseWriter, r *http.Request) {
	created := time.Date(2024, 5, 13, 0, 0, 0, 0, time.UTC).Unix()
	var data []map[string]any
	for _, m := range []string{"gpt-4o", "gpt-4o-mini", "gpt-4.1", "text-embedding-3-small"} {
		data = append(data, map[string]any{"id": m, "object": "model", "created": created, "owned_by": "system"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Simulator) embeddings(w http.ResponseWriter, r *http.Request) {
	c, req := s.start(w, r, wire.OpenAI, "")
	if c == nil {
		return
	}
	inputs := []string{}
	switch in := req["input"].(type) {
	case string:
		inputs = append(inputs, in)
	case []any:
		for _, v := range in {
			inputs = append(inputs, fmt.Sprint(v))
		}
	}
	var data []map[string]any
	tokens := 0
	for i, in := range inputs {
		vec := make([]float64, 8)
		for j := range vec {
			vec[j] = float64((len(in)*31+j*17)%100) / 100
		}
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": vec})
		tokens += countTokens(in)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "model": c.model,
		"usage": map[string]any{"prompt_tokens": tokens, "total_tokens": tokens}})
}

func (s *Simulator) countTokens(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, wire.Anthropic, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"input_tokens": anthropicPrompt(req).total()})
}

func (s *Simulator) completions(w http.ResponseWriter, r *http.Request) {
	c, req := s.start(w, r, wire.OpenAI, "max_tokens")
	if c == nil {
		return
	}
	prompt, _ := req["prompt"].(string)
	pt := countTokens(prompt)
	id := s.id("cmpl-")
	created := time.Now().Unix()
	var text strings.Builder
	if c.stream {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		if !s.stream(c, func(i int) {
			fin := any(nil)
			if i == c.tokens-1 {
				fin = "length"
			}
			sse(w, "", mustJSON(map[string]any{"id": id, "object": "text_completion", "created": created, "model": c.model,
				"choices": []any{map[string]any{"text": word(i), "index": 0, "logprobs": nil, "finish_reason": fin}}}))
		}) {
			return
		}
		sse(w, "", []byte("[DONE]"))
		return
	}
	for i := 0; i < c.tokens; i++ {
		text.WriteString(word(i))
	}
	if !s.waitUntil(c, c.begun.Add(s.jittered(c.ttft+time.Duration(max(c.tokens-1, 0))*max(c.tpot, 0)))) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "text_completion", "created": created, "model": c.model,
		"choices": []any{map[string]any{"text": text.String(), "index": 0, "logprobs": nil, "finish_reason": "length"}},
		"usage":   map[string]any{"prompt_tokens": pt, "completion_tokens": c.tokens, "total_tokens": pt + c.tokens}})
}
