package capture

import (
	"context"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

func openAIClient(h *harness) openai.Client {
	return openai.NewClient(option.WithBaseURL(h.inst.URL+"/v1"), option.WithAPIKey(clientOpenAIKey), option.WithMaxRetries(0))
}

func anthropicClient(h *harness) anthropic.Client {
	return anthropic.NewClient(aoption.WithBaseURL(h.inst.URL), aoption.WithAPIKey(clientAnthropicKey), aoption.WithMaxRetries(0))
}

// TestOfficialSDKsThroughCapture: the official Go SDKs, pointed at capture,
// get the simulator's answers intact, streamed and not, and every exchange
// is recorded with its request, response, chunks and timings.
func TestOfficialSDKsThroughCapture(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: 30 * time.Millisecond, TPOT: 2 * time.Millisecond, OutputTokens: 12}, nil)
	ctx := context.Background()
	want := apitest.Text(12)
	oc, ac := openAIClient(h), anthropicClient(h)
	chatParams := openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello")}}

	t.Run("openai_chat", func(t *testing.T) {
		c, err := oc.Chat.Completions.New(ctx, chatParams)
		if err != nil {
			t.Fatal(err)
		}
		if c.Choices[0].Message.Content != want || c.Usage.CompletionTokens != 12 || c.Choices[0].FinishReason != "stop" {
			t.Fatalf("got %q, usage %+v, finish %q", c.Choices[0].Message.Content, c.Usage, c.Choices[0].FinishReason)
		}
	})
	t.Run("openai_chat_stream", func(t *testing.T) {
		p := chatParams
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		s := oc.Chat.Completions.NewStreaming(ctx, p)
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Choices[0].Message.Content != want || acc.Usage.CompletionTokens != 12 {
			t.Fatalf("got %q, usage %+v", acc.Choices[0].Message.Content, acc.Usage)
		}
	})
	t.Run("openai_responses", func(t *testing.T) {
		p := responses.ResponseNewParams{Model: "gpt-4o", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello")}}
		r, err := oc.Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if r.OutputText() != want || r.Usage.OutputTokens != 12 {
			t.Fatalf("got %q, usage %+v", r.OutputText(), r.Usage)
		}
		s := oc.Responses.NewStreaming(ctx, p)
		text, done := "", false
		for s.Next() {
			ev := s.Current()
			switch ev.Type {
			case "response.output_text.delta":
				text += ev.Delta
			case "response.completed":
				done = ev.Response.Usage.OutputTokens == 12
			}
		}
		if err := s.Err(); err != nil || text != want || !done {
			t.Fatalf("stream: %q, completed with usage %v, err %v", text, done, err)
		}
	})
	msgParams := anthropic.MessageNewParams{Model: "claude-3-5-haiku-latest", MaxTokens: 100,
		System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello"))}}
	t.Run("anthropic_messages", func(t *testing.T) {
		m, err := ac.Messages.New(ctx, msgParams)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Content) != 1 || m.Content[0].Text != want || m.Usage.OutputTokens != 12 || m.StopReason != "end_turn" {
			t.Fatalf("got %+v", m)
		}
	})
	t.Run("anthropic_messages_stream", func(t *testing.T) {
		s := ac.Messages.NewStreaming(ctx, msgParams)
		var m anthropic.Message
		for s.Next() {
			if err := m.Accumulate(s.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if m.Content[0].Text != want || m.Usage.OutputTokens != 12 || m.StopReason != "end_turn" {
			t.Fatalf("got %+v", m)
		}
	})
	t.Run("openai_models_and_embeddings", func(t *testing.T) {
		page, err := oc.Models.List(ctx)
		if err != nil || len(page.Data) == 0 {
			t.Fatalf("models: %v, %v", page, err)
		}
		e, err := oc.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "text-embedding-3-small",
			Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}})
		if err != nil || len(e.Data) != 1 {
			t.Fatalf("embeddings: %v, %v", e, err)
		}
	})

	recs := h.records(t)
	if len(recs) != 8 {
		t.Fatalf("%d records for 8 calls", len(recs))
	}
	for _, r := range recs {
		if r.Response == nil || r.Response.Status != 200 || r.Error != nil {
			t.Fatalf("%s %s: response %+v error %+v", r.Request.Method, r.Request.Path, r.Response, r.Error)
		}
		if r.Route == nil || r.Timings.GotConn == 0 || r.Timings.FirstByte == 0 || r.EndNS < r.Timings.FirstByte {
			t.Fatalf("%s: route %+v timings %+v end %d", r.Request.Path, r.Route, r.Timings, r.EndNS)
		}
		if r.Request.Method == "POST" && r.Request.JSON == nil {
			t.Fatalf("%s: request body not embedded as JSON", r.Request.Path)
		}
		if got := r.Request.Headers.KeyFingerprint(); got != format.Fingerprint(clientOpenAIKey) && got != format.Fingerprint(clientAnthropicKey) {
			t.Fatalf("%s: key fingerprint %q", r.Request.Path, got)
		}
	}
	// A streamed record keeps one chunk per read, each stamped, in order.
	var streamed *format.Exchange
	for _, r := range recs {
		if r.Request.Path == "/v1/messages" && len(r.Response.Chunks) > 5 {
			streamed = r
		}
	}
	if streamed == nil {
		t.Fatal("no streamed Anthropic record")
	}
	for i := 1; i < len(streamed.Response.Chunks); i++ {
		if streamed.Response.Chunks[i].T < streamed.Response.Chunks[i-1].T {
			t.Fatal("chunk offsets go backwards")
		}
	}
	if first := streamed.Response.Chunks[0]; first.T < streamed.Timings.FirstByte {
		t.Fatalf("first chunk at %d before first byte at %d", first.T, streamed.Timings.FirstByte)
	}
}
