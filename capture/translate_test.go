package capture

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// TestOpenAISDKToAnthropicAlias: an unchanged OpenAI SDK call naming the
// alias "claude" is served by the Anthropic API, streamed and not, and the
// client's OpenAI key never reaches Anthropic.
func TestOpenAISDKToAnthropicAlias(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: 5 * time.Millisecond, TPOT: time.Millisecond, OutputTokens: 12}, func(c *config.File) {
		c.Models["claude"] = config.ModelAlias{Provider: config.Anthropic, Model: "claude-3-opus-20240229"}
	})
	ctx := context.Background()
	oc := openAIClient(h)
	want := apitest.Text(12)
	params := openai.ChatCompletionNewParams{Model: "claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello")}}

	var httpResp *http.Response
	c, err := oc.Chat.Completions.New(ctx, params, withHeader("X-Trace-Id", "trace-123"), option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "claude" || c.Choices[0].Message.Content != want || c.Choices[0].FinishReason != "stop" || c.Usage.CompletionTokens != 12 || c.Usage.PromptTokens == 0 {
		t.Fatalf("non-streamed: %+v", c)
	}
	// The translated answer is whole before its status line: it goes with
	// its length, not chunked.
	if httpResp.ContentLength <= 0 || len(httpResp.TransferEncoding) > 0 {
		t.Fatalf("translated answer sent with Content-Length %d, Transfer-Encoding %q", httpResp.ContentLength, httpResp.TransferEncoding)
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

	// The model list shows the alias next to the provider's models.
	page, err := oc.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if !slices.Contains(ids, "claude") || !slices.Contains(ids, "gpt-4o") {
		t.Fatalf("models listed: %v", ids)
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
		if r.Path == "/v1/models" {
			continue
		}
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

	var recs []*format.Exchange
	for _, r := range h.records(t) {
		if r.Request.Path != "/v1/models" {
			recs = append(recs, r)
		}
	}
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

// TestAnthropicSDKToOpenAIAlias: an Anthropic SDK (or Claude Code) naming
// an alias on an OpenAI provider is served by Chat Completions, streamed
// and not, and its Anthropic key never reaches OpenAI.
func TestAnthropicSDKToOpenAIAlias(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: 5 * time.Millisecond, TPOT: time.Millisecond, OutputTokens: 12}, func(c *config.File) {
		c.Models["gpt"] = config.ModelAlias{Provider: config.OpenAI, Model: "gpt-4o"}
	})
	ctx := context.Background()
	ac := anthropicClient(h)
	want := apitest.Text(12)
	params := anthropic.MessageNewParams{Model: "gpt", MaxTokens: 100,
		System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello"))}}
	m, err := ac.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if m.Model != "gpt" || m.Content[0].Text != want || m.StopReason != "end_turn" || m.Usage.OutputTokens != 12 {
		t.Fatalf("non-streamed: %+v", m)
	}
	s := ac.Messages.NewStreaming(ctx, params)
	var sm anthropic.Message
	for s.Next() {
		if err := sm.Accumulate(s.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if sm.Content[0].Text != want || sm.StopReason != "end_turn" || sm.Usage.OutputTokens != 12 || sm.Usage.InputTokens == 0 {
		t.Fatalf("streamed: %+v", sm)
	}
	_, err = ac.Messages.New(ctx, params, aoption.WithHeader("X-Sim-Fault", "500"))
	var aerr *anthropic.Error
	if !errors.As(err, &aerr) || aerr.StatusCode != 500 || !strings.Contains(aerr.Error(), "api_error") {
		t.Fatalf("translated error: %v", err)
	}
	for _, r := range h.sim.Received() {
		if r.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer "+configOpenAIKey || r.Header.Get("X-Api-Key") != "" || r.Header.Get("Anthropic-Version") != "" {
			t.Fatalf("OpenAI received %s with Authorization %q, X-Api-Key %q, Anthropic-Version %q", r.Path,
				r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"), r.Header.Get("Anthropic-Version"))
		}
	}
	for _, r := range h.records(t) {
		if r.Route.UpstreamDialect != "openai" || r.Route.UpstreamModel != "gpt-4o" {
			t.Fatalf("record route %+v", r.Route)
		}
	}
}

// TestTranslationWarningsAndRefusals: a parameter with no counterpart is
// dropped and named in the record; one that cannot be honoured is refused
// in the client's format before anything goes upstream.
func TestTranslationWarningsAndRefusals(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: time.Millisecond, TPOT: time.Millisecond, OutputTokens: 3}, func(c *config.File) {
		c.Models["claude"] = config.ModelAlias{Provider: config.Anthropic, Model: "claude-x"}
	})
	resp, body, err := post(t, h.inst.URL+"/v1/chat/completions", "", `{"model":"claude","seed":7,"messages":[{"role":"user","content":"hi"}]}`)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %s", err, body)
	}
	resp, body, _ = post(t, h.inst.URL+"/v1/chat/completions", "", `{"model":"claude","n":3,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 400 || !contains(string(body), `"code":"untranslatable_request"`, "n=3") {
		t.Fatalf("n=3: %d %s", resp.StatusCode, body)
	}
	if n := len(h.sim.Received()); n != 1 {
		t.Fatalf("upstream saw %d requests, want 1 (the refused one must not go)", n)
	}
	recs := h.records(t)
	if len(recs[0].Warnings) != 1 || !strings.Contains(recs[0].Warnings[0], "dropped parameter seed") {
		t.Fatalf("warnings %q", recs[0].Warnings)
	}
	if recs[1].Error == nil || recs[1].Error.Kind != format.ErrRejected {
		t.Fatalf("refusal recorded as %+v", recs[1].Error)
	}
}

// TestTranslatedDeltaAllocatesNothing: a text delta of an Anthropic stream
// becomes an OpenAI chunk without an allocation — SSE parse, translation
// and write — as every token of a translated stream goes through it; the
// stream's first delta too, whose delay is its time to first token.
func TestTranslatedDeltaAllocatesNothing(t *testing.T) {
	start := func() *responseTranslator {
		tr := newResponseTranslator(wire.OpenAI, []byte(`{"model":"claude","stream":true}`), "claude", time.Now(), 1<<20)
		tr.begin(&http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}}, http.Header{})
		for _, ev := range []string{
			"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
		} {
			if err := tr.chunk(1, []byte(ev), io.Discard); err != nil {
				t.Fatal(err)
			}
		}
		return tr
	}
	delta := []byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" lazy\"}}\n\n")

	// The first delta, on a new stream each time: the fewest allocations
	// of five tries, so that another goroutine's cannot be counted.
	var out strings.Builder
	first := uint64(math.MaxUint64)
	for range 5 {
		tr := start()
		out.Reset()
		out.Grow(4 << 10) // the writer's own growth is not the translation's
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := tr.chunk(1, delta, &out)
		runtime.ReadMemStats(&after)
		if err != nil || !strings.Contains(out.String(), `"content":" lazy"`) {
			t.Fatalf("delta translated to %q (%v)", out.String(), err)
		}
		first = min(first, after.Mallocs-before.Mallocs)
	}
	if first != 0 {
		t.Errorf("a stream's first delta allocates %d times, want 0", first)
	}

	tr := start()
	if n := testing.AllocsPerRun(100, func() { _ = tr.chunk(1, delta, io.Discard) }); n != 0 {
		t.Errorf("a translated delta allocates %.0f times, want 0", n)
	}
}
