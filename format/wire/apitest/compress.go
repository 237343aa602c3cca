package apitest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// DefaultEncodings are the content codings the simulator answers with, in
// its order of preference, when the client accepts them: providers compress
// what clients accept — OpenAI's JSON comes as br or gzip, Anthropic gzips
// even event streams — so the simulator does too, streams included, with a
// flush after every event as their servers do.
var DefaultEncodings = []string{"br", "gzip", "zstd", "deflate"}

// encoding picks the first of the simulator's codings that accept (an
// Accept-Encoding value) allows with a q-value above 0; "" for none.
func encoding(prefs []string, accept string) string {
	allowed := map[string]bool{}
	for part := range strings.SplitSeq(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			q, _ = strconv.ParseFloat(v, 64)
		}
		allowed[strings.ToLower(strings.TrimSpace(name))] = q > 0
	}
	for _, e := range prefs {
		if allowed[e] || (allowed["*"] && !has(allowed, e)) {
			return e
		}
	}
	return ""
}

func has(m map[string]bool, k string) bool { _, ok := m[k]; return ok }

// flushCloser is a streaming compressor.
type flushCloser interface {
	io.WriteCloser
	Flush() error
}

func newCompressor(coding string, w io.Writer) flushCloser {
	switch coding {
	case "br":
		return brotli.NewWriterLevel(w, 4)
	case "zstd":
		z, _ := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
		return z
	case "deflate":
		return zlib.NewWriter(w)
	}
	return gzip.NewWriter(w)
}

// compressWriter compresses a handler's body with one content coding.
// Flush emits everything written so far, so each event reaches the client
// decodable on its own.
type compressWriter struct {
	http.ResponseWriter
	coding   string
	c        flushCloser
	started  bool
	hijacked bool // the connection was taken over: nothing more is written
}

func (w *compressWriter) WriteHeader(status int) {
	if w.started {
		return
	}
	w.started = true
	if status != http.StatusNoContent && status != http.StatusNotModified && status >= 200 {
		h := w.Header()
		h.Set("Content-Encoding", w.coding)
		h.Add("Vary", "Accept-Encoding")
		h.Del("Content-Length")
		w.c = newCompressor(w.coding, w.ResponseWriter)
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *compressWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.c == nil {
		return w.ResponseWriter.Write(p)
	}
	return w.c.Write(p)
}

func (w *compressWriter) Flush() {
	if w.c != nil {
		w.c.Flush()
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack lets the fault injection drop the connection.
func (w *compressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *compressWriter) close() {
	if w.c != nil && !w.hijacked {
		w.c.Close()
	}
}
