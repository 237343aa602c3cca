package wire

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Requests an OpenAI SDK sends to the translating alias, and shapes at the
// edges of what the fast way reads.
var fastRequests = []string{
	`{"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words."}],"model":"claude","max_tokens":64,"temperature":0.2}`,
	`{"messages":[{"role":"user","content":"Count to three."}],"model":"claude","stream":true,"stream_options":{"include_usage":true}}`,
	`{"model":"claude","messages":[{"role":"system","content":""},{"role":"developer","content":"Answer in French."},{"role":"user","content":"Hi"},{"role":"user","content":""},{"role":"user","content":"again"},{"role":"assistant","content":"Bonjour"},{"role":"user","content":"a<b && c>d \u2028 \"q\"\n\tnaïve \ud83d\ude00"}]}`,
	`{"model":"claude","max_completion_tokens":50,"max_tokens":9,"top_p":0.9,"user":"team-a","n":1,"stop":null,"tools":null,"tool_choice":null,"reasoning_effort":null,"parallel_tool_calls":null,"stream":null,"messages":[{"role":"user","content":"x","name":"bob","extra":[1]}]}`,
	`{"model":"claude","messages":[],"temperature":1e-7,"top_p":-0}`,
	` {"model":"claude"} `,
	`{"model":"claude","temperature":1.5,"messages":[{"role":"user","content":"hot"}]}`,
	`{"model":"claude","n":2,"messages":[{"role":"user","content":"two"}]}`,
	`{"model":"claude","seed":7,"messages":[{"role":"user","content":"Hi"}]}`,
	`{"model":"claude","Model":"x","messages":[{"role":"user","content":"Hi"}]}`,
	`{"model":"claude","messages":[{"role":"user","content":"Hi","Role":"assistant"}]}`,
	`{"model":"claude","messages":[{"role":"tool","content":"1","tool_call_id":"a"}]}`,
	`{"model":"claude","messages":[{"role":"user","content":[{"type":"text","text":"parts"}]}]}`,
	`{"model":"claude","messages":[{"role":"user","content":"dup"}],"messages":[]}`,
	`{"model":"claude","messages":[{"role":"user","content":"Hi"}],"max_tokens":1.0}`,
}

// FuzzOpenAIChatToAnthropicFast: where the fast way of the request
// translation succeeds, its bytes are the general way's, with no warning.
func FuzzOpenAIChatToAnthropicFast(f *testing.F) {
	for _, r := range fastRequests {
		f.Add([]byte(r), "claude-sonnet-4-5")
	}
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`), "a<b>&\u2028\xff")
	f.Fuzz(func(t *testing.T, body []byte, model string) {
		fast, ok := openAIChatToAnthropicFast(body, model)
		if !ok {
			return
		}
		general, warnings, err := openAIChatToAnthropic(body, model)
		if err != nil || len(warnings) > 0 || string(fast) != string(general) {
			t.Fatalf("fast way:\n%s\ngeneral way (warnings %q, error %v):\n%s", fast, warnings, err, general)
		}
	})
}

// Messages answers: recorded ones and shapes at the edges.
var fastAnswers = []string{
	`{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello there, how are you?"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":21,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9}}`,
	`{"id":"msg_1","content":[{"type":"thinking","thinking":"hmm <&>","signature":"abc"},{"type":"text","text":"a\nb"},{"type":"text","text":" \u2028c"}],"stop_reason":"max_tokens","usage":{"input_tokens":5,"output_tokens":7,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"cache_creation":{"ephemeral_5m_input_tokens":60,"ephemeral_1h_input_tokens":40},"service_tier":"standard","server_tool_use":{"web_search_requests":1}}}`,
	`{"id":"msg_2","content":[{"type":"tool_use","id":"toolu_1","name":"multiply","input":{ "a": 1231, "b":"<x>" }},{"type":"tool_use","id":"toolu_2","name":"noargs"},{"type":"tool_use","id":"toolu_3","name":"n","input":null}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2,"cache_creation":null}}`,
	`{"id":"msg_3","content":[{"type":"text","text":"x"},{"type":"tool_use","id":"t","name":"f","input":{}},{"type":"redacted_thinking","data":"zzz"}],"stop_reason":null,"usage":null,"container":null}`,
	`{"id":null,"model":null,"content":null,"usage":{}}`,
	`{}`,
	`{"id":"msg_4","content":[{"type":"text","text":5}]}`,
	`{"id":"msg_5","content":["not a block"]}`,
	`{"id":"msg_6","ID":"msg_7","content":[]}`,
	`{"id":"msg_8","content":[{"type":"text","Text":"folded"}]}`,
}

// FuzzAnthropicToOpenAIChatFast: where the fast way of the answer
// translation succeeds, its bytes are the general way's.
func FuzzAnthropicToOpenAIChatFast(f *testing.F) {
	for _, a := range fastAnswers {
		f.Add([]byte(a), "claude", int64(1764086400))
	}
	for _, name := range []string{"llm-anthropic__test_stream_events_tool_calls", "llm-anthropic__test_stream_events_thinking"} {
		if msg, err := os.ReadFile(filepath.Join("testdata", name+".golden.json")); err == nil {
			f.Add(msg, "gpt-<4o>", int64(-1))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, model string, created int64) {
		fast, ok := anthropicToOpenAIChatFast(body, model, created)
		if !ok {
			return
		}
		general, err := anthropicToOpenAIChat(body, model, created)
		if err != nil || string(fast) != string(general) {
			t.Fatalf("fast way:\n%s\ngeneral way (error %v):\n%s", fast, err, general)
		}
	})
}

// TestFastTranslationTaken: the shapes SDKs send take the fast ways, and
// those the general way warns about or reads differently do not (a fast
// way that always declined would pass the fuzz targets).
func TestFastTranslationTaken(t *testing.T) {
	var taken []int
	for i, r := range fastRequests {
		if _, ok := openAIChatToAnthropicFast([]byte(r), "claude"); ok {
			taken = append(taken, i)
		}
	}
	if want := []int{0, 1, 2, 3, 4, 5}; !slices.Equal(taken, want) {
		t.Errorf("requests taken by the fast way: %v, want %v", taken, want)
	}
	taken = nil
	for i, a := range fastAnswers {
		if _, ok := anthropicToOpenAIChatFast([]byte(a), "claude", 1); ok {
			taken = append(taken, i)
		}
	}
	if want := []int{0, 1, 2, 3, 4, 5}; !slices.Equal(taken, want) {
		t.Errorf("answers taken by the fast way: %v, want %v", taken, want)
	}
	// And where taken, they equal the general way.
	for _, r := range fastRequests {
		if fast, ok := openAIChatToAnthropicFast([]byte(r), "claude"); ok {
			if general, _, _ := openAIChatToAnthropic([]byte(r), "claude"); string(fast) != string(general) {
				t.Errorf("%s:\nfast    %s\ngeneral %s", r, fast, general)
			}
		}
	}
	for _, a := range fastAnswers {
		if fast, ok := anthropicToOpenAIChatFast([]byte(a), "claude", 1); ok {
			if general, _ := anthropicToOpenAIChat([]byte(a), "claude", 1); string(fast) != string(general) {
				t.Errorf("%s:\nfast    %s\ngeneral %s", a, fast, general)
			}
		}
	}
}

// FuzzOpenAIToAnthropicFast: the fast way of a text delta of an
// OpenAI-compatible stream to an Anthropic client (fastDelta) emits
// exactly what the general way emits, for any event after a first chunk
// that opened a text block, and again after it.
func FuzzOpenAIToAnthropicFast(f *testing.F) {
	for _, ev := range []string{
		`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764086400,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" lazy"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"x1"}`,
		`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"a<b && c>d \u2028 \"q\"\n\ud83d\ude00"}}]}`,
		`{"choices":[{"index":0,"delta":{"content":""}}]}`,
		`{"choices":[{"index":1,"delta":{"content":"second"}}]}`,
		`{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}`,
		`{"choices":[{"index":0,"delta":{"role":"assistant","content":"x"}}]}`,
		`{"choices":[{"index":0,"delta":{"content":"x"}},{"index":1,"delta":{"content":"y"}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}]}}]}`,
		`{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`,
		`{"error":{"message":"boom"}}`,
		`{"ID":"x","choices":[{"index":0,"delta":{"content":"folded"}}]}`,
		`[DONE]`,
	} {
		f.Add([]byte(ev))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		first := []byte(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}`)
		run := func(noFast bool) string {
			s := &OpenAIToAnthropicStream{Model: "claude", noFast: noFast}
			var out strings.Builder
			emit := func(b []byte) { out.Write(b) }
			for _, ev := range [][]byte{first, data, data, []byte("[DONE]")} {
				s.Event(Event{Data: ev}, emit)
			}
			return out.String()
		}
		if fast, general := run(false), run(true); fast != general {
			t.Fatalf("fast way:\n%s\ngeneral way:\n%s", fast, general)
		}
	})
}

// TestOpenAIToAnthropicFastTaken: a plain text chunk takes the fast way
// once a text block is open; the first chunk and other shapes do not.
func TestOpenAIToAnthropicFastTaken(t *testing.T) {
	s := &OpenAIToAnthropicStream{Model: "claude"}
	nop := func([]byte) {}
	chunk := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" lazy"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	if s.fastDelta(chunk, nop) {
		t.Fatal("the first chunk took the fast way: message_start would be missing")
	}
	s.Event(Event{Data: chunk}, nop)
	var got string
	if !s.fastDelta(chunk, func(b []byte) { got = string(b) }) {
		t.Fatal("a plain text chunk in an open text block did not take the fast way")
	}
	if want := "event: content_block_delta\ndata: {\"delta\":{\"text\":\" lazy\",\"type\":\"text_delta\"},\"index\":0,\"type\":\"content_block_delta\"}\n\n"; got != want {
		t.Fatalf("fast way wrote %q, want %q", got, want)
	}
	if s.fastDelta([]byte(`{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}`), nop) {
		t.Fatal("a chunk with a finish reason took the fast way")
	}
}
