package wire

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestBedrockInvokeStreams: invoke-with-response-stream recorded against
// Bedrock (charmbracelet/fantasy): binary event-stream messages, each a
// base64 Messages event, read in reads of 7 bytes (messages straddle
// reads) into the Messages answer, with the usage and stop reason.
func TestBedrockInvokeStreams(t *testing.T) {
	for _, tc := range []struct {
		file   string
		finish string
		usage  Usage
		check  func(t *testing.T, resp map[string]any)
	}{
		{"fantasy__bedrock_claude-haiku-4-5_simple_streaming", "end_turn", Usage{}, func(t *testing.T, resp map[string]any) {
			text := resp["content"].([]any)[0].(map[string]any)["text"].(string)
			if !strings.HasPrefix(text, "Olá!") || resp["model"] != "claude-haiku-4-5-20251001" {
				t.Fatalf("text %q, model %v", text, resp["model"])
			}
		}},
		{"fantasy__bedrock_claude-sonnet-4-5_tool_streaming", "tool_use", Usage{}, func(t *testing.T, resp map[string]any) {
			var tool map[string]any
			for _, b := range resp["content"].([]any) {
				if b.(map[string]any)["type"] == "tool_use" {
					tool = b.(map[string]any)
				}
			}
			if tool == nil || tool["name"] != "weather" || tool["input"].(map[string]any)["location"] == nil {
				t.Fatalf("content %v", resp["content"])
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile(recorded(tc.file + ".eventstream"))
			if err != nil {
				t.Fatal(err)
			}
			s := ReadEventStream(KindBedrockInvoke, chunksOf(body, 7))
			if !s.Done || s.FinishReason != tc.finish || s.Error != nil || !s.HasUsage || s.Usage.Prompt == 0 || s.Usage.Completion == 0 || s.ContentEvents == 0 {
				t.Fatalf("done %v, finish %q, error %s, usage %+v, %d content events", s.Done, s.FinishReason, s.Error, s.Usage, s.ContentEvents)
			}
			var resp map[string]any
			if err := json.Unmarshal(s.Response, &resp); err != nil {
				t.Fatal(err)
			}
			tc.check(t, resp)
			golden(t, tc.file, s.Response)
			if whole := ReadEventStream(KindBedrockInvoke, chunksOf(body, len(body))); !bytes.Equal(whole.Response, s.Response) {
				t.Fatal("chunking changed the reassembled response")
			}
			// A damaged message ends the reading where it is: not done.
			bad := bytes.Clone(body)
			bad[len(bad)/2] ^= 0xff
			if cut := ReadEventStream(KindBedrockInvoke, chunksOf(bad, 7)); cut.Done {
				t.Fatal("a stream with a damaged message read as complete")
			}
		})
	}
	body, err := os.ReadFile(recorded("fantasy__bedrock_claude-haiku-4-5_simple.json"))
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := UsageOf(KindBedrockInvoke, body); !ok || u != (Usage{Prompt: 16, Completion: 18, Total: 34}) {
		t.Fatalf("invoke usage %v %+v", ok, u)
	}
}

// TestConverseStream: converse-stream, built from the event sequence of
// the ConverseStream API reference (no public recording of one was found),
// reassembled into converse's answer; cache reads and writes come on top
// of inputTokens.
func TestConverseStream(t *testing.T) {
	var body bytes.Buffer
	for _, ev := range []struct{ name, payload string }{
		{"messageStart", `{"role":"assistant"}`},
		{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello"}}`},
		{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":" there"}}`},
		{"contentBlockStop", `{"contentBlockIndex":0}`},
		{"contentBlockStart", `{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"tooluse_1","name":"weather"}}}`},
		{"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"city\":"}}}`},
		{"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"\"Lisbon\"}"}}}`},
		{"contentBlockStop", `{"contentBlockIndex":1}`},
		{"messageStop", `{"stopReason":"tool_use"}`},
		{"metadata", `{"usage":{"inputTokens":12,"outputTokens":9,"totalTokens":2069,"cacheReadInputTokens":2048,"cacheWriteInputTokens":0},"metrics":{"latencyMs":412}}`},
	} {
		if err := EncodeEvent(&body, ev.name, []byte(ev.payload)); err != nil {
			t.Fatal(err)
		}
	}
	s := ReadEventStream(KindBedrockConverse, chunksOf(body.Bytes(), 5))
	if want := (Usage{Prompt: 2060, Completion: 9, Total: 2069, CachedRead: 2048}); !s.Done || s.FinishReason != "tool_use" || s.Usage != want || s.ContentEvents != 5 {
		t.Fatalf("done %v, finish %q, usage %+v, %d content events", s.Done, s.FinishReason, s.Usage, s.ContentEvents)
	}
	want := `{"metrics":{"latencyMs":412},"output":{"message":{"content":[{"text":"Hello there"},{"toolUse":{"input":{"city":"Lisbon"},"name":"weather","toolUseId":"tooluse_1"}}],"role":"assistant"}},"stopReason":"tool_use","usage":{"inputTokens":12,"outputTokens":9,"totalTokens":2069,"cacheReadInputTokens":2048,"cacheWriteInputTokens":0}}`
	if string(s.Response) != want {
		t.Fatalf("response\n%s\nwant\n%s", s.Response, want)
	}
	if u, ok := UsageOf(KindBedrockConverse, []byte(want)); !ok || u != s.Usage {
		t.Fatalf("converse usage %+v", u)
	}
}

// FuzzReadEventStream: any bytes, in either Bedrock kind, in any reads,
// never panic, and whatever is reassembled is valid JSON.
func FuzzReadEventStream(f *testing.F) {
	for _, name := range []string{"fantasy__bedrock_claude-haiku-4-5_simple_streaming", "fantasy__bedrock_claude-sonnet-4-5_tool_streaming"} {
		body, _ := os.ReadFile(recorded(name + ".eventstream"))
		f.Add(body, 11)
	}
	var conv bytes.Buffer
	EncodeEvent(&conv, "messageStart", []byte(`{"role":"assistant"}`))
	EncodeEvent(&conv, "contentBlockDelta", []byte(`{"contentBlockIndex":0,"delta":{"text":"Hi"}}`))
	EncodeEvent(&conv, "metadata", []byte(`{"usage":{"inputTokens":1,"outputTokens":1}}`))
	f.Add(conv.Bytes(), 3)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		n = max(1, min(n, 4096))
		for _, kind := range []Kind{KindBedrockInvoke, KindBedrockConverse} {
			s := ReadEventStream(kind, chunksOf(body, n))
			if s.Response != nil && !json.Valid(s.Response) {
				t.Fatalf("kind %v: invalid response JSON %s", kind, s.Response)
			}
		}
	})
}
