package jsonscan

import (
	"encoding/json"
	"testing"
)

// FuzzValues: each reader of a scalar agrees with encoding/json wherever
// it accepts the input, and Skip accepts only what encoding/json parses.
func FuzzValues(f *testing.F) {
	for _, s := range []string{`"plain"`, `"esc \" \\ \/ \b\f\n\r\t"`, `"logprobs\":null,\"finish_reason\":null}]}\n\n \"a long run of plain bytes\" \u00e9"`, `"\u00e9\ud83d\ude00\ud800x"`, "\"caf\xc3\xa9 \xff\"",
		`0`, `-0`, `123456789012345678`, `9223372036854775807`, `-9223372036854775808`, `1e3`, `01`,
		`true`, `false`, `null`, `{"a":[1,{"b":null}],"c":"d"}`, ` [ 1 , 2 ] `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var sc Scanner
		sc.Reset(data)
		if v, err := sc.String(); err == nil && sc.End() == nil {
			var ref string
			if err := json.Unmarshal(data, &ref); err != nil || ref != v {
				t.Fatalf("String(%q) = %q; encoding/json: %q, %v", data, v, ref, err)
			}
		}
		// With room to spare in dst, unescape copies plain runs a word at a
		// time (String's fresh buffer has none).
		sc.Reset(data)
		if v, err := sc.AppendString(make([]byte, 1, len(data)+16)); err == nil && sc.End() == nil {
			var ref string
			if err := json.Unmarshal(data, &ref); err != nil || ref != string(v[1:]) {
				t.Fatalf("AppendString(%q) = %q; encoding/json: %q, %v", data, v[1:], ref, err)
			}
		}
		sc.Reset(data)
		if v, err := sc.Int(); err == nil && sc.End() == nil {
			var ref int64
			if err := json.Unmarshal(data, &ref); err != nil || ref != v {
				t.Fatalf("Int(%q) = %d; encoding/json: %d, %v", data, v, ref, err)
			}
		}
		sc.Reset(data)
		if err := sc.Skip(); err == nil && sc.End() == nil && !json.Valid(data) {
			t.Fatalf("Skip accepted invalid JSON %q", data)
		}
	})
}

// FuzzNextSpecial: the word-at-a-time search finds what a byte loop finds.
func FuzzNextSpecial(f *testing.F) {
	f.Add([]byte(`abcdefgh"ijk\lmn`), 0)
	f.Add([]byte("\x1f\x20\x21\x7f\x80\xff"), 1)
	f.Fuzz(func(t *testing.T, b []byte, i int) {
		if i < 0 || i > len(b) {
			return
		}
		want := i
		for want < len(b) && !special[b[want]] {
			want++
		}
		if got := nextSpecial(b, i); got != want {
			t.Fatalf("nextSpecial(%q, %d) = %d, want %d", b, i, got, want)
		}
	})
}

// FuzzShared: decoding a run of strings, each reusing the decoding of the
// previous one's shared prefix, gives what decoding each alone gives — the
// third string tests escape offsets carried over from the first through
// the second.
func FuzzShared(f *testing.F) {
	for _, s := range [][3]string{
		{`"data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"`, `"data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\n"`, `"data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"\\\" \"}}]}\n\n"`},
		{`"data: {\"x\":\"\u00e9 caf\u00e9 and more text here\"}"`, `"data: {\"x\":\"\u00e9 caf\u00e8 and more text here\"}"`, `"data: {\"x\":\"\u00e9 caf\u00e8 and more text\"}"`},
		{`"data: {\"x\":\"caf` + "\xc3\xa9" + ` and a long shared tail\"}"`, `"data: {\"x\":\"caf` + "\xc3\xff" + ` and a long shared tail\"}"`, `"data: {\"x\":\"ca"`},
		{`"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\\\"`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\"b"`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\\\\\"`},
		{`"0123456789abcdefghij"`, `"0123456789abcdefghij"`, `not a string`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]), []byte(s[2]))
	}
	f.Fuzz(func(t *testing.T, first, second, third []byte) {
		var sh Shared
		var out []byte
		for _, in := range [][]byte{first, second, third} {
			var a, b Scanner
			a.Reset(in)
			mark := len(out)
			var err1 error
			out, err1 = a.AppendStringShared(out, &sh)
			b.Reset(in)
			ref, err2 := b.AppendString(nil)
			if (err1 == nil) != (err2 == nil) || (err1 == nil && (string(out[mark:]) != string(ref) || a.Remaining() != b.Remaining())) {
				t.Fatalf("string %q after %q, %q: %q (%v), alone %q (%v)", in, first, second, out[mark:], err1, ref, err2)
			}
			out = out[:mark+len(ref)]
		}
	})
}
