package analyze

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/format"
)

// sseExchange wraps a recorded SSE body as a captured exchange: one chunk
// per event, the first at 100 ms and then one every 10 ms.
func sseExchange(t *testing.T, path, sse string) *format.Exchange {
	t.Helper()
	ex := &format.Exchange{V: 1, ID: "test", Node: "n", StartNS: t0.UnixNano(),
		Request:  format.Request{Method: "POST", Path: path, Headers: format.Header{"X-Api-Key": {"fp:0123456789abcdef"}}},
		Response: &format.Response{Status: 200, Headers: format.Header{"Content-Type": {"text/event-stream"}}},
	}
	ex.Request.SetBody([]byte(`{"model":"m","stream":true,"metadata":{"user_id":"alice"}}`), 57)
	at := int64(100e6)
	for _, ev := range strings.SplitAfter(sse, "\n\n") {
		if ev == "" {
			continue
		}
		ex.Response.Chunks = append(ex.Response.Chunks, format.NewChunk(at, []byte(ev)))
		at += 10e6
	}
	ex.EndNS = at
	return ex
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/recorded/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// anthropicRevised is an Anthropic stream whose final message_delta reports
// other counts than message_start (ARCHITECTURE.md §8), with a 1-hour cache write.
const anthropicRevised = `event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"usage":{"input_tokens":10,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" friend"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":20,"cache_read_input_tokens":3000,"cache_creation_input_tokens":500,"cache_creation":{"ephemeral_5m_input_tokens":200,"ephemeral_1h_input_tokens":300},"output_tokens":3}}

event: message_stop
data: {"type":"message_stop"}

`

// deepseekStream is a DeepSeek chat stream shaped as its API documents it
// (api-docs.deepseek.com: OpenAI's chunk format; the usage chunk carries the
// prompt split into prompt_cache_hit_tokens and prompt_cache_miss_tokens,
// here without prompt_tokens_details, as some of its answers come).
const deepseekStream = `data: {"id":"b1f2","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","system_fingerprint":"fp_ffc7281d48_prod0820_fp8_kvcache","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}

data: {"id":"b1f2","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","system_fingerprint":"fp_ffc7281d48_prod0820_fp8_kvcache","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}

data: {"id":"b1f2","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","system_fingerprint":"fp_ffc7281d48_prod0820_fp8_kvcache","choices":[{"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null}]}

data: {"id":"b1f2","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","system_fingerprint":"fp_ffc7281d48_prod0820_fp8_kvcache","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1100,"completion_tokens":2,"total_tokens":1102,"prompt_cache_hit_tokens":1024,"prompt_cache_miss_tokens":76}}

data: [DONE]

`

func TestExtractStreams(t *testing.T) {
	x := &extractor{prices: pricing.Default()}
	for _, c := range []struct {
		name, path, sse         string
		prompt, out, read, w1h  int64
		ttftMs, tpotMs          float64
		finish, user, respModel string
	}{
		{"anthropic final usage wins", "/v1/messages", anthropicRevised, 3520, 3, 3000, 300, 120, 10, "end_turn", "alice", "claude-sonnet-4-5-20250929"},
		// Real recordings (testdata/recorded/SOURCES.md): the first thinking delta
		// (after message_start, content_block_start and a ping) is the first content.
		{"anthropic thinking", "/v1/messages", fixture(t, "llm-anthropic__test_stream_events_thinking.sse"), 46, 0, 0, 0, 130, 0, "end_turn", "alice", "claude-haiku-4-5-20251001"},
		{"responses usage on the terminal event", "/v1/responses", fixture(t, "simonw-llm__test_responses_basic_streaming.sse"), 11, 5, 0, 0, 0, 0, "completed", "alice", ""},
		{"deepseek cache fields", "/v1/chat/completions", deepseekStream, 1100, 2, 1024, 0, 110, 10, "stop", "alice", "deepseek-chat"},
		// Azure: the prompt-filter event (100 ms) and the empty role delta
		// (110 ms) are no first token; "Olá" (120 ms) is.
		{"azure prompt filter first", "/openai/deployments/gpt-5-mini/chat/completions", fixture(t, "fantasy__azure_gpt-5-mini_simple_streaming.sse"), 19, 76, 0, 0, 120, 0, "stop", "alice", "gpt-5-mini-2025-08-07"},
	} {
		t.Run(c.name, func(t *testing.T) {
			call := x.call(sseExchange(t, c.path, c.sse), "seg")
			if call.ActualPromptTokens == nil {
				t.Fatalf("no usage: %+v", call)
			}
			if *call.ActualPromptTokens != c.prompt || (c.out > 0 && *call.ActualCompletionTokens != c.out) ||
				*call.ActualCachedTokens != c.read || *call.ActualCacheCreation1hTokens != c.w1h {
				t.Errorf("tokens: prompt %d out %d read %d 1h %d", *call.ActualPromptTokens, *call.ActualCompletionTokens,
					*call.ActualCachedTokens, *call.ActualCacheCreation1hTokens)
			}
			if c.read > 0 {
				if got, want := *call.ActualCacheHitRate, float64(c.read)/float64(c.prompt); got != want {
					t.Errorf("hit rate %v, want %v", got, want)
				}
			}
			if c.ttftMs > 0 && (call.EstimatedTTFTMs == nil || *call.EstimatedTTFTMs != c.ttftMs) {
				t.Errorf("TTFT %v, want %v (first content event, not message_start)", call.EstimatedTTFTMs, c.ttftMs)
			}
			if c.tpotMs > 0 && (call.EstimatedTPOTMs == nil || *call.EstimatedTPOTMs != c.tpotMs) {
				t.Errorf("TPOT %v, want %v", call.EstimatedTPOTMs, c.tpotMs)
			}
			if deref(call.FinishReason) != c.finish || deref(call.UserID) != c.user || (c.respModel != "" && deref(call.ResponseModel) != c.respModel) {
				t.Errorf("finish %v user %v model %v", deref(call.FinishReason), deref(call.UserID), deref(call.ResponseModel))
			}
			if call.ResponseJSON == nil || call.StreamComplete == nil || !*call.StreamComplete {
				t.Errorf("stream not reassembled or not complete: %v", call.Problems)
			}
		})
	}
}

// TestPercentile holds the selection-based percentile to numpy's linear
// interpolation over a sorted copy, on gaps with and without ties.
func TestPercentile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 10, 101, 299, 1000} {
		for _, spread := range []int64{1, 3, 1e6} {
			gaps := make([]int64, n)
			for i := range gaps {
				gaps[i] = rng.Int64N(spread) * 1000
			}
			sorted := slices.Sorted(slices.Values(gaps))
			for _, p := range []float64{0, 0.5, 0.99, 1} {
				pos := p * float64(n-1)
				i := int(pos)
				want := ms(sorted[i])
				if i+1 < n {
					want += (pos - float64(i)) * (ms(sorted[i+1]) - ms(sorted[i]))
				}
				if got := percentile(slices.Clone(gaps), p); got != want {
					t.Errorf("n=%d spread=%d p=%v: %v, want %v", n, spread, p, got, want)
				}
			}
		}
	}
}

// TestProxyMs: proxy_ms is what the proxy cost the call — its handshake on
// a new connection through it, 0 direct or on a reused connection, NULL
// when the record does not say (older records, no connection).
func TestProxyMs(t *testing.T) {
	x := &extractor{prices: pricing.Default()}
	for _, tc := range []struct {
		name    string
		proxy   string
		timings format.Timings
		want    *float64
	}{
		{"direct", "direct", format.Timings{GotConn: 1e6}, ptr(0.0)},
		{"new_connection_through_a_proxy", "socks5h://u@127.0.0.1:1080", format.Timings{GotConn: 5e6, ProxyHandshake: 1_900_000}, ptr(1.9)},
		{"reused_connection", "http://u@proxy:3128", format.Timings{GotConn: 1e6, ConnReused: true}, ptr(0.0)},
		{"not_recorded", "http://u@proxy:3128", format.Timings{GotConn: 5e6}, nil},
		{"no_connection", "none", format.Timings{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := &format.Exchange{V: 1, ID: tc.name, StartNS: t0.UnixNano(), Request: format.Request{Method: "POST", Path: "/v1/chat/completions"},
				Route: &format.Route{Provider: "openai", Dialect: "openai", Proxy: tc.proxy}, Timings: tc.timings, EndNS: 10e6}
			got := x.call(ex, "seg").ProxyMs
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("proxy_ms %v, want %v", deref(got), deref(tc.want))
			}
		})
	}
}

// TestCostByProvider: a call is priced as the provider its upstream URL
// belongs to bills it, and an amount the API reported is the cost.
func TestCostByProvider(t *testing.T) {
	x := &extractor{prices: pricing.Default()}
	openrouter := fixture(t, "fantasy__openrouter_glm-4.6_simple.json")
	for _, tc := range []struct {
		name, url, model, body string
		source, version        string
		cost                   func(pricing.Match) float64
	}{
		// OpenRouter's usage.cost (a recorded answer) is what was billed.
		{"openrouter reports its cost", "https://openrouter.ai/api/v1/chat/completions", "z-ai/glm-4.6", openrouter,
			"openrouter/z-ai/glm-4.6", "api", func(pricing.Match) float64 { return 0.0040773 }},
		// xAI's cost_in_usd_ticks is what was billed; and its reasoning,
		// outside completion_tokens, counted as output: the table's price
		// of the normalised tokens is exactly that bill (checked below).
		{"xai reports its cost", "https://api.x.ai/v1/chat/completions", "grok-4-fast", fixture(t, "fantasy__xai_grok-4-fast_simple.json"),
			"xai/grok-4-fast-reasoning", "api", func(pricing.Match) float64 { return 731000 / 1e10 }},
		// DeepSeek's own prices, its cache hit at its cache price.
		{"deepseek at its own price", "https://api.deepseek.com/chat/completions", "deepseek-chat",
			`{"model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1100,"completion_tokens":2,"total_tokens":1102,"prompt_cache_hit_tokens":1024,"prompt_cache_miss_tokens":76}}`,
			"deepseek/deepseek-chat", "", func(p pricing.Match) float64 { return 76*p.Input + 1024*p.CacheRead + 2*p.Output }},
		// Gemini's OpenAI-compatible endpoint: a total beyond prompt +
		// completion is thinking, billed as output (11 + 2 + 21 = 34, the
		// counts of the recorded native answer in format/wire's tests).
		{"gemini openai-compatible, thoughts outside completion", "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions", "gemini-2.5-flash",
			`{"model":"gemini-2.5-flash","choices":[{"index":0,"message":{"role":"assistant","content":"Olá!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":34}}`,
			"gemini/gemini-2.5-flash", "", func(p pricing.Match) float64 { return 11*p.Input + 23*p.Output }},
		{"gemini openai-compatible, thoughts inside completion", "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions", "gemini-2.5-flash",
			`{"model":"gemini-2.5-flash","choices":[{"index":0,"message":{"role":"assistant","content":"Olá!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":23,"total_tokens":34,"completion_tokens_details":{"reasoning_tokens":21}}}`,
			"gemini/gemini-2.5-flash", "", func(p pricing.Match) float64 { return 11*p.Input + 23*p.Output }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := &format.Exchange{V: 1, ID: "test", Node: "n", StartNS: t0.UnixNano(), EndNS: t0.UnixNano() + 1e9,
				Request:  format.Request{Method: "POST", Path: "/v1/chat/completions"},
				Route:    &format.Route{Provider: "p", Dialect: "openai", UpstreamModel: tc.model, URL: tc.url, Proxy: "direct"},
				Response: &format.Response{Status: 200, Headers: format.Header{"Content-Type": {"application/json"}}},
			}
			ex.Request.SetBody([]byte(`{"model":"`+tc.model+`"}`), 0)
			ex.Response.Chunks = []format.Chunk{format.NewChunk(5e8, []byte(tc.body))}
			call := x.call(ex, "seg")
			price, ok := pricing.Default().Entry(tc.source)
			if !ok || deref(call.PriceSource) != tc.source {
				t.Fatalf("price_source %q, want %q (in the table: %v)", deref(call.PriceSource), tc.source, ok)
			}
			want := tc.cost(price)
			if call.EstimatedCostUSD == nil || math.Abs(*call.EstimatedCostUSD-want) > 1e-12 {
				t.Errorf("cost %v, want %v", call.EstimatedCostUSD, want)
			}
			if tc.version != "" && deref(call.PriceVersion) != tc.version {
				t.Errorf("price_version %q, want %q", deref(call.PriceVersion), tc.version)
			}
			if tc.version == "api" && strings.Contains(tc.url, "x.ai") {
				if with, _ := price.Cost(tokensOf(&call)); math.Abs(with-want) > 1e-12 {
					t.Errorf("the table prices xAI's normalised tokens at %v, it billed %v", with, want)
				}
			}
		})
	}
}
