package format

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"sync"

	"github.com/lessllm/lessllm/format/internal/jsonscan"
)

// decodeFast decodes a record as AppendJSON writes it, without reflection:
// analysis reads every record, and encoding/json spends most of its time
// validating and reflecting over the hundreds of chunks of a stream. It
// returns an error for anything it is not sure of — an unknown or repeated
// key, a null where the encoder never writes one, a malformed value — and
// DecodeExchange then uses encoding/json, so the result is always what
// encoding/json would produce (FuzzDecodeFast holds it to that).
func decodeFast(line []byte, ex *Exchange) error {
	var s jsonscan.Scanner
	s.Reset(line)
	d := recordDecoder{s: &s}
	if err := d.exchange(ex); err != nil {
		return err
	}
	return s.End()
}

// chunkScratch holds a record's chunks while they are decoded: their text
// until it becomes one string, and each chunk's time, binary bytes and end
// in that text until the exact-size Chunks slice is made. Reused, because
// zeroing a fresh 100 KB buffer per record costs as much as filling it, and
// growing a slice through every power of two costs more than one copy.
type chunkScratch struct {
	text   []byte
	chunks []scratchChunk
}

type scratchChunk struct {
	t   int64
	b   []byte
	end int // end of the chunk's text in text; -1: no "d"
}

var chunkScratches = sync.Pool{New: func() any { return new(chunkScratch) }}

type recordDecoder struct{ s *jsonscan.Scanner }

var errUnsure = jsonscan.ErrUnsure

func (d *recordDecoder) exchange(ex *Exchange) error {
	var seen jsonscan.Fields
	it := d.s.Object()
	for it.Next() {
		var err error
		switch string(it.Key()) {
		case "v":
			if err = seen.Once(0); err == nil {
				var v int64
				v, err = d.s.Int()
				ex.V = int(v)
			}
		case "id":
			err = d.s.StringField(&seen, 1, &ex.ID)
		case "node":
			err = d.s.StringField(&seen, 2, &ex.Node)
		case "start_ns":
			err = d.s.IntField(&seen, 3, &ex.StartNS)
		case "request":
			if err = seen.Once(4); err == nil {
				err = d.request(&ex.Request)
			}
		case "upstream_request":
			if err = seen.Once(5); err == nil && !d.s.Null() {
				ex.Upstream = new(Request)
				err = d.request(ex.Upstream)
			}
		case "route":
			if err = seen.Once(6); err == nil && !d.s.Null() {
				ex.Route = new(Route)
				err = d.route(ex.Route)
			}
		case "timings":
			if err = seen.Once(7); err == nil {
				err = d.timings(&ex.Timings)
			}
		case "response":
			if err = seen.Once(8); err == nil && !d.s.Null() {
				ex.Response = new(Response)
				err = d.response(ex.Response)
			}
		case "end_ns":
			err = d.s.IntField(&seen, 9, &ex.EndNS)
		case "error":
			if err = seen.Once(10); err == nil && !d.s.Null() {
				ex.Error = new(Error)
				err = d.errorValue(ex.Error)
			}
		case "warnings":
			if err = seen.Once(11); err == nil && !d.s.Null() {
				ex.Warnings, err = d.strings()
			}
		default:
			err = errUnsure
		}
		if err != nil {
			return err
		}
	}
	return it.Err()
}

func (d *recordDecoder) request(r *Request) error {
	var seen jsonscan.Fields
	it := d.s.Object()
	for it.Next() {
		var err error
		switch string(it.Key()) {
		case "method":
			err = d.s.StringField(&seen, 0, &r.Method)
		case "path":
			err = d.s.StringField(&seen, 1, &r.Path)
		case "query":
			err = d.s.StringField(&seen, 2, &r.Query)
		case "url":
			err = d.s.StringField(&seen, 3, &r.URL)
		case "headers":
			if err = seen.Once(4); err == nil && !d.s.Null() {
				r.Headers, err = d.header()
			}
		case "body":
			if err = seen.Once(5); err == nil {
				var raw []byte
				if raw, err = d.s.Raw(); err == nil {
					r.JSON = json.RawMessage(append([]byte(nil), raw...))
				}
			}
		case "body_text":
			err = d.s.StringField(&seen, 6, &r.Text)
		case "body_base64":
			if err = seen.Once(7); err == nil && !d.s.Null() {
				r.Binary, err = d.base64()
			}
		case "body_bytes":
			err = d.s.IntField(&seen, 8, &r.Bytes)
		case "body_truncated":
			err = d.s.BoolField(&seen, 9, &r.Truncated)
		default:
			err = errUnsure
		}
		if err != nil {
			return err
		}
	}
	return it.Err()
}

func (d *recordDecoder) route(r *Route) error {
	var seen jsonscan.Fields
	it := d.s.Object()
	for it.Next() {
		var err error
		switch string(it.Key()) {
		case "provider":
			err = d.s.StringField(&seen, 0, &r.Provider)
		case "dialect":
			err = d.s.StringField(&seen, 1, &r.Dialect)
		case "upstream_dialect":
			err = d.s.StringField(&seen, 2, &r.UpstreamDialect)
		case "model":
			err = d.s.StringField(&seen, 3, &r.Model)
		case "upstream_model":
			err = d.s.StringField(&seen, 4, &r.UpstreamModel)
		case "url":
			err = d.s.StringField(&seen, 5, &r.URL)
		case "proxy":
			err = d.s.StringField(&seen, 6, &r.Proxy)
		case "failed_routes":
			if err = seen.Once(7); err == nil && !d.s.Null() {
				r.FailedRoutes, err = d.strings()
			}
		default:
			err = errUnsure
		}
		if err != nil {
			return err
		}
	}
	return it.Err()
}

func (d *recordDecoder) timings(t *Timings) error {
	var seen jsonscan.Fields
	it := d.s.Object()
	for it.Next() {
		var err error
		switch string(it.Key()) {
		case "request_read_ns":
			err = d.s.IntField(&seen, 0, &t.RequestRead)
		case "dns_start_ns":
			err = d.s.IntField(&seen, 1, &t.DNSStart)
		case "dns_done_ns":
			err = d.s.IntField(&seen, 2, &t.DNSDone)
		case "connect_start_ns":
			err = d.s.IntField(&seen, 3, &t.ConnectStart)
		case "connect_done_ns":
			err = d.s.IntField(&seen, 4, &t.ConnectDone)
		case "tls_start_ns":
			err = d.s.IntField(&seen, 5, &t.TLSStart)
		case "tls_done_ns":
			err = d.s.IntField(&seen, 6, &t.TLSDone)
		case "got_conn_ns":
			err = d.s.IntField(&seen, 7, &t.GotConn)
		case "wrote_request_ns":
			err = d.s.IntField(&seen, 8, &t.WroteRequest)
		case "first_byte_ns":
			err = d.s.IntField(&seen, 9, &t.FirstByte)
		case "conn_reused":
			err = d.s.BoolField(&seen, 10, &t.ConnReused)
		case "proxy_handshake_ns":
			err = d.s.IntField(&seen, 11, &t.ProxyHandshake)
		default:
			err = errUnsure
		}
		if err != nil {
			return err
		}
	}
	return it.Err()
}

func (d *recordDecoder) response(r *Response) error {
	var seen jsonscan.Fields
	it := d.s.Object()
	for it.Next() {
		var err error
		switch string(it.Key()) {
		case "status":
			if err = seen.Once(0); err == nil {
				var v int64
				v, err = d.s.Int()
				r.Status = int(v)
			}
		case "headers":
			if err = seen.Once(1); err == nil && !d.s.Null() {
				r.Headers, err = d.header()
			}
		case "chunks":
			if err = seen.Once(2); err == nil && !d.s.Null() {
				err = d.chunks(r)
			}
		case "body_bytes":
			err = d.s.IntField(&seen, 3, &r.Bytes)
		case "body_truncated":
			err = d.s.BoolField(&seen, 4, &r.Truncated)
		default:
			err = errUnsure
		}
		if err != nil {
			return err
		}
	}
	return it.Err()
}

// chunks decodes the chunk list with every chunk's text decoded into one
// buffer and turned into one string at the end, each chunk's D a slice of
// it: a stream has hundreds of chunks, and one allocation beats hundreds.
func (d *recordDecoder) chunks(r *Response) error {
	sc := chunkScratches.Get().(*chunkScratch)
	defer chunkScratches.Put(sc)
	// The decoded text is at most what is left of the line, bar invalid
	// UTF-8 (replaced by 3-byte U+FFFD): size the buffer once.
	buf := slices.Grow(sc.text[:0], d.s.Remaining())
	list := sc.chunks[:0]
	defer func() {
		clear(list) // drop the binary chunks' bytes
		sc.text, sc.chunks = buf[:0], list[:0]
	}()
	// Consecutive chunks of a stream repeat the same escaped SSE envelope:
	// each reuses the decoding of the previous one's shared prefix and tail.
	var shared jsonscan.Shared
	arr := d.s.Array()
	for arr.Next() {
		if c, ok := d.writerChunk(&buf, &shared); ok {
			list = append(list, c)
			continue
		}
		c := scratchChunk{end: -1}
		var seen jsonscan.Fields
		obj := d.s.Object()
		for obj.Next() {
			var err error
			switch string(obj.Key()) {
			case "t":
				err = d.s.IntField(&seen, 0, &c.t)
			case "d":
				if err = seen.Once(1); err == nil {
					buf, err = d.s.AppendStringShared(buf, &shared)
					c.end = len(buf)
				}
			case "b":
				if err = seen.Once(2); err == nil && !d.s.Null() {
					c.b, err = d.base64()
				}
			default:
				err = errUnsure
			}
			if err != nil {
				return err
			}
		}
		if err := obj.Err(); err != nil {
			return err
		}
		list = append(list, c)
	}
	if err := arr.Err(); err != nil {
		return err
	}
	all := string(buf)
	r.Chunks = make([]Chunk, len(list))
	start := 0
	for i, c := range list {
		r.Chunks[i] = Chunk{T: c.t, B: c.b}
		if c.end >= 0 {
			r.Chunks[i].D = all[start:c.end]
			start = c.end
		}
	}
	return nil
}

// writerChunk reads a chunk written the way format.Writer writes one with
// text, {"t":N,"d":"…"}, by its bytes instead of walking its keys. On any
// other shape it reads nothing (buf and shared as they were) and returns
// false: the general walk then reads the chunk, or rejects it.
func (d *recordDecoder) writerChunk(buf *[]byte, shared *jsonscan.Shared) (scratchChunk, bool) {
	pos, n := d.s.Pos(), len(*buf)
	if !d.s.Literal(`{"t":`) {
		return scratchChunk{}, false
	}
	t, err := d.s.Int()
	if err == nil && d.s.Literal(`,"d":`) {
		saved := *shared
		text, err := d.s.AppendStringShared(*buf, shared)
		if err == nil && d.s.Literal("}") {
			*buf = text
			return scratchChunk{t: t, end: len(text)}, true
		}
		*shared = saved
	}
	d.s.Rewind(pos)
	*buf = (*buf)[:n]
	return scratchChunk{}, false
}

func (d *recordDecoder) errorValue(e *Error) error {
	var seen jsonscan.Fields
	it := d.s.Object()
	for it.Next() {
		var err error
		switch string(it.Key()) {
		case "kind":
			err = d.s.StringField(&seen, 0, &e.Kind)
		case "message":
			err = d.s.StringField(&seen, 1, &e.Message)
		case "at_ns":
			err = d.s.IntField(&seen, 2, &e.AtNS)
		default:
			err = errUnsure
		}
		if err != nil {
			return err
		}
	}
	return it.Err()
}

func (d *recordDecoder) header() (Header, error) {
	h := Header{}
	it := d.s.Object()
	for it.Next() {
		k := string(it.Key())
		if _, dup := h[k]; dup || d.s.Peek() == 'n' {
			return h, errUnsure
		}
		v, err := d.strings()
		if err != nil {
			return h, err
		}
		h[k] = v
	}
	return h, it.Err()
}

func (d *recordDecoder) strings() ([]string, error) {
	out := []string{}
	it := d.s.Array()
	for it.Next() {
		v, err := d.s.String()
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, it.Err()
}

// base64 decodes a []byte field as encoding/json does (standard encoding).
func (d *recordDecoder) base64() ([]byte, error) {
	s, err := d.s.String()
	if err != nil {
		return nil, err
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, []byte(s))
	if err != nil {
		return nil, errUnsure
	}
	return b[:n], nil
}
