package analyze

import (
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire"
)

// maxDecodedBody caps what one compressed body may decode to (README
// "Compressed bodies"): far above any LLM answer or prompt, far below what a
// hostile 32 MiB capture of a compression bomb would expand to.
const maxDecodedBody = 256 << 20

// decodeContent replaces the compressed bodies of ex — the client's
// request, the upstream request, the response — by their decoded bytes, so
// that everything after it reads JSON and events whatever the upstream's
// Content-Encoding was. Decoded response chunks keep the time of the read
// that made them decodable (wire.DecodeChunks), so streamed timings are
// measured as a decoding client saw them. Byte counts stay those of the
// wire. What cannot be decoded is left as it was and named in the returned
// problems.
func decodeContent(ex *format.Exchange) (problems []string) {
	problems = decodeRequest(&ex.Request, "request", problems)
	if ex.Upstream != nil {
		problems = decodeRequest(ex.Upstream, "upstream request", problems)
	}
	resp := ex.Response
	if resp == nil {
		return problems
	}
	coding := headerValue(resp.Headers, "Content-Encoding")
	if len(wire.Codings(coding)) == 0 || len(resp.Chunks) == 0 {
		return problems
	}
	if resp.Truncated {
		return append(problems, "response body ("+coding+") truncated at the capture cap: not decoded")
	}
	var err error
	var b format.ChunkBuilder
	var pending []byte
	var at int64
	for t, p := range wire.DecodeChunks(coding, chunksOf(resp), maxDecodedBody, &err) {
		// Pieces decoded from the same read are one chunk, as on the wire.
		if len(pending) > 0 && t != at {
			b.Add(at, pending)
			pending = pending[:0]
		}
		at = t
		pending = append(pending, p...)
	}
	if len(pending) > 0 {
		b.Add(at, pending)
	}
	if err != nil {
		return append(problems, "response body not decoded: "+err.Error())
	}
	resp.Chunks = b.Chunks()
	return problems
}

func decodeRequest(r *format.Request, what string, problems []string) []string {
	coding := headerValue(r.Headers, "Content-Encoding")
	if len(wire.Codings(coding)) == 0 || r.Bytes == 0 {
		return problems
	}
	if r.Truncated {
		return append(problems, what+" body ("+coding+") truncated at the capture cap: not decoded")
	}
	decoded, err := wire.DecodeBody(coding, r.Raw(), maxDecodedBody)
	if err != nil {
		return append(problems, what+" body not decoded: "+err.Error())
	}
	wireBytes := r.Bytes
	r.SetBody(decoded, int64(len(decoded)))
	r.Bytes = wireBytes
	return problems
}

// textColumns are the indexes of Call's string and *string fields, with
// their column names.
var textColumns = func() (cols []struct {
	index int
	name  string
}) {
	t := reflect.TypeFor[Call]()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.String || (f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.String) {
			name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
			cols = append(cols, struct {
				index int
				name  string
			}{i, name})
		}
	}
	return cols
}()

// sanitizeText replaces invalid UTF-8 in every text column of c by U+FFFD
// and returns the columns it changed. Prompts and answers are untrusted
// bytes: Parquet's string and JSON columns, and DuckDB loading them, take
// UTF-8 only, and one bad byte would otherwise fail the load of its
// segment and every read of the dataset. Invalid bytes can only stand
// inside JSON strings (the syntax is ASCII), so a JSON column stays valid.
func sanitizeText(c *Call) []string {
	v := reflect.ValueOf(c).Elem()
	var fixed []string
	for _, col := range textColumns {
		f := v.Field(col.index)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		if s := f.String(); !utf8.ValidString(s) {
			f.SetString(strings.ToValidUTF8(s, "\uFFFD"))
			fixed = append(fixed, col.name)
		}
	}
	return fixed
}
