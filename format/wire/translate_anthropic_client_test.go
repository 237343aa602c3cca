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

	"github.com/anthropics/anthropic-sdk-go/v2"
	assestream "github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"
)

func TestAnthropicToOpenAIChatRequest(t *testing.T) {
	for _, tc := range []struct {
		name, req    string
		wantWarnings []string
	}{
		{"system_blocks_cached", `{"model":"gpt","max_tokens":100,"system":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral"}}],
			"messages":[{"role":"user","content":"Hello"}]}`, []string{"dropped cache_control"}},
		{"tools_round_trip", `{"model":"gpt","max_tokens":300,"tool_choice":{"type":"any","disable_parallel_tool_use":true},
			"tools":[{"name":"multiply","description":"Multiply two numbers.","input_schema":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}}],
			"messages":[{"role":"user","content":"What is 1231 * 2331?"},
			{"role":"assistant","content":[{"type":"text","text":"Let me compute."},{"type":"tool_use","id":"toolu_1","name":"multiply","input":{"a":1231,"b":2331}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"2869461"},{"type":"text","text":"Now double it."}]}]}`, nil},
		{"images", `{"model":"gpt","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},
			{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
			{"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]}]}`, nil},
		{"sampling_stop_user_stream", `{"model":"gpt","max_tokens":50,"temperature":0.3,"top_p":0.9,"top_k":40,"stop_sequences":["END"],
			"metadata":{"user_id":"team-a"},"stream":true,"messages":[{"role":"user","content":"Count."}]}`, []string{"dropped parameter top_k"}},
		{"thinking_dropped", `{"model":"gpt","max_tokens":100,"thinking":{"type":"enabled","budget_tokens":2048},
			"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"text","text":"Hello"}]},{"role":"user","content":"Again"}]}`,
			[]string{"dropped parameter thinking", "dropped a thinking block"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, warnings, err := AnthropicToOpenAIChatRequest([]byte(tc.req), "gpt-4o")
			checkTranslation(t, out, warnings, err, tc.wantWarnings, tc.name+".openai-request")
		})
	}
	for _, bad := range []string{`not json`, `{"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}`, `{"messages":[{"role":"system","content":"x"}]}`} {
		var te *TranslateError
		if _, _, err := AnthropicToOpenAIChatRequest([]byte(bad), "m"); !errors.As(err, &te) {
			t.Errorf("%s: want a TranslateError, got %v", bad, err)
		}
	}
}

func TestOpenAIChatToAnthropicResponse(t *testing.T) {
	body, err := os.ReadFile("testdata/simonw-llm__test_tool_use_basic.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := OpenAIChatToAnthropicResponse(body, "gpt")
	if err != nil {
		t.Fatal(err)
	}
	var m anthropic.Message
	if err := json.Unmarshal(out, &m); err != nil || m.StopReason != "tool_use" || m.Content[0].Type != "tool_use" || m.Model != "gpt" {
		t.Fatalf("the SDK's type reads %+v (%v)\n%s", m, err, out)
	}
	golden(t, filepath.Join("translate", "simonw-llm__test_tool_use_basic.anthropic"), out)
}

func translateOpenAIStream(body []byte) []byte {
	return runTranslator(&OpenAIToAnthropicStream{Model: "gpt"}, body)
}

// TestOpenAIStreamToAnthropic: the recorded OpenAI tool-call stream,
// translated, is read by anthropic-sdk-go's own decoder and accumulator and
// says what the OpenAI stream said.
func TestOpenAIStreamToAnthropic(t *testing.T) {
	body, err := os.ReadFile(recorded("simonw-llm__test_tool_use_basic.sse"))
	if err != nil {
		t.Fatal(err)
	}
	src := ReadStream(KindOpenAIChat, chunksOf(body, len(body)))
	out := translateOpenAIStream(body)
	golden(t, filepath.Join("translate", "simonw-llm__test_tool_use_basic.anthropic-sse"), anthropicEvents(t, out))
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(out))}
	s := assestream.NewStream[anthropic.MessageStreamEventUnion](assestream.NewDecoder(resp), nil)
	var m anthropic.Message
	for s.Next() {
		if err := m.Accumulate(s.Current()); err != nil {
			t.Fatalf("the SDK's accumulator rejected an event: %v", err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if m.StopReason != "tool_use" || len(m.Content) != 1 || m.Content[0].Name != "multiply" {
		t.Fatalf("accumulated %+v", m)
	}
	var args map[string]int
	if json.Unmarshal(m.Content[0].Input, &args) != nil || args["a"] != 1231 || args["b"] != 2331 {
		t.Fatalf("tool input %s", m.Content[0].Input)
	}
	if m.Usage.InputTokens != src.Usage.Uncached() || m.Usage.OutputTokens != src.Usage.Completion {
		t.Fatalf("usage %+v, OpenAI said %+v", m.Usage, src.Usage)
	}
	back := ReadStream(KindAnthropicMessages, chunksOf(out, len(out)))
	if !back.Done || back.ContentEvents != src.ContentEvents {
		t.Fatalf("translated stream: done %v, %d content events, OpenAI had %d", back.Done, back.ContentEvents, src.ContentEvents)
	}
}

func FuzzAnthropicToOpenAIChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","system":"s","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"1"}]}]}],"tool_choice":{"type":"tool","name":"f"}}`))
	f.Fuzz(func(t *testing.T, req []byte) {
		out, _, err := AnthropicToOpenAIChatRequest(req, "gpt")
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON out: %s", out)
		}
	})
}

func FuzzOpenAIStreamToAnthropic(f *testing.F) {
	body, _ := os.ReadFile(recorded("simonw-llm__test_tool_use_basic.sse"))
	f.Add(body)
	f.Fuzz(func(t *testing.T, body []byte) {
		out := translateOpenAIStream(body)
		for _, ev := range strings.SplitAfter(string(out), "\n\n") {
			if ev == "" {
				continue
			}
			lines := strings.Split(strings.TrimSuffix(ev, "\n\n"), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") ||
				!json.Valid([]byte(strings.TrimPrefix(lines[1], "data: "))) {
				t.Fatalf("malformed SSE emitted: %q", ev)
			}
		}
	})
}

// anthropicEvents checks every translated event is "event: X\ndata: <json>\n\n"
// with X equal to the data's type, and returns them as a JSON array.
func anthropicEvents(t *testing.T, sse []byte) json.RawMessage {
	var events []json.RawMessage
	for _, ev := range strings.SplitAfter(string(sse), "\n\n") {
		if ev == "" {
			continue
		}
		lines := strings.Split(strings.TrimSuffix(ev, "\n\n"), "\n")
		name, ok := strings.CutPrefix(lines[0], "event: ")
		var typed struct {
			Type string `json:"type"`
		}
		if len(lines) != 2 || !ok || !strings.HasPrefix(lines[1], "data: ") ||
			json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &typed) != nil || typed.Type != name {
			t.Fatalf("malformed event %q", ev)
		}
		events = append(events, json.RawMessage(strings.TrimPrefix(lines[1], "data: ")))
	}
	out, _ := json.Marshal(events)
	return out
}
