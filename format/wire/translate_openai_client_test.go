package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
)

func TestOpenAIChatToAnthropic(t *testing.T) {
	for _, tc := range []struct {
		name, req    string
		wantWarnings []string
	}{
		{"system_and_user", `{"model":"claude","messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":"Answer in French."},{"role":"user","content":"Hello"}]}`, nil},
		{"tools_round_trip", `{"model":"claude","max_tokens":300,"tool_choice":"required","parallel_tool_calls":false,
			"tools":[{"type":"function","function":{"name":"multiply","description":"Multiply two numbers.","parameters":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}}],
			"messages":[{"role":"user","content":"What is 1231 * 2331?"},
			{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"multiply","arguments":"{\"a\":1231,\"b\":2331}"}}]},
			{"role":"tool","tool_call_id":"call_1","content":"2869461"},
			{"role":"user","content":"Thanks. Now double it."}]}`, nil},
		{"images", `{"model":"claude","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},
			{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
			{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]}]}`, nil},
		{"sampling_stop_user_stream", `{"model":"claude","max_completion_tokens":50,"temperature":1.5,"top_p":0.9,"stop":["END","STOP"],
			"user":"team-a","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Count."}]}`,
			[]string{"temperature 1.5 clamped to 1"}},
		{"reasoning_effort", `{"model":"claude","reasoning_effort":"medium","max_tokens":1000,"temperature":0.2,"messages":[{"role":"user","content":"Think."}]}`, nil},
		{"dropped_parameters", `{"model":"claude","seed":7,"logit_bias":{"50256":-100},"messages":[{"role":"user","content":"Hi"}]}`,
			[]string{"dropped parameter logit_bias", "dropped parameter seed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, warnings, err := OpenAIChatToAnthropic([]byte(tc.req), "claude-3-opus-20240229")
			checkTranslation(t, out, warnings, err, tc.wantWarnings, tc.name+".anthropic")
		})
	}
}

// checkTranslation fails unless the translation succeeded with exactly the
// wanted warnings (by substring) and matches its golden file.
func checkTranslation(t *testing.T, out []byte, warnings []string, err error, want []string, goldenName string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(warnings, "; ")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Fatalf("warnings %q lack %q", joined, w)
		}
	}
	if len(want) == 0 && len(warnings) > 0 {
		t.Fatalf("unexpected warnings %q", joined)
	}
	golden(t, filepath.Join("translate", goldenName), out)
}

func TestOpenAIChatToAnthropicRefuses(t *testing.T) {
	for _, req := range []string{
		`{"model":"claude","n":2,"messages":[{"role":"user","content":"Hi"}]}`,
		`{"model":"claude","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}`,
		`{"model":"claude","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{not json"}}]}]}`,
		`not json`,
	} {
		_, _, err := OpenAIChatToAnthropic([]byte(req), "m")
		var te *TranslateError
		if !errors.As(err, &te) || te.Msg == "" {
			t.Errorf("%s: want a TranslateError, got %v", req, err)
		}
	}
}

func TestAnthropicToOpenAIChat(t *testing.T) {
	for _, name := range []string{"llm-anthropic__test_stream_events_tool_calls", "llm-anthropic__test_stream_events_thinking"} {
		t.Run(name, func(t *testing.T) {
			msg, err := os.ReadFile(filepath.Join("testdata", name+".golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			out, err := AnthropicToOpenAIChat(msg, "claude", 1764000000)
			if err != nil {
				t.Fatal(err)
			}
			var c openai.ChatCompletion
			if err := json.Unmarshal(out, &c); err != nil || len(c.Choices) != 1 || c.Model != "claude" {
				t.Fatalf("the SDK's type does not read it: %v\n%s", err, out)
			}
			golden(t, filepath.Join("translate", name+".openai"), out)
		})
	}
}

// translateStream runs a recorded Anthropic stream through the translator
// in 7-byte reads and returns the OpenAI SSE body it produced.
func translateStream(t testing.TB, body []byte, includeUsage bool) []byte {
	return runTranslator(&AnthropicToOpenAIStream{Model: "claude", Created: 1764000000, IncludeUsage: includeUsage}, body)
}

// runTranslator feeds body to a stream translator in 7-byte reads and
// returns everything it emitted.
func runTranslator(tr interface{ Event(Event, func([]byte)) }, body []byte) []byte {
	var p SSEParser
	var out bytes.Buffer
	for ts, chunk := range chunksOf(body, 7) {
		p.Feed(ts, chunk, func(ev Event) { tr.Event(ev, func(b []byte) { out.Write(b) }) })
	}
	return out.Bytes()
}

// TestAnthropicStreamToOpenAI: the translated stream of every recorded
// Anthropic stream is read without error by openai-go's own SSE decoder and
// accumulator, and says what the Anthropic stream said.
func TestAnthropicStreamToOpenAI(t *testing.T) {
	for _, name := range []string{"llm-anthropic__test_stream_events_text", "llm-anthropic__test_stream_events_tool_calls", "llm-anthropic__test_stream_events_thinking"} {
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(recorded(name + ".sse"))
			if err != nil {
				t.Fatal(err)
			}
			src := ReadStream(KindAnthropicMessages, chunksOf(body, len(body)))
			out := translateStream(t, body, true)
			golden(t, filepath.Join("translate", name+".openai-sse"), mustJSONLines(t, out))

			resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(out))}
			s := ssestream.NewStream[openai.ChatCompletionChunk](ssestream.NewDecoder(resp), nil)
			var acc openai.ChatCompletionAccumulator
			for s.Next() {
				if !acc.AddChunk(s.Current()) {
					t.Fatalf("the SDK's accumulator rejected a chunk: %s", s.Current().RawJSON())
				}
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			if acc.Usage.PromptTokens != src.Usage.Prompt || acc.Usage.CompletionTokens != src.Usage.Completion {
				t.Fatalf("usage %+v, Anthropic said %+v", acc.Usage, src.Usage)
			}
			if got, want := string(acc.Choices[0].FinishReason), finishReason(src.FinishReason); got != want {
				t.Fatalf("finish_reason %q, want %q", got, want)
			}
			// The same events, reassembled on the OpenAI side, give the
			// same text and tool calls as the Anthropic side.
			back := ReadStream(KindOpenAIChat, chunksOf(out, len(out)))
			if !back.Done || back.ContentEvents != src.ContentEvents {
				t.Fatalf("translated stream: done %v, %d content events, Anthropic had %d", back.Done, back.ContentEvents, src.ContentEvents)
			}
		})
	}
}

// mustJSONLines checks every translated event is "data: <json>\n\n" (or
// [DONE]) and returns the events as a JSON array for the golden file.
func mustJSONLines(t *testing.T, sse []byte) json.RawMessage {
	var events []json.RawMessage
	for _, ev := range strings.SplitAfter(string(sse), "\n\n") {
		if ev == "" {
			continue
		}
		data, ok := strings.CutPrefix(ev, "data: ")
		data, ok2 := strings.CutSuffix(data, "\n\n")
		if !ok || !ok2 || strings.Contains(data, "\n") {
			t.Fatalf("malformed SSE event %q", ev)
		}
		if data == "[DONE]" {
			events = append(events, json.RawMessage(`"[DONE]"`))
			continue
		}
		if !json.Valid([]byte(data)) {
			t.Fatalf("event data is not JSON: %s", data)
		}
		events = append(events, json.RawMessage(data))
	}
	out, _ := json.Marshal(events)
	return out
}

func FuzzOpenAIChatToAnthropic(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"a","content":"1"}]}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],"stop":"x","tools":[{"type":"function","function":{"name":"f"}}]}`))
	f.Fuzz(func(t *testing.T, req []byte) {
		out, _, err := OpenAIChatToAnthropic(req, "claude")
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON out: %s", out)
		}
	})
}

func FuzzAnthropicStreamToOpenAI(f *testing.F) {
	for _, name := range []string{"llm-anthropic__test_stream_events_tool_calls", "llm-anthropic__test_stream_events_thinking"} {
		body, _ := os.ReadFile(recorded(name + ".sse"))
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out := translateStream(t, body, true)
		for _, ev := range strings.SplitAfter(string(out), "\n\n") {
			if ev == "" {
				continue
			}
			data, ok := strings.CutPrefix(ev, "data: ")
			data, ok2 := strings.CutSuffix(data, "\n\n")
			if !ok || !ok2 || strings.Contains(data, "\n") || (data != "[DONE]" && !json.Valid([]byte(data))) {
				t.Fatalf("malformed SSE emitted: %q", ev)
			}
		}
	})
}

func TestErrorTranslation(t *testing.T) {
	anth := []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}`)
	golden(t, filepath.Join("translate", "error_529.openai"), AnthropicErrorToOpenAI(anth, 529))
	oai := []byte(`{"error":{"message":"Rate limit reached for gpt-4o","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
	golden(t, filepath.Join("translate", "error_429.anthropic"), OpenAIErrorToAnthropic(oai, 429))
	golden(t, filepath.Join("translate", "error_not_json.anthropic"), OpenAIErrorToAnthropic([]byte("<html>bad gateway</html>"), 502))
}

// FuzzAnthropicToOpenAIFast: the fast way of a text or thinking delta
// (fastDelta) emits exactly what the general way emits, for any event
// after any message_start, with and without include_usage.
func FuzzAnthropicToOpenAIFast(f *testing.F) {
	for _, ev := range []string{
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" lazy"}}`,
		`{"type":"content_block_delta","index":2,"delta":{"type":"thinking_delta","thinking":"Olá, naïve café"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a<b && c>d"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"line\nbreak \u2028"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}} `,
		`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\""}}`,
	} {
		f.Add([]byte(ev), "msg_01", "claude", true)
	}
	f.Fuzz(func(t *testing.T, data []byte, id, model string, usage bool) {
		start, _ := json.Marshal(map[string]any{"type": "message_start", "message": map[string]any{"id": id, "usage": map[string]any{"input_tokens": 3}}})
		run := func(noFast bool) string {
			s := &AnthropicToOpenAIStream{Model: model, Created: 1764086400, IncludeUsage: usage, noFast: noFast}
			var out strings.Builder
			emit := func(b []byte) { out.Write(b) }
			s.Event(Event{Data: start}, emit)
			s.Event(Event{Data: data}, emit)
			s.Event(Event{Data: data}, emit) // the prepared chunk, reused
			return out.String()
		}
		if fast, general := run(false), run(true); fast != general {
			t.Fatalf("fast way:\n%s\ngeneral way:\n%s", fast, general)
		}
	})
}

// TestFastDeltaTaken: a plain text delta takes the fast way; one whose
// text encoding/json would escape, or before message_start, does not.
func TestFastDeltaTaken(t *testing.T) {
	s := &AnthropicToOpenAIStream{Model: "claude", Created: 1}
	nop := func([]byte) {}
	plain := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" lazy"}}`)
	if s.fastDelta(plain, nop) {
		t.Fatal("fast way before message_start")
	}
	s.Event(Event{Data: []byte(`{"type":"message_start","message":{"id":"msg_1"}}`)}, nop)
	if !s.fastDelta(plain, nop) {
		t.Fatal("a plain text delta did not take the fast way")
	}
	if s.fastDelta([]byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a<b"}}`), nop) {
		t.Fatal("a text encoding/json escapes took the fast way")
	}
}
