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
// previous one's shared prefix and tail, gives what decoding each alone
// gives. Four strings: the second finds a tail against the first, the third
// reuses it, the fourth reuses a tail that was itself reused (escape
// offsets carried through).
func FuzzShared(f *testing.F) {
	ev := func(text string) string {
		return `"data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"` + text + `\"},\"logprobs\":null}]}\n\n"`
	}
	for _, s := range [][4]string{
		{ev("hi"), ev(" there"), ev(`\\\" q`), ev(" and")},
		{ev("a"), ev("b"), ev(`\\"},\"logprobs\":null}]}\n\n`), ev("c")}, // text that looks like the tail
		{ev("a"), ev("b"), ev(`x\\`), ev(`\\u00e9`)},
		{`"data: {\"x\":\"\u00e9 caf\u00e9 and more text here\"}"`, `"data: {\"x\":\"\u00e9 caf\u00e8 and more text here\"}"`, `"data: {\"x\":\"\u00e9 caf\u00e8 and more text\"}"`, `"data: {\"x\":\"\u00e9 caf\u00e8 and more text\\u00e8\"}"`},
		{`"data: {\"x\":\"caf` + "\xc3\xa9" + ` and a long shared tail\"}"`, `"data: {\"x\":\"caf` + "\xc3\xff" + ` and a long shared tail\"}"`, `"data: {\"x\":\"ca"`, `"data: {\"x\":\"caf\"}"`},
		{`"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\\\"`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\"b"`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\\\\\"`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\\\"`},
		{`"0123456789abcdefghij"`, `"0123456789abcdefghij"`, `not a string`, `"0123456789abcdefghij"`},
		{`"data: {\"a\":\"1\",\"b\":\"caf\u00e9\"}"`, `"data: {\"a\":\"2\",\"b\":\"caf\u00e9\"}"`, `"data: {\"a\":\"3\",\"b\":\"caf\u00e9\"}"`, `"bad \q escape"`},       // no tail: \u in it
		{`"data: {\"a\":\"1\",\"b\":\"café\"}"`, `"data: {\"a\":\"2\",\"b\":\"café\"}"`, `"data: {\"a\":\"3\",\"b\":\"café\"}"`, `"data: {\"a\":\"4\",\"b\":\"café\"}"`}, // no tail: not ASCII
	} {
		f.Add([]byte(s[0]), []byte(s[1]), []byte(s[2]), []byte(s[3]))
	}
	f.Fuzz(func(t *testing.T, first, second, third, fourth []byte) {
		var sh Shared
		var out []byte
		for _, in := range [][]byte{first, second, third, fourth} {
			var a, b Scanner
			a.Reset(in)
			mark := len(out)
			var err1 error
			out, err1 = a.AppendStringShared(out, &sh)
			b.Reset(in)
			ref, err2 := b.AppendString(nil)
			if (err1 == nil) != (err2 == nil) || (err1 == nil && (string(out[mark:]) != string(ref) || a.Remaining() != b.Remaining())) {
				t.Fatalf("string %q after %q, %q, %q: %q (%v), alone %q (%v)", in, first, second, third, out[mark:], err1, ref, err2)
			}
			out = out[:mark+len(ref)]
		}
	})
}
