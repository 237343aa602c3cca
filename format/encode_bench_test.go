package format

import "testing"

// sseChunk is a typical streamed chat chunk: short runs between quotes.
const sseChunk = `data: {"id":"chatcmpl-BqJm8aT0PyWZ6u5K5Vt3dBb7JgxYz","object":"chat.completion.chunk","created":1764097731,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{"content":" hello"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"

func BenchmarkAppendString(b *testing.B) {
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(sseChunk)))
	for b.Loop() {
		buf = appendString(buf[:0], sseChunk)
	}
}
