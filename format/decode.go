package format

import (
	"encoding/base64"
	"encoding/json"

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
	d := recordDecoder{s: jsonscan.New(line)}
	if err := d.exchange(ex); err != nil {
		return err
	}
	return d.s.End()
}

type recordDecoder struct{ s *jsonscan.Scanner }

var errUnsure = jsonscan.ErrUnsure

// once marks field i of an object as seen and fails on a repeat (whose
// merge semantics in encoding/json are not worth copying).
func once(seen *uint32, i uint) error {
	if *seen&(1<<i) != 0 {
		return errUnsure
	}
	*seen |= 1 << i
	return nil
}

func (d *recordDecoder) exchange(ex *Exchange) error {
	var seen uint32
	return d.s.Object(func(key []byte) error {
		var err error
		switch string(key) {
		case "v":
			if err = once(&seen, 0); err == nil {
				var v int64
				v, err = d.s.Int()
				ex.V = int(v)
			}
		case "id":
			if err = once(&seen, 1); err == nil {
				ex.ID, err = d.s.String()
			}
		case "node":
			if err = once(&seen, 2); err == nil {
				ex.Node, err = d.s.String()
			}
		case "start_ns":
			if err = once(&seen, 3); err == nil {
				ex.StartNS, err = d.s.Int()
			}
		case "request":
			if err = once(&seen, 4); err == nil {
				err = d.request(&ex.Request)
			}
		case "upstream_request":
			if err = once(&seen, 5); err == nil && !d.s.Null() {
				ex.Upstream = new(Request)
				err = d.request(ex.Upstream)
			}
		case "route":
			if err = once(&seen, 6); err == nil && !d.s.Null() {
				ex.Route = new(Route)
				err = d.route(ex.Route)
			}
		case "timings":
			if err = once(&seen, 7); err == nil {
				err = d.timings(&ex.Timings)
			}
		case "response":
			if err = once(&seen, 8); err == nil && !d.s.Null() {
				ex.Response = new(Response)
				err = d.response(ex.Response)
			}
		case "end_ns":
			if err = once(&seen, 9); err == nil {
				ex.EndNS, err = d.s.Int()
			}
		case "error":
			if err = once(&seen, 10); err == nil && !d.s.Null() {
				ex.Error = new(Error)
				err = d.errorValue(ex.Error)
			}
		case "warnings":
			if err = once(&seen, 11); err == nil && !d.s.Null() {
				ex.Warnings, err = d.strings()
			}
		default:
			err = errUnsure
		}
		return err
	})
}

func (d *recordDecoder) request(r *Request) error {
	var seen uint32
	return d.s.Object(func(key []byte) error {
		var err error
		switch string(key) {
		case "method":
			if err = once(&seen, 0); err == nil {
				r.Method, err = d.s.String()
			}
		case "path":
			if err = once(&seen, 1); err == nil {
				r.Path, err = d.s.String()
			}
		case "query":
			if err = once(&seen, 2); err == nil {
				r.Query, err = d.s.String()
			}
		case "url":
			if err = once(&seen, 3); err == nil {
				r.URL, err = d.s.String()
			}
		case "headers":
			if err = once(&seen, 4); err == nil && !d.s.Null() {
				r.Headers, err = d.header()
			}
		case "body":
			if err = once(&seen, 5); err == nil {
				var raw []byte
				if raw, err = d.s.Raw(); err == nil {
					r.JSON = json.RawMessage(append([]byte(nil), raw...))
				}
			}
		case "body_text":
			if err = once(&seen, 6); err == nil {
				r.Text, err = d.s.String()
			}
		case "body_base64":
			if err = once(&seen, 7); err == nil && !d.s.Null() {
				r.Binary, err = d.base64()
			}
		case "body_bytes":
			if err = once(&seen, 8); err == nil {
				r.Bytes, err = d.s.Int()
			}
		case "body_truncated":
			if err = once(&seen, 9); err == nil {
				r.Truncated, err = d.s.Bool()
			}
		default:
			err = errUnsure
		}
		return err
	})
}

func (d *recordDecoder) route(r *Route) error {
	var seen uint32
	return d.s.Object(func(key []byte) error {
		var dst *string
		var i uint
		switch string(key) {
		case "provider":
			dst, i = &r.Provider, 0
		case "dialect":
			dst, i = &r.Dialect, 1
		case "upstream_dialect":
			dst, i = &r.UpstreamDialect, 2
		case "model":
			dst, i = &r.Model, 3
		case "upstream_model":
			dst, i = &r.UpstreamModel, 4
		case "url":
			dst, i = &r.URL, 5
		case "proxy":
			dst, i = &r.Proxy, 6
		default:
			return errUnsure
		}
		if err := once(&seen, i); err != nil {
			return err
		}
		var err error
		*dst, err = d.s.String()
		return err
	})
}

func (d *recordDecoder) timings(t *Timings) error {
	var seen uint32
	return d.s.Object(func(key []byte) error {
		var dst *int64
		var i uint
		switch string(key) {
		case "request_read_ns":
			dst, i = &t.RequestRead, 0
		case "dns_start_ns":
			dst, i = &t.DNSStart, 1
		case "dns_done_ns":
			dst, i = &t.DNSDone, 2
		case "connect_start_ns":
			dst, i = &t.ConnectStart, 3
		case "connect_done_ns":
			dst, i = &t.ConnectDone, 4
		case "tls_start_ns":
			dst, i = &t.TLSStart, 5
		case "tls_done_ns":
			dst, i = &t.TLSDone, 6
		case "got_conn_ns":
			dst, i = &t.GotConn, 7
		case "wrote_request_ns":
			dst, i = &t.WroteRequest, 8
		case "first_byte_ns":
			dst, i = &t.FirstByte, 9
		case "conn_reused":
			if err := once(&seen, 10); err != nil {
				return err
			}
			var err error
			t.ConnReused, err = d.s.Bool()
			return err
		default:
			return errUnsure
		}
		if err := once(&seen, i); err != nil {
			return err
		}
		var err error
		*dst, err = d.s.Int()
		return err
	})
}

func (d *recordDecoder) response(r *Response) error {
	var seen uint32
	return d.s.Object(func(key []byte) error {
		var err error
		switch string(key) {
		case "status":
			if err = once(&seen, 0); err == nil {
				var v int64
				v, err = d.s.Int()
				r.Status = int(v)
			}
		case "headers":
			if err = once(&seen, 1); err == nil && !d.s.Null() {
				r.Headers, err = d.header()
			}
		case "chunks":
			if err = once(&seen, 2); err == nil && !d.s.Null() {
				err = d.chunks(r)
			}
		case "body_bytes":
			if err = once(&seen, 3); err == nil {
				r.Bytes, err = d.s.Int()
			}
		case "body_truncated":
			if err = once(&seen, 4); err == nil {
				r.Truncated, err = d.s.Bool()
			}
		default:
			err = errUnsure
		}
		return err
	})
}

// chunks decodes the chunk list with every chunk's text decoded into one
// buffer and turned into one string at the end, each chunk's D a slice of
// it: a stream has hundreds of chunks, and one allocation beats hundreds.
func (d *recordDecoder) chunks(r *Response) error {
	r.Chunks = make([]Chunk, 0, 64)
	var buf []byte
	var ends []int // end of each chunk's text in buf; -1: no "d"
	err := d.s.Array(func() error {
		var c Chunk
		var seen uint32
		end := -1
		err := d.s.Object(func(key []byte) error {
			var err error
			switch string(key) {
			case "t":
				if err = once(&seen, 0); err == nil {
					c.T, err = d.s.Int()
				}
			case "d":
				if err = once(&seen, 1); err == nil {
					buf, err = d.s.AppendString(buf)
					end = len(buf)
				}
			case "b":
				if err = once(&seen, 2); err == nil && !d.s.Null() {
					c.B, err = d.base64()
				}
			default:
				err = errUnsure
			}
			return err
		})
		r.Chunks = append(r.Chunks, c)
		ends = append(ends, end)
		return err
	})
	all := string(buf)
	start := 0
	for i, end := range ends {
		if end >= 0 {
			r.Chunks[i].D = all[start:end]
			start = end
		}
	}
	return err
}

func (d *recordDecoder) errorValue(e *Error) error {
	var seen uint32
	return d.s.Object(func(key []byte) error {
		var err error
		switch string(key) {
		case "kind":
			if err = once(&seen, 0); err == nil {
				e.Kind, err = d.s.String()
			}
		case "message":
			if err = once(&seen, 1); err == nil {
				e.Message, err = d.s.String()
			}
		case "at_ns":
			if err = once(&seen, 2); err == nil {
				e.AtNS, err = d.s.Int()
			}
		default:
			err = errUnsure
		}
		return err
	})
}

func (d *recordDecoder) header() (Header, error) {
	h := Header{}
	err := d.s.Object(func(key []byte) error {
		k := string(key)
		if _, dup := h[k]; dup || d.s.Peek() == 'n' {
			return errUnsure
		}
		v, err := d.strings()
		h[k] = v
		return err
	})
	return h, err
}

func (d *recordDecoder) strings() ([]string, error) {
	out := []string{}
	err := d.s.Array(func() error {
		v, err := d.s.String()
		out = append(out, v)
		return err
	})
	return out, err
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
