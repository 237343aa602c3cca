package jsonscan

import (
	"encoding/json"
	"testing"
)

// FuzzValues: each reader of a scalar agrees with encoding/json wherever
// it accepts the input, and Skip accepts only what encoding/json parses.
func FuzzValues(f *testing.F) {
	for _, s := range []string{`"plain"`, `"esc \" \\ \/ \b\f\n\r\t"`, `"\u00e9\ud83d\ude00\ud800x"`, "\"caf\xc3\xa9 \xff\"",
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

// FuzzShared: decoding a string with the previous one's decoding reused
// gives what decoding it alone gives (or fails where that fails).
func FuzzShared(f *testing.F) {
	for _, s := range [][2]string{
		{`"data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"`, `"data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\n"`},
		{`"data: {\"x\":\"\u00e9 caf\u00e9 and more text here\"}"`, `"data: {\"x\":\"\u00e9 caf\u00e8 and more text here\"}"`},
		{`"data: {\"x\":\"caf` + "\xc3\xa9" + ` and a long shared tail\"}"`, `"data: {\"x\":\"caf` + "\xc3\xff" + ` and a long shared tail\"}"`},
		{`"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\"`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"b"`},
		{`"0123456789abcdefghij"`, `"0123456789abcdefghij"`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		var a Scanner
		a.Reset(first)
		out, prev, err := a.AppendStringShared(nil, Prev{})
		if err != nil {
			return
		}
		var want Scanner
		want.Reset(first)
		if ref, _ := want.AppendString(nil); string(ref) != string(out) {
			t.Fatalf("first string %q: %q, alone %q", first, out, ref)
		}
		var b, c Scanner
		b.Reset(second)
		got, _, err1 := b.AppendStringShared(append([]byte(nil), out...), prev)
		c.Reset(second)
		ref, err2 := c.AppendString(nil)
		if (err1 == nil) != (err2 == nil) || (err1 == nil && (string(got[len(out):]) != string(ref) || b.Remaining() != c.Remaining())) {
			t.Fatalf("second string %q after %q: %q (%v), alone %q (%v)", second, first, got[len(out):], err1, ref, err2)
		}
	})
}
