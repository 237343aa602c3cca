package format

import (
	"bytes"
	"encoding/json"
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
	// SigV4: the access key id's fingerprint, the same for every request
	// whatever its signature.
	sig := func(date, signature string) string {
		return "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/" + date + "/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + signature
	}
	a := RedactHeader(map[string][]string{"Authorization": {sig("20261206", "9f1c")}}, nil)
	b := RedactHeader(map[string][]string{"Authorization": {sig("20261207", "77ab")}}, nil)
	if a.KeyFingerprint() != Fingerprint("AKIAEXAMPLE") || a.KeyFingerprint() != b.KeyFingerprint() || strings.Contains(a["Authorization"][0], "9f1c") {
		t.Errorf("SigV4: %q, %q", a["Authorization"], b["Authorization"])
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

// referenceJSON is what encoding/json makes of ex (HTML escaping off): the
// hand-written AppendJSON must produce exactly these bytes.
func referenceJSON(t testing.TB, ex *Exchange) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ex); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	odd := &Exchange{V: 1, ID: "odd", Node: "n\x00<&>", StartNS: -5,
		Request: Request{Method: "GET", Path: "/p\u2028\u2029", Query: "a=1&b=<2>", URL: "http://x/\"q\"",
			Headers: Header{"B": {"\b\f\n\r\t\x01\x1f\x7f"}, "A": {"\xff\xfeinvalid", "ok"}, "C": nil, "D": {}}},
		Upstream: &Request{Method: "POST", Body: Body{Binary: []byte{0, 1, 2}, Bytes: 3, Truncated: true}},
		Route:    &Route{Provider: "p", UpstreamDialect: "anthropic", Model: "m", UpstreamModel: "um"},
		Timings:  Timings{DNSStart: 1, DNSDone: 2, ConnectStart: 3, ConnectDone: 4, TLSStart: 5, TLSDone: 6, GotConn: 7, ConnReused: true, WroteRequest: 8, FirstByte: 9, RequestRead: 10},
		Response: &Response{Status: 599, Chunks: []Chunk{}, Truncated: true},
		Error:    &Error{Kind: "k", Message: "m\"sg", AtNS: 3},
		Warnings: []string{"w1", "w\\2"},
	}
	odd.Request.SetBody([]byte(`{"text":"<b>é\u00e9</b>","n":[1,2.5e10,null,true]}`), 50)
	cases := append([]*Exchange{odd, {V: 1, ID: "empty", Response: &Response{}}}, testExchanges(30, 99)...)
	for _, ex := range cases {
		got, err := AppendJSON([]byte("prefix"), ex)
		if err != nil {
			t.Fatal(err)
		}
		want := append([]byte("prefix"), referenceJSON(t, ex)...)
		if !bytes.Equal(got, want) {
			t.Fatalf("record %s:\n got %s\nwant %s", ex.ID, got, want)
		}
	}
}

// TestAppendJSONBodyJSON: an embedded body that is not JSON is an error
// (and nothing is appended); one that is JSON but not compact — possible in
// a record another writer made — is written compacted, on one line, as
// encoding/json writes it.
func TestAppendJSONBodyJSON(t *testing.T) {
	for _, body := range []string{`{"a":`, `{"a":1}x`, "{\"a\":\"raw\nnewline\"}"} {
		ex := &Exchange{V: 1, ID: "x", Request: Request{Body: Body{JSON: json.RawMessage(body)}}}
		if out, err := AppendJSON([]byte("keep"), ex); err == nil || string(out) != "keep" {
			t.Fatalf("body %q: got %q, %v", body, out, err)
		}
	}
	for _, body := range []string{"{\n}", "{\"\" :[ 1,\t2 ]}", " \"x\" "} {
		ex := &Exchange{V: 1, ID: "x", Request: Request{Body: Body{JSON: json.RawMessage(body)}}}
		out, err := AppendJSON(nil, ex)
		if err != nil || !bytes.Equal(out, referenceJSON(t, ex)) || bytes.IndexByte(out, '\n') != len(out)-1 {
			t.Fatalf("body %q: got %q, %v; encoding/json: %q", body, out, err, referenceJSON(t, ex))
		}
	}
}

func TestChunkBuilder(t *testing.T) {
	var b ChunkBuilder
	if b.Chunks() != nil {
		t.Fatal("an empty builder made chunks")
	}
	b.Add(5, []byte("data: a\n\n"))
	b.Add(9, []byte{0xe2, 0x82}) // a rune split across two reads
	b.Add(12, []byte{0xac, '\n'})
	got := b.Chunks()
	want := []Chunk{{T: 5, D: "data: a\n\n"}, {T: 9, B: []byte{0xe2, 0x82}}, {T: 12, B: []byte{0xac, '\n'}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	b.Reset()
	b.Add(1, []byte("x"))
	if c := b.Chunks(); len(c) != 1 || c[0].D != "x" || got[0].D != "data: a\n\n" {
		t.Fatalf("reuse after Reset: %+v, earlier chunks %+v", c, got)
	}
	// Reads across, up to and of whole blocks, and empty ones.
	b.Reset()
	r := rand.New(rand.NewPCG(1, 2))
	want = nil
	for i, size := range []int{0, 1, chunkBlock - 1, 1, chunkBlock, 3*chunkBlock + 5, 0, 200, chunkBlock - 205, 7} {
		p := make([]byte, size)
		for j := range p {
			p[j] = byte('a' + r.IntN(26))
		}
		b.Add(int64(i), p)
		want = append(want, NewChunk(int64(i), p))
	}
	if got := b.Chunks(); !reflect.DeepEqual(got, want) || b.Len() != 6*chunkBlock+8 {
		t.Fatalf("reads over block boundaries: %d chunks, %d bytes collected; want %d chunks", len(got), b.Len(), len(want))
	}
}
