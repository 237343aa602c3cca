package wire

import (
	"encoding/json"
	"testing"
)

func TestRequestModel(t *testing.T) {
	for _, tc := range []struct {
		body, want string
		fast       bool // the fast way answers
	}{
		{`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "gpt-4o-mini", true},
		{` { "messages" : [], "model" : "claude" } `, "claude", true},
		{`{"Model":"a","MODEL":"b"}`, "b", true},   // case-insensitive, the last wins
		{`{"model":"a","model":null}`, "a", true},  // null leaves it
		{`{"model":"\u00e9\n"}`, "\u00e9\n", true}, // escapes in the value
		{`{"stream":true}`, "", true},              // no model
		{`{"model":5}`, "", false},                 // not a string: Unmarshal fails
		{`{"model":"a","model":5}`, "", false},     // a later type error fails it too
		{`{"model":"a"} x`, "", false},             // trailing bytes: not JSON
		{`["model"]`, "", false},                   // not an object
		{`null`, "", false},                        // Unmarshal of null succeeds: no model
		{`{"mod\u0065l":"escaped key"}`, "escaped key", false},
		{`{"model":"a","x":[1,2.5e3,{"y":null}],"z":false}`, "a", true},
		{``, "", false},
	} {
		if got := RequestModel([]byte(tc.body)); got != tc.want {
			t.Errorf("RequestModel(%s) = %q, want %q", tc.body, got, tc.want)
		}
		if _, ok := requestModelFast([]byte(tc.body)); ok != tc.fast {
			t.Errorf("fast way on %s: answered %v, want %v", tc.body, ok, tc.fast)
		}
	}
}

func FuzzRequestModel(f *testing.F) {
	for _, b := range []string{
		`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		`{"Model":"a","MODEL":"b","model":null}`, `{"model":5}`, `{"model":"\ud83d\ude00\xff"}`,
		`{"x":{"model":"nested"},"model":"top"}`, `{"model":"a"}}`, `[]`, `null`, `"model"`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := requestModelFast(body)
		if !ok {
			return
		}
		var peek struct {
			Model string `json:"model"`
		}
		if err := json.Unmarshal(body, &peek); err != nil || peek.Model != fast {
			t.Fatalf("fast way %q, encoding/json %q (error %v) for %q", fast, peek.Model, err, body)
		}
	})
}

func BenchmarkRequestModel(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in twenty words."}]}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			RequestModel(body)
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var peek struct {
				Model string `json:"model"`
			}
			_ = json.Unmarshal(body, &peek)
		}
	})
}

func TestIncludeUsage(t *testing.T) {
	for _, tc := range []struct {
		body       string
		want, fast bool
	}{
		{`{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, true, true},
		{`{"stream_options":{"include_usage":false}}`, false, true},
		{`{"stream":true}`, false, true},
		{`{"stream_options":null}`, false, true},
		{`{"Stream_Options":{"INCLUDE_USAGE":true}}`, true, true},
		{`{"stream_options":{"include_usage":true},"stream_options":{}}`, true, true}, // merged, as encoding/json does
		{`{"stream_options":{"include_usage":true},"stream_options":{"include_usage":null}}`, true, true},
		{`{"stream_options":{"include_usage":true},"x":5}`, true, true},
		{`{"stream_options":{"include_usage":"yes"}}`, false, false},
		{`{"stream_options":{"include_usage":true},"stream_options":5}`, true, false}, // a type error after it: kept
		{`{"stream_options":{"include_usage":true}} x`, false, false},                 // not JSON: nothing decoded
		{`[1]`, false, false},
	} {
		if got := IncludeUsage([]byte(tc.body)); got != tc.want {
			t.Errorf("IncludeUsage(%s) = %v, want %v", tc.body, got, tc.want)
		}
		if _, ok := includeUsageFast([]byte(tc.body)); ok != tc.fast {
			t.Errorf("fast way on %s: answered %v, want %v", tc.body, ok, tc.fast)
		}
	}
}

func FuzzIncludeUsage(f *testing.F) {
	for _, b := range []string{
		`{"model":"m","stream":true,"stream_options":{"include_usage":true}}`,
		`{"stream_options":{"include_usage":true},"Stream_options":{"x":1}}`, `{"stream_options":null}`,
		`{"stream_options":{"include_usage":true},"stream_options":5}`, `{"stream_options":[]}`, `null`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := includeUsageFast(body)
		if !ok {
			return
		}
		var req struct {
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		err := json.Unmarshal(body, &req)
		if err != nil || req.StreamOptions.IncludeUsage != fast {
			t.Fatalf("fast way %v, encoding/json %v (error %v) for %q", fast, req.StreamOptions.IncludeUsage, err, body)
		}
	})
}
