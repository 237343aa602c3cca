package format

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestBodyForms(t *testing.T) {
	for _, tc := range []struct {
		name      string
		data      []byte
		total     int64
		wantJSON  string
		wantText  string
		wantBin   bool
		truncated bool
	}{
		{name: "json_compacted", data: []byte("{\n  \"a\": [1, 2],\n  \"b\": \"<x>\"\n}"), wantJSON: `{"a":[1,2],"b":"<x>"}`},
		{name: "text", data: []byte("hello\nworld"), wantText: "hello\nworld"},
		{name: "binary", data: []byte{0xff, 0x00, 0xfe}, wantBin: true},
		{name: "truncated_json_kept_as_text", data: []byte(`{"a":1}`), total: 100, wantText: `{"a":1}`, truncated: true},
		{name: "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			total := tc.total
			if total == 0 {
				total = int64(len(tc.data))
			}
			var b Body
			b.SetBody(tc.data, total)
			if string(b.JSON) != tc.wantJSON || b.Text != tc.wantText || (b.Binary != nil) != tc.wantBin || b.Truncated != tc.truncated {
				t.Fatalf("got %+v", b)
			}
			if tc.wantJSON == "" && !bytes.Equal(b.Raw(), tc.data) {
				t.Fatalf("Raw() = %q, want %q", b.Raw(), tc.data)
			}
		})
	}
}

func TestExchangeRoundTrip(t *testing.T) {
	ex := &Exchange{V: 1, ID: NewID(time.Unix(1700000000, 0)), Node: "n1", StartNS: 1700000000123456789,
		Request:  Request{Method: "POST", Path: "/v1/chat/completions", Headers: Header{"Content-Type": {"application/json"}}},
		Route:    &Route{Provider: "openai", Dialect: "openai", URL: "https://api.openai.com/v1/chat/completions", Proxy: "direct"},
		Timings:  Timings{GotConn: 10, ConnReused: true, FirstByte: 150_000_000},
		Response: &Response{Status: 200, Chunks: []Chunk{NewChunk(150_000_000, []byte("data: {}\n\n")), NewChunk(160_000_000, []byte{0xc3})}, Bytes: 11},
		EndNS:    170_000_000,
		Error:    &Error{Kind: ErrClientDisconnect, Message: "gone", AtNS: 165_000_000},
	}
	ex.Request.SetBody([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"a\nb <&>"}]}`), 68)
	line, err := AppendJSON(nil, ex)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("record is not exactly one line: %q", line)
	}
	got, err := DecodeExchange(line[:len(line)-1])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ex) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, ex)
	}
	if !bytes.Equal(got.Response.Body(), []byte("data: {}\n\n\xc3")) {
		t.Fatalf("Body() = %q", got.Response.Body())
	}
}

func TestDecodeRejectsFutureAndAnonymousRecords(t *testing.T) {
	for _, line := range []string{`{"v":99,"id":"x"}`, `{"v":1}`, `{"v":0,"id":"x"}`, `not json`} {
		if _, err := DecodeExchange([]byte(line)); err == nil {
			t.Errorf("DecodeExchange(%s) accepted", line)
		}
	}
}

func TestNewIDIsUUIDv7AndSortsByTime(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string
	for i := range 100 {
		id := NewID(base.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 36 || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("not a UUIDv7: %s", id)
		}
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids of increasing times do not sort")
	}
	if NewID(base) == NewID(base) {
		t.Fatal("two ids at the same time are equal")
	}
}

func TestRedactHeader(t *testing.T) {
	const key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
	in := map[string][]string{
		"authorization":       {"Bearer " + key},
		"X-Api-Key":           {key},
		"api-key":             {key},
		"Proxy-Authorization": {"Basic Ym9iOnNlY3JldA=="},
		"Cookie":              {"session=abc"},
		"X-Custom-Token":      {"tok-123"},
		"Content-Type":        {"application/json"},
	}
	out := RedactHeader(in, []string{"x-custom-token"})
	fp := Fingerprint(key)
	if got := out["Authorization"][0]; got != "Bearer "+fp {
		t.Errorf("Authorization = %q", got)
	}
	if out["X-Api-Key"][0] != fp || out["Api-Key"][0] != fp {
		t.Errorf("x-api-key/api-key = %q %q", out["X-Api-Key"], out["Api-Key"])
	}
	if out.KeyFingerprint() != fp {
		t.Errorf("KeyFingerprint = %q", out.KeyFingerprint())
	}
	if out["Content-Type"][0] != "application/json" {
		t.Errorf("non-secret header changed")
	}
	line, _ := AppendJSON(nil, &Exchange{V: 1, ID: "x", Request: Request{Headers: out}})
	for _, secret := range []string{key, "Ym9iOnNlY3JldA==", "session=abc", "tok-123"} {
		if bytes.Contains(line, []byte(secret)) {
			t.Errorf("secret %q survives redaction: %s", secret, line)
		}
	}
}

// testExchanges returns n small but varied records with unique ids.
func testExchanges(n int, seed uint64) []*Exchange {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]*Exchange, n)
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i := range out {
		ts := start.Add(time.Duration(i) * time.Second)
		ex := &Exchange{V: 1, ID: NewID(ts), Node: "t", StartNS: ts.UnixNano(),
			Request:  Request{Method: "POST", Path: "/v1/messages"},
			Response: &Response{Status: 200}}
		body := make([]byte, 20+r.IntN(400))
		for j := range body {
			body[j] = "abcdefghij klmnop"[r.IntN(17)]
		}
		ex.Request.SetBody(body, int64(len(body)))
		for c := range 1 + r.IntN(5) {
			ex.Response.Chunks = append(ex.Response.Chunks, NewChunk(int64(c+1)*20e6, []byte("data: x\n\n")))
		}
		out[i] = ex
	}
	return out
}
