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
	files, _ := filepath.Glob("testdata/*.sse")
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
