package capture

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

func fast() apitest.Options {
	return apitest.Options{TTFT: time.Millisecond, TPOT: time.Millisecond, OutputTokens: 5}
}

func send(t *testing.T, method, url, body string, headers map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestAllowedEndpoints: a request that would spend the configured key on
// an endpoint outside allowed_endpoints (file deletion, fine-tunes,
// organisation admin) is refused with a 403 in the client's format before
// anything is sent; the same request with the client's own key passes, as
// do the default inference endpoints.
func TestAllowedEndpoints(t *testing.T) {
	h := newHarness(t, fast(), nil)
	for _, tc := range []struct {
		name, method, path string
		headers            map[string]string
		want               int
		format             string
	}{
		{"delete a file with the configured key", "DELETE", "/v1/files/file-abc", nil, 403, `"code":"endpoint_not_allowed"`},
		{"list admin keys", "GET", "/v1/organization/admin_api_keys", nil, 403, `"type":"invalid_request_error"`},
		{"anthropic batches", "POST", "/v1/messages/batches", nil, 403, `"type":"permission_error"`},
		{"chat completions", "POST", "/v1/chat/completions", nil, 200, `"choices"`},
		{"count tokens", "POST", "/v1/messages/count_tokens", nil, 200, `"input_tokens"`},
		{"models", "GET", "/v1/models", nil, 200, `"data"`},
		{"a file with the client's own key", "DELETE", "/v1/files/file-abc", map[string]string{"Authorization": "Bearer " + clientOpenAIKey}, 404, ""},
	} {
		body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
		if strings.HasPrefix(tc.path, "/v1/messages") {
			body = `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
		}
		status, _, got := send(t, tc.method, h.inst.URL+tc.path, body, tc.headers)
		if status != tc.want || !strings.Contains(got, tc.format) {
			t.Errorf("%s: %d %s, want %d with %s", tc.name, status, got, tc.want, tc.format)
		}
	}
	for _, r := range h.sim.Received() {
		if r.Method == "DELETE" && r.Header.Get("Authorization") != "Bearer "+clientOpenAIKey {
			t.Errorf("a refused request reached the upstream: %s %s", r.Method, r.Path)
		}
	}
}

// TestInboundKeyNeverForwarded: an inbound key is removed from every
// header that carries it — sent twice, under a custom name, with a
// lower-case scheme and extra spaces — and never reaches the upstream.
func TestInboundKeyNeverForwarded(t *testing.T) {
	h := newHarness(t, fast(), func(c *config.File) { c.InboundKeys = []string{inboundKeyA} })
	for _, hdr := range []map[string]string{
		{"X-Lessllm-Key": inboundKeyA, "Authorization": "Bearer " + inboundKeyA},
		{"Authorization": "bearer   " + inboundKeyA, "X-Custom-Auth": inboundKeyA},
		{"X-Api-Key": inboundKeyA, "Api-Key": inboundKeyA},
	} {
		if status, _, body := send(t, "POST", h.inst.URL+"/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`, hdr); status != 200 {
			t.Fatalf("%v: %d %s", hdr, status, body)
		}
	}
	for i, r := range h.sim.Received() {
		for k, v := range r.Header {
			if strings.Contains(strings.Join(v, " "), inboundKeyA) {
				t.Errorf("request %d: the inbound key reached the upstream in %s", i, k)
			}
		}
		if a := r.Header.Get("Authorization"); a != "Bearer "+configOpenAIKey {
			t.Errorf("request %d: upstream got Authorization %q, want the configured key", i, a)
		}
	}
	metrics := h.metrics(t)
	h.records(t)
	h.scanForSecrets(t, metrics, inboundKeyA)
}

// TestUpstreamSwitchingProtocolsRefused: an upstream that answers 101 does
// not get a tunnel through lessllm; the client gets a 502.
func TestUpstreamSwitchingProtocolsRefused(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "evil")
		w.WriteHeader(http.StatusSwitchingProtocols)
	}))
	defer up.Close()
	h := newHarness(t, fast(), func(c *config.File) { c.Providers[config.OpenAI].BaseURL = up.URL + "/v1" })
	status, _, body := send(t, "POST", h.inst.URL+"/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`,
		map[string]string{"Connection": "Upgrade", "Upgrade": "evil"})
	if status != http.StatusBadGateway || !strings.Contains(body, "upstream_switched_protocols") {
		t.Fatalf("%d %s", status, body)
	}
}

// TestTrickledBodyIsCut: a client that sends its body a byte at a time is
// cut off at capture.read_body_timeout with a 408, recorded, and holds no
// more than the bytes it sent.
func TestTrickledBodyIsCut(t *testing.T) {
	h := newHarness(t, fast(), func(c *config.File) { c.Capture.ReadBodyTimeout = 500 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.inst.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 67108864\r\n\r\n{")
	start := time.Now()
	go func() {
		for range 20 {
			time.Sleep(100 * time.Millisecond)
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "read_body_timeout") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cut after %v, want about the 500ms timeout", d)
	}
	rec := h.records(t)[0]
	if rec.Error == nil || rec.Error.Kind != format.ErrRequestRead {
		t.Errorf("record error %+v", rec.Error)
	}
}

// TestEndlessUpstreamBodyThroughAlias: an upstream that never ends its
// body, on the translating alias path, is cut at capture.max_body_bytes:
// a non-streamed answer gets a 502 in the client's format, a stream whose
// event never ends is aborted; neither is held beyond the cap.
func TestEndlessUpstreamBodyThroughAlias(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stream := bytes.Contains(mustRead(r.Body), []byte(`"stream":true`))
		if stream {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\ndata: \"")
		} else {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"content":[{"type":"text","text":"`)
		}
		chunk := bytes.Repeat([]byte("a"), 64<<10)
		for i := 0; i < 1<<14 && r.Context().Err() == nil; i++ { // at most 1 GiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer up.Close()
	h := newHarness(t, fast(), func(c *config.File) {
		c.Capture.MaxBodyBytes = 1 << 20
		c.Providers[config.Anthropic].BaseURL = up.URL
		c.Models["claude"] = config.ModelAlias{Provider: config.Anthropic, Model: "claude-sonnet-4-5"}
	})
	status, _, body := send(t, "POST", h.inst.URL+"/v1/chat/completions", `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`, nil)
	if status != http.StatusBadGateway || !strings.Contains(body, "max_body_bytes") {
		t.Errorf("non-streamed: %d %.200s", status, body)
	}
	req, _ := http.NewRequest("POST", h.inst.URL+"/v1/chat/completions", strings.NewReader(`{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("streamed: the client's stream ended cleanly; want it aborted")
	}
	recs := h.records(t)
	for _, r := range recs {
		if r.Error == nil || r.Error.Kind != format.ErrUpstreamBroken || !strings.Contains(r.Error.Message, "max_body_bytes") {
			t.Errorf("record error %+v", r.Error)
		}
		if r.Response.Bytes > 4<<20 {
			t.Errorf("read %d bytes of the endless body, cap is 1 MiB", r.Response.Bytes)
		}
	}
}

// TestCompressedRequestThroughAlias: a zstd-compressed request body (as
// the Codex CLI sends) is decoded to route by its model, rewritten for the
// alias and sent plain; the translated answer is asked for uncompressed
// whatever the client accepts.
func TestCompressedRequestThroughAlias(t *testing.T) {
	h := newHarness(t, fast(), func(c *config.File) {
		c.Models["mini"] = config.ModelAlias{Provider: config.OpenAI, Model: "gpt-4o-mini"}
		c.Models["claude"] = config.ModelAlias{Provider: config.Anthropic, Model: "claude-sonnet-4-5"}
	})
	enc, _ := zstd.NewWriter(nil)
	body := enc.EncodeAll([]byte(`{"model":"mini","messages":[{"role":"user","content":"hi"}]}`), nil)
	status, _, got := send(t, "POST", h.inst.URL+"/v1/chat/completions", string(body), map[string]string{"Content-Encoding": "zstd"})
	if status != 200 || !strings.Contains(got, `"choices"`) {
		t.Fatalf("%d %s", status, got)
	}
	r := h.sim.Received()[0]
	if !strings.Contains(string(r.Body), `"model":"gpt-4o-mini"`) || r.Header.Get("Content-Encoding") != "" {
		t.Errorf("upstream got %s with Content-Encoding %q", r.Body, r.Header.Get("Content-Encoding"))
	}
	// The OpenAI SDK accepts gzip (Go's transport asks for it); the
	// translated call still reads a plain answer from the upstream.
	oc := openai.NewClient(option.WithBaseURL(h.inst.URL+"/v1"), option.WithAPIKey(clientOpenAIKey), option.WithMaxRetries(0))
	c, err := oc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil || c.Choices[0].Message.Content != apitest.Text(5) {
		t.Fatalf("translated call: %v %+v", err, c)
	}
	if ae := h.sim.Received()[1].Header.Get("Accept-Encoding"); ae != "identity" {
		t.Errorf("translated call asked the upstream for Accept-Encoding %q", ae)
	}
}

// TestSecretsInQueryStringsAndHeaders: keys in query strings (Gemini's
// ?key=, api_key, access_token) and in Gemini's and Azure's key headers,
// and a provider that echoes the key in an error, reach no segment, log
// line or error message; the failed upstream URL in a client's error is
// redacted too.
func TestSecretsInQueryStringsAndHeaders(t *testing.T) {
	const gemini, azure, token = "AIzaSyD-gemini-key-0123456789abcdefghij", "azure-key-5f1e2d3c4b5a69788796", "tok-query-8a7b6c5d4e3f2a1b0c9d"
	h := newHarness(t, fast(), nil)
	for _, q := range []string{"?key=" + gemini, "?api_key=" + gemini + "&alt=sse", "?access_token=" + token, "?API-KEY=" + azure} {
		if status, _, body := send(t, "POST", h.inst.URL+"/v1/chat/completions"+q, `{"model":"gpt-4o","messages":[]}`,
			map[string]string{"X-Goog-Api-Key": gemini, "Api-Key": azure}); status != 200 {
			t.Fatalf("%s: %d %s", q, status, body)
		}
	}
	// An unreachable upstream: the error quotes the URL it failed on.
	dead := newHarness(t, fast(), func(c *config.File) { c.Providers[config.OpenAI].BaseURL = "http://127.0.0.1:1/v1" })
	_, _, body := send(t, "POST", dead.inst.URL+"/v1/chat/completions?key="+gemini, `{"model":"gpt-4o","messages":[]}`, nil)
	if strings.Contains(body, gemini) || !strings.Contains(body, "key=fp:") {
		t.Errorf("client error: %s", body)
	}
	metrics := h.metrics(t)
	recs := h.records(t)
	if q := recs[0].Request.Query; q != "key="+format.Fingerprint(gemini) {
		t.Errorf("recorded query %q", q)
	}
	h.scanForSecrets(t, metrics, gemini, azure, token)
	dead.records(t)
	dead.scanForSecrets(t, nil, gemini)
}

func mustRead(r io.Reader) []byte { b, _ := io.ReadAll(r); return b }
