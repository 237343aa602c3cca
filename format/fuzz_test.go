package format

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the segment reader. Whatever the
// input, it must not panic, must yield only whole lines, and must report
// damage at offsets inside the input.
func FuzzReader(f *testing.F) {
	seg := writeSegment(f, f.TempDir(), testExchanges(6, 9), 2)
	clean, err := os.ReadFile(seg)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(clean)
	f.Add(clean[:len(clean)/2])
	f.Add(clean[:40])
	f.Add([]byte{})
	f.Add(skippableFrame(footerMagic, []byte(`{"format":"lessllm-segment"}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), int64(len(data)), "fuzz")
		for r.Next() {
			rec := r.Record()
			if len(rec) == 0 || bytes.IndexByte(rec, '\n') >= 0 {
				t.Fatalf("yielded %q: not one whole line", rec)
			}
		}
		for _, d := range r.Damage() {
			if d.Offset < 0 || d.Offset > int64(len(data)) {
				t.Fatalf("damage offset %d outside a %d-byte input", d.Offset, len(data))
			}
		}
	})
}

// FuzzDecodeExchange: decoding arbitrary lines never panics, a decoded
// record re-encodes to exactly one line that decodes to the same record,
// and the hand-written encoder agrees byte for byte with encoding/json.
func FuzzDecodeExchange(f *testing.F) {
	for _, ex := range testExchanges(3, 11) {
		line, _ := AppendJSON(nil, ex)
		f.Add(line[:len(line)-1])
	}
	f.Add([]byte(`{"v":1,"id":"x","request":{"body":{"a":[1,2,{"b":null}]},"body_bytes":3},"response":{"status":200,"chunks":[{"t":1,"b":"/w=="}]}}`))
	f.Add([]byte(`{"v":1,"id":"x","request":{"body_text":"line\nbreak","body_bytes":10}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ex, err := DecodeExchange(line)
		if err != nil {
			return
		}
		// A decoded body is valid JSON, so every decoded record encodes
		// (non-compact bodies compacted, as encoding/json does).
		once, err := AppendJSON(nil, ex)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if bytes.IndexByte(once, '\n') != len(once)-1 {
			t.Fatalf("encoded record is not one line: %q", once)
		}
		again, err := DecodeExchange(once[:len(once)-1])
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		twice, _ := AppendJSON(nil, again)
		if !bytes.Equal(once, twice) {
			t.Fatalf("encoding is not stable:\n%s\n%s", once, twice)
		}
		if ref := referenceJSON(t, again); !bytes.Equal(twice, ref) {
			t.Fatalf("AppendJSON differs from encoding/json:\n%s\n%s", twice, ref)
		}
	})
}

// FuzzDecodeFast: wherever the hand-written record decoder succeeds, its
// result is exactly encoding/json's (and encoding/json succeeds too).
func FuzzDecodeFast(f *testing.F) {
	for _, ex := range testExchanges(3, 11) {
		line, _ := AppendJSON(nil, ex)
		f.Add(line[:len(line)-1])
	}
	for _, s := range []string{
		`{"v":1,"id":"x","request":{"body":{"a":[1,2,{"b":null}]},"body_bytes":3},"response":{"status":200,"chunks":[{"t":1,"b":"/w=="}]}}`,
		`{"v":1,"id":"\ud83d\ude00 \ud800 \u00e9\"\\\/\b\f\n\r\t","node":"caf\xc3\xa9 \xff"}`,
		`{"v":1,"id":"x","response":{"status":200,"chunks":null,"headers":{"A":["1","2"],"B":[]}},"warnings":[]}`,
		`{"v":1,"id":"x","route":{"provider":"a"},"route":{"model":"b"}}`,
		`{"v":1,"ID":"x"}`,
		`{"v":1,"id":"x","route":{"provider":"p","dialect":"openai","url":"u","proxy":"none","failed_routes":["socks5://u@h:1080: refused"]}}`,
		`{"v":1.0,"id":"x","end_ns":-0}`,
		`{"v":1,"id":"x","request":{"body":null,"body_base64":"","body_bytes":0}}`,
		// Chunks the writer's shape almost fits: the byte-wise read must
		// give up and leave them to the key walk.
		`{"v":1,"id":"x","response":{"status":200,"chunks":[{"t":1,"d":"data: {\"a\":1}\n\n"},{"t":2,"d":"data: {\"a\":2}\n\n","b":null},{"t":3,"d":"data: {\"a\":3}\n\n"}]}}`,
		`{"v":1,"id":"x","response":{"status":200,"chunks":[{"t":1,"d":"a"},{"t":1.5,"d":"b"}]}}`,
		`{"v":1,"id":"x","response":{"status":200,"chunks":[{"t":1,"d":"a"},{"t":2,"d":"b","d":"c"},{ "t":3,"d":"e"},{"d":"f","t":4}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast Exchange
		if decodeFast(line, &fast) != nil {
			return
		}
		var ref Exchange
		if err := json.Unmarshal(line, &ref); err != nil {
			t.Fatalf("fast decoder accepted what encoding/json rejects (%v): %q", err, line)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("decoders disagree on %q:\nfast %#v\njson %#v", line, fast, ref)
		}
	})
}
