package wire

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeChatChunk: wherever the hand-written chunk decoder succeeds,
// its result is exactly encoding/json's.
func FuzzDecodeChatChunk(f *testing.F) {
	files, _ := filepath.Glob(recorded("*.sse"))
	for _, name := range files {
		b, _ := os.ReadFile(name)
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.HasPrefix(data, "{") {
				f.Add([]byte(data))
			}
		}
	}
	for _, s := range []string{
		`{"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`,
		`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]},"finish_reason":null}]}`,
		`{"id":"c","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":3}}}`,
		`{"id":"c","choices":[{"index":0,"text":"hi","finish_reason":"length"}]}`,
		`{"error":{"message":"overloaded","type":"server_error"}}`,
		`{"ID":"c","Choices":null}`,
		`{"id":null,"created":1.5,"choices":[{"delta":null}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast chatChunk
		if decodeChatChunk(data, &fast, &chatChunk{ID: "c", Model: "gpt-4o"}) != nil {
			return
		}
		var ref chatChunk
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatalf("fast decoder accepted what encoding/json rejects (%v): %q", err, data)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("decoders disagree on %q:\nfast %+v\njson %+v", data, fast, ref)
		}
	})
}

// FuzzChatFastPath: a stream read with the fast path for plain content
// events gives exactly what the general path gives. Input: events, one
// per line.
func FuzzChatFastPath(f *testing.F) {
	first := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`
	for _, s := range []string{
		first + "\n" + `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","service_tier":"default","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":" hi\n\"there\""},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n" +
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
		first + "\n" + `{"id":"c2","model":"other","choices":[{"index":0,"delta":{"content":"x"}}]}`,
		first + "\n" + `{"id":"c1","choices":[{"index":1,"delta":{"content":"new choice"}}]}`,
		first + "\n" + `{"id":"c1","choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}`,
		first + "\n" + `{"id":"c1","choices":[{"index":0,"delta":{"refusal":"no","reasoning_content":"hm","role":"assistant"}}]}`,
		first + "\n" + `{"id":"c1","choices":[{"index":0,"delta":{"content":"x"}}]} trailing`,
		// Runs of plain events, so the template path is taken, and events
		// that share its head but not its shape.
		first + "\n" + `{"id":"c1","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}` + "\n" +
			`{"id":"c1","choices":[{"index":0,"delta":{"content":"b\"c"},"finish_reason":null}]}` + "\n" +
			`{"id":"c1","choices":[{"index":0,"delta":{"content": "d"},"finish_reason":null}]}` + "\n" +
			`{"id":"c1","choices":[{"index":0,"delta":{"content":"e","refusal":"f"},"finish_reason":null}]}` + "\n" +
			`{"id":"c1","choices":[{"index":0,"delta":{"content":null},"finish_reason":null}]}` + "\n" +
			`{"id":"c1","choices":[{"index":0,"delta":{"content":"g"},"finish_reason":"stop"}]}`,
		first + "\n" + `{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}` + "\n" +
			`{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"more"}}]}` + "\n" +
			`{"id":"c2","choices":[{"index":0,"delta":{"reasoning_content":"other id"}}]}` + "\n" +
			`{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"back"}}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, events string) {
		fast, slow := &openAIChatStream{}, &openAIChatStream{noFast: true}
		for i, line := range strings.Split(events, "\n") {
			ev := Event{Data: []byte(line), T: int64(i)}
			fast.Event(ev)
			slow.Event(ev)
		}
		a, b := fast.Finish(), slow.Finish()
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("fast path disagrees on %q:\nfast %+v\nslow %+v", events, a, b)
		}
	})
}
