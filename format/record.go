package format

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lessllm/lessllm/format/internal/jsonscan"
)

// RecordVersion is the version of the Exchange schema this package writes
// (SPEC.md §4). Readers accept every version up to it.
const RecordVersion = 1

// Exchange is one line of a segment: a complete client ⇄ upstream exchange,
// self-contained so that a line can be read without any other line or file.
//
// Every time in an Exchange except StartNS is an offset in nanoseconds from
// StartNS, the moment the proxy received the client's request headers.
type Exchange struct {
	V       int    `json:"v"`
	ID      string `json:"id"` // UUIDv7: unique across nodes, sorts by time
	Node    string `json:"node"`
	StartNS int64  `json:"start_ns"` // Unix nanoseconds

	Request Request `json:"request"`
	// Upstream is the request as sent upstream, present only when it differs
	// from Request beyond header redaction (translation, model rewrite).
	Upstream *Request `json:"upstream_request,omitempty"`
	Route    *Route   `json:"route,omitempty"`
	Timings  Timings  `json:"timings"`
	// Response is nil when no response headers arrived from upstream.
	Response *Response `json:"response,omitempty"`

	EndNS    int64    `json:"end_ns"` // last byte relayed to the client, or the failure
	Error    *Error   `json:"error,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Header is an HTTP header map with secrets already replaced by fingerprints
// (see RedactHeader). Keys are in canonical MIME form.
type Header map[string][]string

// Request is an HTTP request as received from the client or as sent upstream.
type Request struct {
	Method  string `json:"method"`
	Path    string `json:"path"`
	Query   string `json:"query,omitempty"`
	URL     string `json:"url,omitempty"` // absolute upstream URL; set on upstream requests only
	Headers Header `json:"headers,omitempty"`
	Body
}

// Body holds a captured HTTP body in the most readable exact form: embedded
// JSON when the bytes are one JSON value, a string when they are UTF-8 text,
// base64 otherwise. Bytes is the full length seen on the wire, which exceeds
// the captured length when Truncated is set.
type Body struct {
	JSON      json.RawMessage `json:"body,omitempty"`
	Text      string          `json:"body_text,omitempty"`
	Binary    []byte          `json:"body_base64,omitempty"`
	Bytes     int64           `json:"body_bytes"`
	Truncated bool            `json:"body_truncated,omitempty"`
}

// SetBody stores captured bytes b, of which total were seen on the wire.
// JSON is compacted so that the record stays on one line; a truncated body is
// never stored as JSON because its prefix is not the value that was sent.
func (b *Body) SetBody(data []byte, total int64) {
	*b = Body{Bytes: total, Truncated: int64(len(data)) < total}
	switch {
	case len(data) == 0:
	case !b.Truncated && compactJSON(data, b):
	case utf8.Valid(data):
		b.Text = string(data)
	default:
		b.Binary = bytes.Clone(data)
	}
}

// compactJSON stores data as compacted JSON if it is one JSON value. It
// runs on capture's request path for every body: jsonscan.AppendCompact
// validates and compacts in one pass several times faster than
// json.Compact, which decides only what the fast way declines.
func compactJSON(data []byte, b *Body) bool {
	if out, ok := jsonscan.AppendCompact(make([]byte, 0, len(data)), data); ok {
		b.JSON = out
		return true
	}
	var buf bytes.Buffer
	buf.Grow(len(data))
	if json.Compact(&buf, data) != nil {
		return false
	}
	b.JSON = buf.Bytes()
	return true
}

// Raw returns the captured body bytes, whichever form they were stored in.
func (b *Body) Raw() []byte {
	switch {
	case b.JSON != nil:
		return b.JSON
	case b.Text != "":
		return []byte(b.Text)
	default:
		return b.Binary
	}
}

// Route is the routing decision made for the exchange.
type Route struct {
	Provider        string `json:"provider"`                   // provider name from the config
	Dialect         string `json:"dialect"`                    // client's API: openai | anthropic
	UpstreamDialect string `json:"upstream_dialect,omitempty"` // set when translated
	Model           string `json:"model,omitempty"`            // as the client asked
	UpstreamModel   string `json:"upstream_model,omitempty"`   // as sent upstream
	URL             string `json:"url"`                        // upstream URL
	Proxy           string `json:"proxy"`                      // route used: "direct" or a proxy URL without credentials
	// FailedRoutes are the routes tried before Proxy for this exchange's
	// connection, each with why it failed (when Proxy is "none", all were).
	FailedRoutes []string `json:"failed_routes,omitempty"`
}

// Timings are connection milestones, as nanosecond offsets from StartNS.
// A zero value means the milestone did not happen (for example no DNS
// lookup or TLS handshake on a reused connection).
type Timings struct {
	RequestRead  int64 `json:"request_read_ns,omitempty"` // client body fully read
	DNSStart     int64 `json:"dns_start_ns,omitempty"`
	DNSDone      int64 `json:"dns_done_ns,omitempty"`
	ConnectStart int64 `json:"connect_start_ns,omitempty"`
	ConnectDone  int64 `json:"connect_done_ns,omitempty"`
	TLSStart     int64 `json:"tls_start_ns,omitempty"`
	TLSDone      int64 `json:"tls_done_ns,omitempty"`
	GotConn      int64 `json:"got_conn_ns,omitempty"`
	ConnReused   bool  `json:"conn_reused,omitempty"`
	WroteRequest int64 `json:"wrote_request_ns,omitempty"`
	FirstByte    int64 `json:"first_byte_ns,omitempty"` // first response byte from upstream
	// ProxyHandshake is a duration, not an offset: how long the proxy
	// handshake took after the TCP connect to the proxy (TLS to an https://
	// proxy, CONNECT, SOCKS) on a new connection through one. Zero when
	// direct or reused.
	ProxyHandshake int64 `json:"proxy_handshake_ns,omitempty"`
}

// Response is the upstream response: status, headers and the body as the
// list of chunks exactly as read from upstream.
type Response struct {
	Status  int     `json:"status"`
	Headers Header  `json:"headers,omitempty"`
	Chunks  []Chunk `json:"chunks"`
	// Bytes counts every body byte relayed, also those past the capture cap.
	Bytes     int64 `json:"body_bytes"`
	Truncated bool  `json:"body_truncated,omitempty"`
}

// Chunk is one read from the upstream body. Exactly one of D and B is set:
// D when the bytes are valid UTF-8 (almost always: SSE and JSON), B otherwise.
type Chunk struct {
	T int64  `json:"t"` // ns offset from StartNS when the read returned
	D string `json:"d,omitempty"`
	B []byte `json:"b,omitempty"`
}

// NewChunk copies p into a Chunk read at offset t.
func NewChunk(t int64, p []byte) Chunk {
	if utf8.Valid(p) {
		return Chunk{T: t, D: string(p)}
	}
	return Chunk{T: t, B: bytes.Clone(p)}
}

// ChunkBuilder collects the reads of a body as they happen and turns them
// into Chunks at the end with a single allocation: each chunk's string is a
// slice of one copy of the whole body. A capturing proxy makes one per
// stream and can reuse it (Reset) afterwards.
//
// The bytes are kept in fixed blocks from a shared pool rather than in one
// slice grown by doubling: a stream holds its captured bytes plus at most
// one partly filled block while it runs, instead of up to twice its bytes
// and every smaller copy left behind for the collector (BENCHMARKS.md §4).
type ChunkBuilder struct {
	blocks []*[chunkBlock]byte
	n      int // bytes collected; the last block holds n - chunkBlock*(len(blocks)-1)
	t      []int64
	end    []int
}

const chunkBlock = 4 << 10

var chunkBlocks = sync.Pool{New: func() any { return new([chunkBlock]byte) }}

// Add records a read p that returned at offset t (ns). p is copied.
func (b *ChunkBuilder) Add(t int64, p []byte) {
	for len(p) > 0 {
		used := b.n % chunkBlock
		if used == 0 && b.n == chunkBlock*len(b.blocks) {
			b.blocks = append(b.blocks, chunkBlocks.Get().(*[chunkBlock]byte))
		}
		k := copy(b.blocks[len(b.blocks)-1][used:], p)
		b.n += k
		p = p[k:]
	}
	b.t = append(b.t, t)
	b.end = append(b.end, b.n)
}

// Len is the number of bytes collected.
func (b *ChunkBuilder) Len() int { return b.n }

// Chunks returns the collected reads as Chunks (nil when there were none).
func (b *ChunkBuilder) Chunks() []Chunk {
	if len(b.t) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.Grow(b.n)
	for i, blk := range b.blocks {
		sb.Write(blk[:min(chunkBlock, b.n-i*chunkBlock)])
	}
	all := sb.String()
	out := make([]Chunk, len(b.t))
	start := 0
	for i, end := range b.end {
		piece := all[start:end]
		if utf8.ValidString(piece) {
			out[i] = Chunk{T: b.t[i], D: piece}
		} else {
			out[i] = Chunk{T: b.t[i], B: []byte(piece)}
		}
		start = end
	}
	return out
}

// Reset empties the builder: its blocks go back to the pool, its offset
// lists keep their memory.
func (b *ChunkBuilder) Reset() {
	for i, blk := range b.blocks {
		chunkBlocks.Put(blk)
		b.blocks[i] = nil
	}
	b.blocks, b.n, b.t, b.end = b.blocks[:0], 0, b.t[:0], b.end[:0]
}

// Data returns the chunk's bytes.
func (c Chunk) Data() []byte {
	if c.B != nil {
		return c.B
	}
	return []byte(c.D)
}

// Body concatenates the response chunks.
func (r *Response) Body() []byte {
	var n int
	for _, c := range r.Chunks {
		n += len(c.D) + len(c.B)
	}
	out := make([]byte, 0, n)
	for _, c := range r.Chunks {
		if c.B != nil {
			out = append(out, c.B...)
		} else {
			out = append(out, c.D...)
		}
	}
	return out
}

// Error kinds recorded in Error.Kind. The set may grow; readers must accept
// unknown kinds.
const (
	ErrUpstreamConnect  = "upstream_connect"  // no connection to upstream (or proxy)
	ErrUpstreamTimeout  = "upstream_timeout"  // response headers or body stalled past a timeout
	ErrUpstreamBroken   = "upstream_broken"   // upstream failed mid-body (reset, bad framing)
	ErrClientDisconnect = "client_disconnect" // client went away before the end
	ErrClientWrite      = "client_write"      // writing to the client failed
	ErrRejected         = "rejected"          // lessllm refused the request (bad route, auth, size)
	ErrRequestRead      = "request_read"      // reading the client's request body failed
	ErrShutdown         = "shutdown"          // grace period ended before the exchange did
)

// Error records why an exchange did not end cleanly.
type Error struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	AtNS    int64  `json:"at_ns"`
}

// DecodeExchange parses one record line. It rejects records of a version
// newer than this package knows, rather than silently misreading them.
func DecodeExchange(line []byte) (*Exchange, error) {
	var ex Exchange
	if decodeFast(line, &ex) != nil {
		ex = Exchange{}
		if err := json.Unmarshal(line, &ex); err != nil {
			return nil, err
		}
	}
	if ex.V < 1 || ex.V > RecordVersion {
		return nil, fmt.Errorf("record version %d not supported (this build reads 1..%d)", ex.V, RecordVersion)
	}
	if ex.ID == "" {
		return nil, errors.New("record has no id")
	}
	return &ex, nil
}

// NewID returns a UUIDv7 (RFC 9562 §5.7) for time t: 48 bits of Unix
// milliseconds, then 74 random bits, so ids sort by time across nodes. The
// random bits need to be unique, not secret: math/rand/v2's per-process
// ChaCha8 source is seeded from the OS and costs no system call.
func NewID(t time.Time) string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], uint64(t.UnixMilli())<<16|rand.Uint64()&0xffff)
	binary.BigEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // variant 10
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}
