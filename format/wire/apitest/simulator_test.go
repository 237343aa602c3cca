package apitest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/lessllm/lessllm/format/wire"
)

func post(t *testing.T, url, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// No transparent decompression: the test sees what was sent.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestFinishReasons: generation ended by the request's token limit reports
// it as the API does — max_tokens or max_completion_tokens → "length",
// Anthropic's max_tokens → "max_tokens" — and a natural end as stop.
func TestFinishReasons(t *testing.T) {
	srv := httptest.NewServer(New(Options{TTFT: -1, TPOT: -1, OutputTokens: 10}))
	defer srv.Close()
	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"chat, no limit", "/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`, "stop"},
		{"chat, limit above the answer", "/v1/chat/completions", `{"model":"gpt-4o","max_tokens":50,"messages":[]}`, "stop"},
		{"chat, max_tokens", "/v1/chat/completions", `{"model":"gpt-4o","max_tokens":4,"messages":[]}`, "length"},
		{"chat, max_completion_tokens", "/v1/chat/completions", `{"model":"gpt-4o","max_completion_tokens":4,"messages":[]}`, "length"},
		{"messages, end", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":50,"messages":[]}`, "end_turn"},
		{"messages, max_tokens", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":3,"messages":[]}`, "max_tokens"},
	} {
		_, b := post(t, srv.URL+tc.path, tc.body, nil)
		var r struct {
			Choices []struct {
				FinishReason string `json:"finish_reason"`
			} `json:"choices"`
			StopReason string `json:"stop_reason"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, b)
		}
		got := r.StopReason
		if len(r.Choices) > 0 {
			got = r.Choices[0].FinishReason
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestCompressesWhatTheClientAccepts: the coding is the simulator's first
// preference the client accepts (q=0 refuses one); the body decodes to the
// plain answer, and a compressed request body is read.
func TestCompressesWhatTheClientAccepts(t *testing.T) {
	for _, tc := range []struct{ accept, want string }{
		{"", ""},
		{"identity", ""},
		{"gzip, deflate", "gzip"},
		{"gzip, deflate, br", "br"},
		{"br;q=0, gzip", "gzip"},
		{"zstd", "zstd"},
		{"*", "br"},
		{"*, br;q=0", "gzip"},
	} {
		if got := encoding(DefaultEncodings, tc.accept); got != tc.want {
			t.Errorf("Accept-Encoding %q: %q, want %q", tc.accept, got, tc.want)
		}
	}
	srv := httptest.NewServer(New(Options{TTFT: -1, TPOT: time.Microsecond, OutputTokens: 5}))
	defer srv.Close()
	for _, stream := range []bool{false, true} {
		body := `{"model":"gpt-4o","stream":` + map[bool]string{false: "false", true: "true"}[stream] + `,"messages":[]}`
		resp, b := post(t, srv.URL+"/v1/chat/completions", body, map[string]string{"Accept-Encoding": "br"})
		if ce := resp.Header.Get("Content-Encoding"); ce != "br" {
			t.Fatalf("stream %v: Content-Encoding %q", stream, ce)
		}
		plain, err := wire.DecodeBody("br", b, 1<<20)
		if err != nil || !strings.Contains(string(plain), `"model":"gpt-4o`) {
			t.Errorf("stream %v: %v %s", stream, err, plain)
		}
	}
}

// TestGemini: the three framings of a Gemini answer read back by wire as
// the same answer — generateContent, streamGenerateContent?alt=sse, and the
// JSON array without alt=sse — with the token limit as MAX_TOKENS, the
// implicit cache hit on a repeated long prompt, and no answer without a key.
func TestGemini(t *testing.T) {
	now := time.Now()
	srv := httptest.NewServer(New(Options{TTFT: -1, TPOT: time.Microsecond, OutputTokens: 6, Now: func() time.Time { now = now.Add(time.Second); return now }}))
	defer srv.Close()
	key := map[string]string{"X-Goog-Api-Key": "sim-key"}
	long := strings.Repeat("a steady prefix ", 800) // 12,800 bytes: 3,200 simulated tokens
	body := `{"contents":[{"role":"user","parts":[{"text":"` + long + `"}]}],"generationConfig":{"maxOutputTokens":4}}`
	resp, b := post(t, srv.URL+"/v1beta/models/gemini-2.5-flash:generateContent", body, key)
	u, ok := wire.UsageOf(wire.KindGeminiGenerate, b)
	if resp.StatusCode != 200 || !ok || u.Completion != 4 || u.Prompt < 3200 || u.CachedRead != 0 || !strings.Contains(string(b), `"finishReason":"MAX_TOKENS"`) {
		t.Fatalf("%d %+v %s", resp.StatusCode, u, b)
	}
	for _, path := range []string{":streamGenerateContent?alt=sse", ":streamGenerateContent"} {
		resp, b = post(t, srv.URL+"/v1beta/models/gemini-2.5-flash"+path, body, key)
		var got *wire.Stream
		if path == ":streamGenerateContent" {
			var events []json.RawMessage
			if err := json.Unmarshal(b, &events); err != nil || len(events) != 4 {
				t.Fatalf("array framing: %v, %d events: %s", err, len(events), b)
			}
			u, _ = wire.UsageOf(wire.KindGeminiGenerate, events[3])
		} else {
			got = wire.ReadStream(wire.KindGeminiGenerate, func(yield func(int64, []byte) bool) { yield(0, b) })
			u = got.Usage
			if resp.Header.Get("Content-Type") != "text/event-stream" || !got.Done || got.FinishReason != "MAX_TOKENS" || got.ContentEvents != 4 {
				t.Fatalf("sse: %s, done %v, finish %q, %d content events", b, got.Done, got.FinishReason, got.ContentEvents)
			}
		}
		if u.Completion != 4 || u.CachedRead != 2048+(u.Prompt-2048)/128*128 {
			t.Errorf("%s: usage %+v (the repeated prompt should hit the cache)", path, u)
		}
	}
	if resp, b := post(t, srv.URL+"/v1beta/models/gemini-2.5-flash:generateContent", body, nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), `"status":"PERMISSION_DENIED"`) {
		t.Errorf("no key: %d %s", resp.StatusCode, b)
	}
}

// TestBedrockSignatures: with AWSCredentials set, a Bedrock call passes
// only signed (SigV4, service bedrock) with its access key's secret; the
// answer is the Messages API's.
func TestBedrockSignatures(t *testing.T) {
	srv := httptest.NewServer(New(Options{TTFT: -1, TPOT: -1, OutputTokens: 3, AWSCredentials: map[string]string{"AKIATEST": "right"}}))
	defer srv.Close()
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"Hi"}]}`
	call := func(secret string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			sum := sha256.Sum256([]byte(body))
			creds := aws.Credentials{AccessKeyID: "AKIATEST", SecretAccessKey: secret}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, b := call("right"); status != 200 || !strings.Contains(b, `"text":"`+Text(3)+`"`) {
		t.Errorf("signed right: %d %s", status, b)
	}
	for _, secret := range []string{"wrong", ""} {
		if status, b := call(secret); status != http.StatusForbidden {
			t.Errorf("secret %q: %d %s", secret, status, b)
		}
	}
}
