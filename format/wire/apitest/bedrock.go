package apitest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/lessllm/lessllm/format/wire"
)

// Amazon Bedrock Runtime (docs.aws.amazon.com/bedrock/latest/APIReference),
// for Anthropic's models: /model/{id}/invoke and /invoke-with-response-stream
// take a Messages body (anthropic_version "bedrock-2023-05-31", no model)
// and answer the Messages API's answer, streamed as event-stream "chunk"
// messages; /converse and /converse-stream speak Bedrock's own format. The
// simulator answers through its Messages handler and re-frames what it
// writes. Every call must be signed with SigV4 for service bedrock; with
// Options.AWSCredentials set, the signature is checked against the secret
// of its access key, so a test sees whether a signature survived the way.

func (s *Simulator) routeBedrock() {
	s.mux.HandleFunc("POST /model/{id}/invoke", s.sigV4(s.invoke))
	s.mux.HandleFunc("POST /model/{id}/invoke-with-response-stream", s.sigV4(s.invoke))
	s.mux.HandleFunc("POST /model/{id}/converse", s.sigV4(s.converse))
	s.mux.HandleFunc("POST /model/{id}/converse-stream", s.sigV4(s.converse))
	s.mux.HandleFunc("GET /foundation-models", s.sigV4(s.foundationModels)) // the control plane's list, for lessllm check
}

// sigV4 refuses a request that is not signed with SigV4 — or, when the
// simulator knows the access key's secret, whose signature does not match.
func (s *Simulator) sigV4(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if msg := s.checkSignature(r); msg != "" {
			bedrockError(w, http.StatusForbidden, "AccessDeniedException", msg)
			return
		}
		// The prompt cache is scoped by the access key (the signature
		// changes with every request).
		key, _, _ := strings.Cut(strings.TrimPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="), "/")
		r.Header.Set("X-Api-Key", key)
		h(w, r)
	}
}

// checkSignature recomputes the request's signature with the secret of its
// access key, over the headers it says it signed, at the time it says, and
// compares; "" when it matches (or the simulator knows no secrets).
func (s *Simulator) checkSignature(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	cred, _, ok := strings.Cut(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 Credential="), ",")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=") || !ok {
		return "Missing Authentication Token: requests to Bedrock are signed with SigV4 (simulated)."
	}
	scope := strings.Split(cred, "/") // key id, date, region, service, aws4_request
	if len(scope) != 5 || scope[3] != "bedrock" {
		return "The credential scope " + cred + " is not for service bedrock (simulated)."
	}
	if s.opts.AWSCredentials == nil {
		return ""
	}
	secret, known := s.opts.AWSCredentials[scope[0]]
	if !known {
		return "The security token included in the request is invalid (simulated)."
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "X-Amz-Date is missing or malformed (simulated)."
	}
	_, signedList, _ := strings.Cut(auth, "SignedHeaders=")
	signedList, _, _ = strings.Cut(signedList, ",")
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	again, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	again.Header = http.Header{}
	for _, name := range strings.Split(signedList, ";") {
		switch name {
		case "host":
		case "content-length":
			again.ContentLength = int64(len(body))
		default:
			again.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
		}
	}
	again.Header.Del("X-Amz-Date") // the signer sets it, from at
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: scope[0], SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), "bedrock", scope[2], at); err != nil {
		return err.Error()
	}
	if again.Header.Get("Authorization") != auth {
		return "The request signature we calculated does not match the signature you provided (simulated)."
	}
	return ""
}

// bedrockError writes Bedrock's error shape: {"message"} with the kind in
// X-Amzn-ErrorType.
func bedrockError(w http.ResponseWriter, status int, kind, msg string) {
	w.Header().Set("X-Amzn-ErrorType", kind)
	writeJSON(w, status, map[string]any{"message": msg})
}

// invoke serves invoke and invoke-with-response-stream with the Messages
// handler: the path's model and the stream flag go into the body.
func (s *Simulator) invoke(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		bedrockError(w, http.StatusBadRequest, "ValidationException", "Malformed input request: "+err.Error())
		return
	}
	if req["anthropic_version"] != "bedrock-2023-05-31" {
		bedrockError(w, http.StatusBadRequest, "ValidationException", `Malformed input request: anthropic_version must be "bedrock-2023-05-31" (simulated)`)
		return
	}
	stream := strings.HasSuffix(r.URL.Path, "-with-response-stream")
	delete(req, "anthropic_version")
	req["model"], req["stream"] = r.PathValue("id"), stream
	r.Body = io.NopCloser(bytes.NewReader(mustJSON(req)))
	if !stream {
		s.messages(&invokeHeaders{ResponseWriter: w, begun: time.Now()}, r)
		return
	}
	s.messages(&eventStreamWriter{w: w, frame: func(ev wire.Event) [][]byte {
		msg, _ := wire.BedrockChunk(ev.Data)
		return [][]byte{msg}
	}}, r)
}

// invokeHeaders adds what Bedrock says of an invoke in its headers (the
// token counts and the invocation's latency), read from the answer.
type invokeHeaders struct {
	http.ResponseWriter
	begun  time.Time
	status int
	wrote  bool
}

func (h *invokeHeaders) WriteHeader(status int) { h.status = status }

func (h *invokeHeaders) Write(b []byte) (int, error) {
	if h.wrote {
		return h.ResponseWriter.Write(b)
	}
	h.wrote = true
	var m struct {
		Usage struct {
			In  int `json:"input_tokens"`
			Out int `json:"output_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(b, &m) == nil && h.status < 400 {
		hd := h.ResponseWriter.Header()
		hd.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(m.Usage.In))
		hd.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(m.Usage.Out))
		hd.Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(time.Since(h.begun).Milliseconds(), 10))
	}
	h.ResponseWriter.WriteHeader(cmp.Or(h.status, http.StatusOK))
	return h.ResponseWriter.Write(b)
}

// eventStreamWriter takes the server-sent events the Messages handler
// writes and sends each as event-stream messages (frame), flushed with it.
// An error status passes through as it is.
type eventStreamWriter struct {
	w      http.ResponseWriter
	frame  func(wire.Event) [][]byte
	header http.Header
	status int
	sse    wire.SSEParser
}

func (e *eventStreamWriter) Header() http.Header {
	if e.header == nil {
		e.header = http.Header{}
	}
	return e.header
}

func (e *eventStreamWriter) WriteHeader(status int) {
	e.status = status
	for k, v := range e.header {
		if k != "Content-Type" {
			e.w.Header()[k] = v
		}
	}
	if status < 400 {
		e.w.Header().Set("Content-Type", wire.EventStreamType)
	} else {
		e.w.Header().Set("Content-Type", e.header.Get("Content-Type"))
	}
	e.w.WriteHeader(status)
}

func (e *eventStreamWriter) Write(b []byte) (int, error) {
	if e.status == 0 {
		e.WriteHeader(http.StatusOK)
	}
	if e.status >= 400 {
		return e.w.Write(b)
	}
	e.sse.Feed(0, b, func(ev wire.Event) {
		for _, msg := range e.frame(ev) {
			e.w.Write(msg)
		}
	})
	return len(b), nil
}

func (e *eventStreamWriter) Flush() { e.w.(http.Flusher).Flush() }

// converse serves converse and converse-stream: the request becomes a
// Messages request, the answer Converse's.
func (s *Simulator) converse(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []struct {
			Role    string           `json:"role"`
			Content []map[string]any `json:"content"`
		} `json:"messages"`
		System []struct {
			Text string `json:"text"`
		} `json:"system"`
		InferenceConfig struct {
			MaxTokens *int `json:"maxTokens"`
		} `json:"inferenceConfig"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		bedrockError(w, http.StatusBadRequest, "ValidationException", "Malformed input request: "+err.Error())
		return
	}
	stream := strings.HasSuffix(r.URL.Path, "/converse-stream")
	messages := []any{}
	for _, m := range req.Messages {
		var blocks []any
		for _, c := range m.Content {
			if t, ok := c["text"].(string); ok {
				blocks = append(blocks, map[string]any{"type": "text", "text": t})
			} else {
				blocks = append(blocks, map[string]any{"type": "text", "text": string(mustJSON(c))})
			}
		}
		messages = append(messages, map[string]any{"role": m.Role, "content": blocks})
	}
	var system []string
	for _, b := range req.System {
		system = append(system, b.Text)
	}
	maxTokens := 4096
	if req.InferenceConfig.MaxTokens != nil {
		maxTokens = *req.InferenceConfig.MaxTokens
	}
	anthropic := map[string]any{"model": r.PathValue("id"), "stream": stream, "max_tokens": maxTokens, "messages": messages}
	if len(system) > 0 {
		anthropic["system"] = strings.Join(system, "\n")
	}
	r.Body = io.NopCloser(bytes.NewReader(mustJSON(anthropic)))
	begun := time.Now()
	if !stream {
		rec := &recorder{header: http.Header{}}
		s.messages(rec, r)
		if rec.status >= 400 {
			bedrockError(w, rec.status, "ValidationException", rec.body.String())
			return
		}
		var m struct {
			Role       string           `json:"role"`
			Content    []map[string]any `json:"content"`
			StopReason string           `json:"stop_reason"`
			Usage      json.RawMessage  `json:"usage"`
		}
		if json.Unmarshal(rec.body.Bytes(), &m) != nil {
			return // the client went away
		}
		var content []any
		for _, c := range m.Content {
			content = append(content, map[string]any{"text": c["text"]})
		}
		writeJSON(w, http.StatusOK, map[string]any{"output": map[string]any{"message": map[string]any{"role": m.Role, "content": content}},
			"stopReason": m.StopReason, "usage": converseUsage(m.Usage), "metrics": map[string]any{"latencyMs": time.Since(begun).Milliseconds()}})
		return
	}
	var stop string
	var usage json.RawMessage
	s.messages(&eventStreamWriter{w: w, frame: func(ev wire.Event) [][]byte {
		var e struct {
			Type  string          `json:"type"`
			Index int             `json:"index"`
			Delta json.RawMessage `json:"delta"`
			Usage json.RawMessage `json:"usage"`
		}
		json.Unmarshal(ev.Data, &e)
		var out [][]byte
		add := func(name string, payload any) {
			var b bytes.Buffer
			wire.EncodeEvent(&b, name, mustJSON(payload))
			out = append(out, b.Bytes())
		}
		switch e.Type {
		case "message_start":
			add("messageStart", map[string]any{"role": "assistant"})
		case "content_block_delta":
			var d struct {
				Text string `json:"text"`
			}
			json.Unmarshal(e.Delta, &d)
			add("contentBlockDelta", map[string]any{"contentBlockIndex": e.Index, "delta": map[string]any{"text": d.Text}})
		case "content_block_stop":
			add("contentBlockStop", map[string]any{"contentBlockIndex": e.Index})
		case "message_delta":
			var d struct {
				StopReason string `json:"stop_reason"`
			}
			json.Unmarshal(e.Delta, &d)
			stop, usage = d.StopReason, e.Usage
		case "message_stop":
			add("messageStop", map[string]any{"stopReason": stop})
			add("metadata", map[string]any{"usage": converseUsage(usage), "metrics": map[string]any{"latencyMs": time.Since(begun).Milliseconds()}})
		}
		return out
	}}, r)
}

// converseUsage is a Messages usage block as Converse reports it: the
// uncached input, the cache reads and writes, and their total.
func converseUsage(raw json.RawMessage) map[string]any {
	var u struct {
		In    int `json:"input_tokens"`
		Out   int `json:"output_tokens"`
		Read  int `json:"cache_read_input_tokens"`
		Write int `json:"cache_creation_input_tokens"`
	}
	json.Unmarshal(raw, &u)
	return map[string]any{"inputTokens": u.In, "outputTokens": u.Out, "totalTokens": u.In + u.Out + u.Read + u.Write,
		"cacheReadInputTokens": u.Read, "cacheWriteInputTokens": u.Write}
}

// recorder keeps a handler's answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int)   { r.status = s }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (s *Simulator) foundationModels(w http.ResponseWriter, r *http.Request) {
	var models []map[string]any
	for _, m := range []string{"anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"} {
		models = append(models, map[string]any{"modelId": m, "providerName": "Anthropic", "responseStreamingSupported": true})
	}
	writeJSON(w, http.StatusOK, map[string]any{"modelSummaries": models})
}

// BufferingClient is an HTTP client for AWS's Go SDK in tests: it sends
// each request with a copy of its body. The SDK can close a request body
// while net/http's write loop is still finishing with it — the server has
// answered already — and the write loop then closes the connection under
// the response being read ("use of closed network connection" from an
// event stream; traced under -race to persistConn.writeLoop, as in
// aws/aws-sdk-go-v2#2737 and #1825).
type BufferingClient struct{}

// Do sends req through http.DefaultTransport with its body in memory.
func (BufferingClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return http.DefaultTransport.RoundTrip(req)
}
