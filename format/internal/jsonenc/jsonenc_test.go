package jsonenc

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// sseChunk is a typical streamed chat chunk: short runs between quotes.
const sseChunk = `data: {"id":"chatcmpl-BqJm8aT0PyWZ6u5K5Vt3dBb7JgxYz","object":"chat.completion.chunk","created":1764097731,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{"content":" hello"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"

func marshal(v any, escapeHTML bool) string {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil {
		return "error: " + err.Error()
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a<b>&c", "quote\" back\\slash", "\x00\x1f\t\n\r\b\f", "\u2028\u2029", "é\xff\xfe€", sseChunk} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{false, true} {
			if got, want := string(AppendString(nil, s, html)), marshal(s, html); got != want {
				t.Fatalf("html=%v: got %s, encoding/json %s", html, got, want)
			}
			if got, want := string(AppendString([]byte("x"), []byte(s), html)), "x"+marshal(s, html); got != want {
				t.Fatalf("[]byte, html=%v: got %s, encoding/json %s", html, got, want)
			}
		}
	})
}

func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, -0.0, 0.2, 1, 2, 1e-6, 1e-7, 9.99e-7, 1e20, 1e21, 123456789.125, -3.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		got, ok := AppendFloat(nil, v)
		want := marshal(v, true)
		if !ok {
			if !strings.HasPrefix(want, "error") {
				t.Fatalf("%v: refused, encoding/json wrote %s", v, want)
			}
			return
		}
		if string(got) != want {
			t.Fatalf("%v: got %s, encoding/json %s", v, got, want)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(sseChunk)))
	for b.Loop() {
		buf = AppendString(buf[:0], sseChunk, false)
	}
}
