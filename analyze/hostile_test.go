package analyze

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/formattest"
)

// recorded is a real API exchange recorded by a public SDK test suite
// (testdata/recorded/SOURCES.md): the request, and the response body
// as the API sent it before compression.
type recorded struct {
	name, path, request string
	sse                 bool
	body                []byte
}

func recordings(t *testing.T) []recorded {
	t.Helper()
	read := func(f string) []byte {
		dir := "../testdata/recorded"
		if strings.HasSuffix(f, ".golden.json") { // what format/wire reassembles from the recording
			dir = "../format/wire/testdata"
		}
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var out []recorded
	for _, n := range []string{"text", "thinking", "tool_calls"} {
		name := "llm-anthropic__test_stream_events_" + n
		req := `{"max_tokens":8192,"messages":[{"role":"user","content":[{"type":"text","text":"Say just hello"}]}],"model":"claude-haiku-4-5-20251001","stream":true}`
		out = append(out, recorded{name + ".sse", "/v1/messages", req, true, read(name + ".sse")})
		// The non-streamed answer is the one the stream reassembles to.
		golden := bytes.Replace(read(name+".golden.json"), []byte(`"stream":true`), nil, 1)
		out = append(out, recorded{name + ".json", "/v1/messages", strings.Replace(req, `,"stream":true`, "", 1), false, golden})
	}
	for _, name := range []string{"simonw-llm__test_tool_use_basic", "simonw-llm__test_responses_basic_streaming", "simonw-llm__test_responses_tool_use_streaming"} {
		path := "/v1/responses"
		if strings.Contains(name, "tool_use_basic") {
			path = "/v1/chat/completions"
		}
		out = append(out, recorded{name + ".sse", path, string(read(name + ".request.json")), true, read(name + ".sse")})
	}
	return out
}

// encodeEvents compresses body the way a provider's server does: one
// flush after every event, each flush one read on the client's side.
func encodeEvents(t *testing.T, coding string, body []byte) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		io.WriteCloser
		Flush() error
	}
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		w, _ = zstd.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	}
	var reads [][]byte
	events := bytes.SplitAfter(body, []byte("\n\n"))
	for _, ev := range events {
		if w == nil {
			reads = append(reads, ev)
			continue
		}
		w.Write(ev)
		w.Flush()
		reads = append(reads, bytes.Clone(buf.Bytes()))
		buf.Reset()
	}
	if w != nil {
		w.Close()
		reads[len(reads)-1] = append(reads[len(reads)-1], buf.Bytes()...)
	}
	return reads
}

func recordedExchange(t *testing.T, rec recorded, coding string, start time.Time, id string) *format.Exchange {
	ex := &format.Exchange{V: format.RecordVersion, ID: id, Node: "n", StartNS: start.UnixNano(),
		Request: format.Request{Method: "POST", Path: rec.path, Headers: format.Header{"Content-Type": {"application/json"}}},
		Route:   &format.Route{Provider: "openai", Dialect: "openai", URL: "https://api.example" + rec.path, Proxy: "direct"},
	}
	if strings.HasPrefix(rec.path, "/v1/messages") {
		ex.Route.Provider, ex.Route.Dialect = "anthropic", "anthropic"
	}
	// Clients compress request bodies too (the Codex CLI sends zstd): the
	// request goes in the same coding as the answer.
	reqBody := []byte(rec.request)
	if coding != "identity" {
		reqBody = bytes.Join(encodeEvents(t, coding, reqBody), nil)
		ex.Request.Headers["Content-Encoding"] = []string{coding}
	}
	ex.Request.SetBody(reqBody, int64(len(reqBody)))
	ct := "application/json"
	if rec.sse {
		ct = "text/event-stream; charset=utf-8"
	}
	resp := &format.Response{Status: 200, Headers: format.Header{"Content-Type": {ct}}}
	if coding != "identity" {
		resp.Headers["Content-Encoding"] = []string{coding}
	}
	reads := [][]byte{rec.body}
	if rec.sse || coding != "identity" {
		reads = encodeEvents(t, coding, rec.body)
	}
	for i, r := range reads {
		resp.Chunks = append(resp.Chunks, format.NewChunk(int64(150+10*i)*1e6, r))
		resp.Bytes += int64(len(r))
	}
	ex.Response = resp
	ex.EndNS = int64(150+10*len(reads)) * 1e6
	return ex
}

// TestCompressedResponsesAnalyseAsPlain: real recorded answers, sent the
// way providers send them — gzip, br, zstd, deflate; JSON and event streams
// flushed event by event — with requests compressed the same way, give
// every analysed column the uncompressed exchange gives, bytes on the wire
// apart.
func TestCompressedResponsesAnalyseAsPlain(t *testing.T) {
	dir := t.TempDir()
	w, err := format.NewWriter(format.WriterOptions{Dir: dir, Node: "n", FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	codings := []string{"identity", "gzip", "br", "zstd", "deflate"}
	recs := recordings(t)
	for i, rec := range recs {
		for j, c := range codings {
			id := fmt.Sprintf("%02d-%s", i, c)
			if err := w.Append(recordedExchange(t, rec, c, t0.Add(time.Duration(i*10+j)*time.Second), id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.Close()
	sum, err := Run(context.Background(), Options{Inputs: []string{dir}, DB: filepath.Join(t.TempDir(), "a.duckdb")})
	if err != nil {
		t.Fatal(err)
	}
	db, _ := OpenReadOnly(sum.DB)
	defer db.Close()
	cols := `coalesce(request_json::VARCHAR, 'NULL'), coalesce(model, 'NULL'), stream, coalesce(response_json::VARCHAR, 'NULL'), coalesce(actual_prompt_tokens, -1), coalesce(actual_completion_tokens, -1),
		coalesce(actual_cached_tokens, -1), coalesce(estimated_cost_usd, -1), coalesce(finish_reason, 'NULL'),
		coalesce(estimated_ttft_ms, -1), coalesce(problems, ''), coalesce(response_model, 'NULL'), chunks`
	for i, rec := range recs {
		var want string
		for _, c := range codings {
			var got string
			err := db.QueryRow(`SELECT concat_ws(' | ', `+cols+`) FROM api_calls WHERE request_id = ?`, fmt.Sprintf("%02d-%s", i, c)).Scan(&got)
			if err != nil {
				t.Fatalf("%s %s: %v", rec.name, c, err)
			}
			if c == "identity" {
				want = got
				if !strings.Contains(got, `"usage"`) || strings.Contains(got, "not JSON") {
					t.Fatalf("%s: the plain answer is not analysed: %s", rec.name, got)
				}
				continue
			}
			if got != want {
				t.Errorf("%s as %s:\n got %s\nwant %s", rec.name, c, got, want)
			}
		}
	}
}

// TestHostileContent: a segment whose prompts and answers hold invalid
// UTF-8, among good records and segments, loads every row — the bad bytes
// replaced and named in problems — and the Parquet dataset stays readable
// as a whole. Before, one such record failed its segment's DuckDB load and
// every later read_parquet of the dataset.
func TestHostileContent(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(5, 5))
	good := func(i int) []byte {
		return line(t, formattest.StreamedChat(r, t0.Add(time.Duration(i)*time.Second), 5))
	}
	badPrompt := formattest.StreamedChat(r, t0.Add(10*time.Second), 5)
	badPrompt.Request.SetBody([]byte("{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"caf\xe9 \xff\xfe\"}]}"), 70)
	badAnswer := formattest.StreamedChat(r, t0.Add(11*time.Second), 5)
	c := badAnswer.Response.Chunks[2]
	badAnswer.Response.Chunks[2] = format.NewChunk(c.T, bytes.Replace(c.Data(), []byte(`"content":"`), []byte("\"content\":\"\xc3\x28\xa0"), 1))
	badJSON := []byte("{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"\xed\xa0\x80 ok\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}")
	badNonStream := formattest.StreamedChat(r, t0.Add(12*time.Second), 1)
	badNonStream.Response = &format.Response{Status: 200, Headers: format.Header{"Content-Type": {"application/json"}, "X-Lessllm-User": {"\x1b[31mred\xff"}},
		Chunks: []format.Chunk{format.NewChunk(2e8, badJSON)}, Bytes: int64(len(badJSON))}
	badNonStream.Request.Headers["X-Lessllm-User"] = []string{"user\xff"}

	// A recorded Anthropic stream (testdata/recorded) with a bad byte in
	// its text, gzipped as Anthropic sends it.
	rec := recordings(t)[0]
	rec.body = bytes.Replace(rec.body, []byte(`"text":"Hello"`), []byte("\"text\":\"Hel\xfflo\""), 1)
	badRecorded := recordedExchange(t, rec, "gzip", t0.Add(13*time.Second), "recorded-bad-utf8")

	os.MkdirAll(filepath.Join(dir, "a"), 0o700)
	os.MkdirAll(filepath.Join(dir, "b"), 0o700)
	rawSegment(t, filepath.Join(dir, "a"), "hostile", good(1), line(t, badPrompt), good(2), line(t, badAnswer), line(t, badNonStream), good(3), line(t, badRecorded))
	rawSegment(t, filepath.Join(dir, "b"), "clean", good(4), good(5))
	out := t.TempDir()
	sum, err := Run(context.Background(), Options{Inputs: []string{dir}, DB: filepath.Join(out, "a.duckdb")})
	if err != nil {
		t.Fatalf("run failed: %v", err)
	}
	if sum.Rows != 9 || sum.Segments != 2 {
		t.Fatalf("%d segments, %d rows; want 2 and 9", sum.Segments, sum.Rows)
	}
	db, _ := OpenReadOnly(sum.DB)
	defer db.Close()
	// The request bytes and the whole JSON answer are stored as they came,
	// so their repair is reported; a streamed answer is reassembled through
	// a JSON decoder, which already reads a bad byte as U+FFFD.
	var fixed string
	db.QueryRow(`SELECT string_agg(request_id, ',' ORDER BY request_id) FROM api_calls WHERE problems LIKE '%invalid UTF-8 replaced%'`).Scan(&fixed)
	if want := strings.Join([]string{badPrompt.ID, badNonStream.ID}, ","); fixed != want {
		t.Errorf("rows reporting replaced UTF-8: %s, want %s", fixed, want)
	}
	var content, user sql.NullString
	db.QueryRow(`SELECT request_json->>'$.messages[0].content', user_id FROM api_calls WHERE request_id = ?`, badPrompt.ID).Scan(&content, &user)
	if content.String != "caf\uFFFD \uFFFD" {
		t.Errorf("sanitised prompt %q", content.String)
	}
	var tokens int
	db.QueryRow(`SELECT actual_completion_tokens FROM api_calls WHERE request_id = ?`, badNonStream.ID).Scan(&tokens)
	if tokens != 2 {
		t.Errorf("the answer with bad bytes lost its usage: %d completion tokens", tokens)
	}
	// The whole dataset reads back through DuckDB's Parquet reader.
	var n int
	glob := filepath.Join(sum.Parquet, "api_calls", "**", "*.parquet")
	if err := db.QueryRow(`SELECT count(*) FROM read_parquet(?) WHERE json_valid(response_json) IS NOT FALSE`, glob).Scan(&n); err != nil || n != 9 {
		t.Errorf("read_parquet of the dataset: %d rows, %v", n, err)
	}
	for _, id := range []string{badAnswer.ID, badRecorded.ID} {
		var js string
		var out int
		if err := db.QueryRow(`SELECT response_json::VARCHAR, actual_completion_tokens FROM api_calls WHERE request_id = ?`, id).Scan(&js, &out); err != nil ||
			!json.Valid([]byte(js)) || !strings.Contains(js, "\uFFFD") || out == 0 {
			t.Errorf("%s: reassembled answer with bad bytes: %v, %d output tokens, %s", id, err, out, js)
		}
	}
}

// TestEchoedKeysMasked: an upstream that echoes the refused key in its
// error message ("Incorrect API key provided: sk-…") has it masked in
// error_message as in response_json; no output file holds the key.
func TestEchoedKeysMasked(t *testing.T) {
	const openaiKey, googleKey = "sk-proj-EchoedKey0123456789abcdefXYZ", "AIzaSyD-echoed-gemini-key-0123456789abc"
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(6, 6))
	var lines [][]byte
	for i, body := range []string{
		`{"error":{"message":"Incorrect API key provided: ` + openaiKey + `. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
		`{"error":{"code":400,"message":"API key not valid: ` + googleKey + `","status":"INVALID_ARGUMENT"}}`,
	} {
		ex := formattest.StreamedChat(r, t0.Add(time.Duration(i)*time.Second), 1)
		ex.Response = &format.Response{Status: 401, Headers: format.Header{"Content-Type": {"application/json"}},
			Chunks: []format.Chunk{format.NewChunk(1e8, []byte(body))}, Bytes: int64(len(body))}
		lines = append(lines, line(t, ex))
	}
	rawSegment(t, dir, "echo", lines...)
	out := t.TempDir()
	sum, err := Run(context.Background(), Options{Inputs: []string{dir}, DB: filepath.Join(out, "a.duckdb")})
	if err != nil {
		t.Fatal(err)
	}
	db, _ := OpenReadOnly(sum.DB)
	var msgs string
	var findings int
	db.QueryRow(`SELECT string_agg(error_message, ' | ') FROM api_calls`).Scan(&msgs)
	db.QueryRow(`SELECT count(*) FROM sensitive_findings WHERE "where" = 'error'`).Scan(&findings)
	db.Close()
	if !strings.Contains(msgs, "[openai_api_key") || !strings.Contains(msgs, "[google_api_key") || findings != 2 {
		t.Errorf("error messages %q, %d findings in errors", msgs, findings)
	}
	// Every file analyze wrote: the database (checkpointed on close) and
	// the Parquet dataset.
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, k := range []string{openaiKey, googleKey} {
			if bytes.Contains(b, []byte(k)) {
				t.Errorf("%s holds %s", p, k[:8])
			}
		}
		return nil
	})
}
