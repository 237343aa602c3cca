package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

func post(t *testing.T, url, fault, body string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if fault != "" {
		req.Header.Set("X-Sim-Fault", fault)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

const (
	chatStream = `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	msgStream  = `{"model":"claude-3-5-haiku-latest","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
)

// TestUpstreamFailures: each failure reaches the client in its own API's
// format — the upstream's own status and body when there is one, a JSON
// error from lessllm when the upstream failed before answering, an aborted
// stream (never a clean end) after headers — and each is recorded with its
// error and the chunks that did arrive.
func TestUpstreamFailures(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: 10 * time.Millisecond, TPOT: 5 * time.Millisecond, OutputTokens: 10}, func(c *config.File) {
		c.Proxy.Timeouts.ResponseHeader = 300 * time.Millisecond
		c.Proxy.Timeouts.IdleStream = 300 * time.Millisecond
		c.Providers["refused"] = &config.Provider{Type: config.OpenAI, BaseURL: "http://" + closedPort(t) + "/v1"}
		c.Models["nowhere"] = config.ModelAlias{Provider: "refused", Model: "gpt-4o"}
	})
	chat, msgs := h.inst.URL+"/v1/chat/completions", h.inst.URL+"/v1/messages"
	type result struct {
		status  int
		header  http.Header
		body    string
		readErr error
	}
	cases := []struct {
		name, url, fault, body string
		check                  func(t *testing.T, r result)
		wantKind               string
		wantStatus             int // recorded upstream status, 0 = no response
	}{
		{"openai_429_passed_through", chat, "429", chatStream, func(t *testing.T, r result) {
			if r.status != 429 || r.header.Get("Retry-After") != "2" || !contains(r.body, `"rate_limit_exceeded"`) {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		}, "", 429},
		{"anthropic_500_passed_through", msgs, "500", msgStream, func(t *testing.T, r result) {
			if r.status != 500 || !contains(r.body, `"type":"error"`, `"api_error"`) {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		}, "", 500},
		{"openai_reset_before_headers", chat, "reset", chatStream, func(t *testing.T, r result) {
			if r.status != 502 || !contains(r.body, `"error":{`, `"code":"upstream_broken"`, "failed before responding") {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		}, format.ErrUpstreamBroken, 0},
		{"anthropic_never_answers", msgs, "stall", msgStream, func(t *testing.T, r result) {
			if r.status != 504 || !contains(r.body, `"type":"error"`, `"timeout_error"`) {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		}, format.ErrUpstreamTimeout, 0},
		{"openai_reset_mid_stream_aborts", chat, "reset-mid", chatStream, func(t *testing.T, r result) {
			if r.status != 200 || r.readErr == nil || strings.Contains(r.body, "[DONE]") {
				t.Fatalf("a broken stream ended cleanly: %d, err %v", r.status, r.readErr)
			}
		}, format.ErrUpstreamBroken, 200},
		{"anthropic_stall_mid_stream_times_out", msgs, "stall-mid", msgStream, func(t *testing.T, r result) {
			if r.status != 200 || r.readErr == nil || strings.Contains(r.body, "message_stop") {
				t.Fatalf("a stalled stream ended cleanly: %d, err %v", r.status, r.readErr)
			}
		}, format.ErrUpstreamTimeout, 200},
		{"connection_refused", chat, "", `{"model":"nowhere","messages":[]}`, func(t *testing.T, r result) {
			if r.status != 502 || !contains(r.body, `"code":"upstream_connect"`, "refused") {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		}, format.ErrUpstreamConnect, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, err := post(t, tc.url, tc.fault, tc.body)
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			tc.check(t, result{resp.StatusCode, resp.Header, string(body), err})
		})
	}
	recs := h.records(t)
	if len(recs) != len(cases) {
		t.Fatalf("%d records for %d requests", len(recs), len(cases))
	}
	for i, tc := range cases {
		r := recs[i]
		kind := ""
		if r.Error != nil {
			kind = r.Error.Kind
		}
		status := 0
		if r.Response != nil {
			status = r.Response.Status
		}
		if kind != tc.wantKind || status != tc.wantStatus {
			t.Errorf("%s: recorded error %q status %d, want %q %d (%+v)", tc.name, kind, status, tc.wantKind, tc.wantStatus, r.Error)
		}
		if strings.HasSuffix(tc.fault, "-mid") && len(r.Response.Chunks) == 0 {
			t.Errorf("%s: the chunks that arrived before the failure were not recorded", tc.name)
		}
	}
}

// TestSDKsRaiseOnBrokenStreams: after headers, a broken upstream must make
// the official SDKs fail, never hand the application a truncated answer.
func TestSDKsRaiseOnBrokenStreams(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: 5 * time.Millisecond, TPOT: 2 * time.Millisecond, OutputTokens: 20}, nil)
	ctx := context.Background()
	oc, ac := openAIClient(h), anthropicClient(h)
	s := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, option.WithHeader("X-Sim-Fault", "reset-mid"))
	for s.Next() {
	}
	if s.Err() == nil {
		t.Fatal("openai-go accepted a stream cut mid-way")
	}
	as := ac.Messages.NewStreaming(ctx, anthropic.MessageNewParams{Model: "claude-3-5-haiku-latest", MaxTokens: 50,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}, aoption.WithHeader("X-Sim-Fault", "reset-mid"))
	for as.Next() {
	}
	if as.Err() == nil {
		t.Fatal("anthropic-sdk-go accepted a stream cut mid-way")
	}
	// Before headers, the SDK sees an API error of its own kind with our message.
	_, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-3-5-haiku-latest", MaxTokens: 50,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}, aoption.WithHeader("X-Sim-Fault", "reset"))
	var aerr *anthropic.Error
	if !errors.As(err, &aerr) || aerr.StatusCode != 502 || !strings.Contains(aerr.Error(), "failed before responding") {
		t.Fatalf("anthropic SDK error %v", err)
	}
	_, err = oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, option.WithHeader("X-Sim-Fault", "reset"))
	var oerr *openai.Error
	if !errors.As(err, &oerr) || oerr.StatusCode != 502 || oerr.Code != "upstream_broken" {
		t.Fatalf("openai SDK error %v", err)
	}
}

// closedPort returns a loopback address that refuses connections: a
// socket bound to it but not listening, held until the test ends. (A
// listener closed again would free the port for the next server this test
// binary starts, and the "refused" upstream would answer.)
func closedPort(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

func TestNonAPIPathsAreRefused(t *testing.T) {
	h := newHarness(t, apitest.Options{}, nil)
	for _, p := range []string{"/", "/admin", "/etc/passwd"} {
		resp, err := http.Get(h.inst.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 404 || body["error"]["code"] != "unknown_path" {
			t.Fatalf("%s: %d %v", p, resp.StatusCode, body)
		}
	}
	if got := len(h.sim.Received()); got != 0 {
		t.Fatalf("the upstream received %d requests for non-API paths", got)
	}
}
