package capture

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/capture/simulator"
)

// TestOpenAISDKToAnthropicAlias: an unchanged OpenAI SDK call naming the
// alias "claude" is served by the Anthropic API, streamed and not, and the
// client's OpenAI key never reaches Anthropic.
func TestOpenAISDKToAnthropicAlias(t *testing.T) {
	h := newHarness(t, simulator.Options{TTFT: 5 * time.Millisecond, TPOT: time.Millisecond, OutputTokens: 12}, func(c *config.File) {
		c.Models["claude"] = config.ModelAlias{Provider: config.Anthropic, Model: "claude-3-opus-20240229"}
	})
	ctx := context.Background()
	oc := openAIClient(h)
	want := simulator.Text(12)
	params := openai.ChatCompletionNewParams{Model: "claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello")}}

	c, err := oc.Chat.Completions.New(ctx, params, withHeader("X-Trace-Id", "trace-123"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "claude" || c.Choices[0].Message.Content != want || c.Choices[0].FinishReason != "stop" || c.Usage.CompletionTokens != 12 || c.Usage.PromptTokens == 0 {
		t.Fatalf("non-streamed: %+v", c)
	}

	p := params
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := oc.Chat.Completions.NewStreaming(ctx, p)
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != want || acc.Usage.CompletionTokens != 12 || acc.Choices[0].FinishReason != "stop" {
		t.Fatalf("streamed: %q, usage %+v, finish %q", acc.Choices[0].Message.Content, acc.Usage, acc.Choices[0].FinishReason)
	}

	// An Anthropic error reaches the OpenAI SDK as an OpenAI error.
	_, err = oc.Chat.Completions.New(ctx, params, withHeader("X-Sim-Fault", "429"))
	var oerr *openai.Error
	if !errors.As(err, &oerr) || oerr.StatusCode != 429 || oerr.Code != "rate_limit_error" {
		t.Fatalf("translated error: %v", err)
	}

	// What Anthropic received: its own key and version, the real model,
	// the system prompt in place, the custom header passed through.
	for _, r := range h.sim.Received() {
		if r.Path != "/v1/messages" {
			t.Fatalf("upstream got %s", r.Path)
		}
		if r.Header.Get("X-Api-Key") != configAnthropicKey || strings.Contains(r.Header.Get("Authorization"), clientOpenAIKey) {
			t.Fatalf("Anthropic received credentials %q / %q", r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"))
		}
		if r.Header.Get("Anthropic-Version") == "" {
			t.Fatal("no anthropic-version header")
		}
		var body map[string]any
		json.Unmarshal(r.Body, &body)
		if body["model"] != "claude-3-opus-20240229" || body["system"] != "Be brief." {
			t.Fatalf("Anthropic received %s", r.Body)
		}
	}
	if got := h.sim.Received()[0].Header.Get("X-Trace-Id"); got != "trace-123" {
		t.Fatalf("custom header lost on a translated call: %q", got)
	}

	recs := h.records(t)
	for _, r := range recs {
		if r.Route.UpstreamDialect != "anthropic" || r.Route.Model != "claude" || r.Route.UpstreamModel != "claude-3-opus-20240229" || r.Upstream == nil {
			t.Fatalf("record route %+v, upstream request %v", r.Route, r.Upstream != nil)
		}
	}
	// The record keeps the upstream's own bytes: Anthropic events.
	if !strings.Contains(string(recs[1].Response.Body()), "event: message_start") {
		t.Fatal("the record does not hold the upstream's stream")
	}
	if recs[2].Response.Status != 429 || recs[2].Error != nil {
		t.Fatalf("429 record: %+v %+v", recs[2].Response, recs[2].Error)
	}
}
