package wire

import "testing"

// BenchmarkChatEvent reassembles one typical Chat Completions content event
// (the shape OpenAI streams ~300 times per answer).
func BenchmarkChatEvent(b *testing.B) {
	ev := Event{Data: []byte(`{"id":"chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012","object":"chat.completion.chunk","created":1764086400,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{"content":" lazy"},"logprobs":null,"finish_reason":null}],"usage":null}`)}
	s := &openAIChatStream{}
	b.SetBytes(int64(len(ev.Data)))
	b.ReportAllocs()
	for b.Loop() {
		s.Event(ev)
	}
}

// BenchmarkSSEFeed parses one network read holding one SSE event, as the
// capture relay and the analyzer do per chunk.
// BenchmarkSSEFeed parses one read that is one whole event: a Chat
// Completions chunk (data only) and an Anthropic delta (named).
func BenchmarkSSEFeed(b *testing.B) {
	for _, c := range []struct{ name, chunk string }{
		{"chat", `data: {"id":"chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012","object":"chat.completion.chunk","created":1764086400,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":" lazy"},"logprobs":null,"finish_reason":null}]}` + "\n\n"},
		{"anthropic", "event: content_block_delta\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" lazy"}}` + "\n\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			chunk := []byte(c.chunk)
			var p SSEParser
			n := 0
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				p.Feed(0, chunk, func(Event) { n++ })
			}
			if n == 0 {
				b.Fatal("no event parsed")
			}
		})
	}
}

// BenchmarkTranslateChunk translates one streamed content event each way
// (an alias that crosses providers pays this per chunk).
func BenchmarkTranslateChunk(b *testing.B) {
	b.Run("anthropic_to_openai", func(b *testing.B) {
		t := &AnthropicToOpenAIStream{Model: "claude", Created: 1764086400}
		t.Event(Event{Name: "message_start", Data: []byte(`{"type":"message_start","message":{"id":"msg_01","model":"claude-sonnet-4-5","usage":{"input_tokens":12,"output_tokens":1}}}`)}, func([]byte) {})
		ev := Event{Name: "content_block_delta", Data: []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" lazy"}}`)}
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			t.Event(ev, func(p []byte) { n += len(p) })
		}
		if n == 0 {
			b.Fatal("nothing emitted")
		}
	})
	b.Run("openai_to_anthropic", func(b *testing.B) {
		t := &OpenAIToAnthropicStream{Model: "gpt"}
		ev := Event{Data: []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764086400,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" lazy"},"finish_reason":null}]}`)}
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			t.Event(ev, func(p []byte) { n += len(p) })
		}
		if n == 0 {
			b.Fatal("nothing emitted")
		}
	})
}

// BenchmarkTranslateWhole translates what a non-streamed alias call
// translates: the OpenAI SDK's request into a Messages request, and the
// Messages answer back into a Chat Completions answer.
func BenchmarkTranslateWhole(b *testing.B) {
	b.Run("request_openai_to_anthropic", func(b *testing.B) {
		req := []byte(`{"model":"claude","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words."}],"max_tokens":64,"temperature":0.2}`)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := OpenAIChatToAnthropic(req, "claude-sonnet-4-5"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("answer_anthropic_to_openai", func(b *testing.B) {
		answer := []byte(`{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello there, how are you?"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":21,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9}}`)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := AnthropicToOpenAIChat(answer, "claude", 1764086400); err != nil {
				b.Fatal(err)
			}
		}
	})
}
