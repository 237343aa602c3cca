package jsonscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// FuzzAppendCompact: where AppendCompact compacts, its bytes are
// encoding/json.Compact's; where it declines, dst is untouched and
// encoding/json refuses the input too, or it nests deeper than
// AppendCompact follows. So it is never unsure of valid JSON it could read.
func FuzzAppendCompact(f *testing.F) {
	for _, s := range []string{`{"a":1}`, " {\n\t\"model\" : \"gpt-4o\",\r\n \"messages\": [ {\"role\":\"user\",\"content\":\"hi \\\" \\\\ \\u00e9 \\n\"} ] ,\"n\":-1.5e+3} \n",
		`[]`, `{}`, `[[],{},[{}]]`, `"s"`, ` 0 `, `-0.0E-0`, `true`, `false`, `null`, "\"caf\xc3\xa9 \xff\"",
		``, ` `, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{1:2}`, `01`, `1.`, `.5`, `"\x"`, `"\u12g4"`, "\"a\tb\"", `[1] [2]`, `{"a":1}}`, `[}`, `tru`, "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := AppendCompact([]byte("prefix"), data)
		var ref bytes.Buffer
		refErr := json.Compact(&ref, data)
		switch {
		case ok && refErr != nil:
			t.Fatalf("AppendCompact accepted %q; encoding/json: %v", data, refErr)
		case ok && string(got) != "prefix"+ref.String():
			t.Fatalf("AppendCompact(%q) = %q; encoding/json: %q", data, got[len("prefix"):], ref.Bytes())
		case !ok && string(got) != "prefix":
			t.Fatalf("AppendCompact declined %q but changed dst to %q", data, got)
		case !ok && refErr == nil && bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) <= maxCompactDepth:
			t.Fatalf("AppendCompact declined valid JSON %q", data)
		}
	})
}

func TestAppendCompactDepth(t *testing.T) {
	for _, tc := range []struct {
		depth int
		ok    bool
	}{{maxCompactDepth, true}, {maxCompactDepth + 1, false}} {
		doc := strings.Repeat("[", tc.depth) + strings.Repeat("]", tc.depth)
		if _, ok := AppendCompact(nil, []byte(doc)); ok != tc.ok {
			t.Errorf("depth %d: ok = %v, want %v", tc.depth, ok, tc.ok)
		}
	}
}

// BenchmarkCompact: AppendCompact against encoding/json.Compact on the
// same request bodies — a chat call, and a 48 KB agent prompt (50 turns
// of prose and code) — pretty-printed as some SDKs send them and compact.
func BenchmarkCompact(b *testing.B) {
	turn := `{"role":"user","content":"` + strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20) + `\n\tif (a < b) { return \"x\"; } caf\u00e9 café"}`
	tools := `"tools":[{"type":"function","function":{"name":"search","parameters":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}}}]`
	for _, turns := range []int{1, 50} {
		doc := `{"model":"gpt-4o","stream":true,"temperature":0.7,"messages":[` + strings.TrimSuffix(strings.Repeat(turn+",", turns), ",") + `],` + tools + `}`
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, []byte(doc), "", "  "); err != nil {
			b.Fatal(err)
		}
		for _, in := range []struct {
			name string
			src  []byte
		}{{"compact", []byte(doc)}, {"indented", pretty.Bytes()}} {
			b.Run(fmt.Sprintf("%s-%dB/jsonscan", in.name, len(in.src)), func(b *testing.B) {
				b.SetBytes(int64(len(in.src)))
				for b.Loop() {
					if _, ok := AppendCompact(make([]byte, 0, len(in.src)), in.src); !ok {
						b.Fatal("declined")
					}
				}
			})
			b.Run(fmt.Sprintf("%s-%dB/encoding-json", in.name, len(in.src)), func(b *testing.B) {
				b.SetBytes(int64(len(in.src)))
				for b.Loop() {
					var buf bytes.Buffer
					buf.Grow(len(in.src))
					if err := json.Compact(&buf, in.src); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
