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
