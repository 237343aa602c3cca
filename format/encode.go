package format

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/lessllm/lessllm/format/internal/jsonenc"
)

// AppendJSON appends the exchange as one NDJSON line (with the trailing
// newline) to dst.
//
// It is a hand-written encoder because it runs for every captured exchange:
// encoding/json spends most of its time on reflection, sorting map keys and
// escaping rune by rune, and a 300-chunk stream is 300 strings full of
// quotes. The output is byte for byte what encoding/json produces for the
// same value with HTML escaping off (struct fields in declaration order,
// omitempty honoured, map keys sorted) — a test holds it to that — so
// DecodeExchange, jq and DuckDB read it as any other JSON.
//
// Body.JSON must be valid JSON (it is written compacted, as encoding/json
// writes a RawMessage); anything else is an error.
func AppendJSON(dst []byte, ex *Exchange) ([]byte, error) {
	start := len(dst)
	e := encoder{b: dst}
	e.exchange(ex)
	if e.err != nil {
		return dst[:start], e.err
	}
	return append(e.b, '\n'), nil
}

var errBadBodyJSON = errors.New("format: Body.JSON is not valid JSON")

type encoder struct {
	b     []byte
	err   error
	comma bool // a field was written in the current object
}

func (e *encoder) open()  { e.b = append(e.b, '{'); e.comma = false }
func (e *encoder) close() { e.b = append(e.b, '}'); e.comma = true }

func (e *encoder) key(k string) {
	if e.comma {
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
	e.comma = true
}

func (e *encoder) str(k, v string) {
	e.key(k)
	e.b = jsonenc.AppendString(e.b, v, false)
}

func (e *encoder) strOmit(k, v string) {
	if v != "" {
		e.str(k, v)
	}
}

func (e *encoder) int(k string, v int64) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, v, 10)
}

func (e *encoder) intOmit(k string, v int64) {
	if v != 0 {
		e.int(k, v)
	}
}

func (e *encoder) boolOmit(k string, v bool) {
	if v {
		e.key(k)
		e.b = append(e.b, "true"...)
	}
}

func (e *encoder) exchange(x *Exchange) {
	e.open()
	e.int("v", int64(x.V))
	e.str("id", x.ID)
	e.str("node", x.Node)
	e.int("start_ns", x.StartNS)
	e.key("request")
	e.request(&x.Request)
	if x.Upstream != nil {
		e.key("upstream_request")
		e.request(x.Upstream)
	}
	if r := x.Route; r != nil {
		e.key("route")
		e.open()
		e.str("provider", r.Provider)
		e.str("dialect", r.Dialect)
		e.strOmit("upstream_dialect", r.UpstreamDialect)
		e.strOmit("model", r.Model)
		e.strOmit("upstream_model", r.UpstreamModel)
		e.str("url", r.URL)
		e.str("proxy", r.Proxy)
		if len(r.FailedRoutes) > 0 {
			e.key("failed_routes")
			e.strings(r.FailedRoutes)
		}
		e.close()
	}
	t := &x.Timings
	e.key("timings")
	e.open()
	e.intOmit("request_read_ns", t.RequestRead)
	e.intOmit("dns_start_ns", t.DNSStart)
	e.intOmit("dns_done_ns", t.DNSDone)
	e.intOmit("connect_start_ns", t.ConnectStart)
	e.intOmit("connect_done_ns", t.ConnectDone)
	e.intOmit("tls_start_ns", t.TLSStart)
	e.intOmit("tls_done_ns", t.TLSDone)
	e.intOmit("got_conn_ns", t.GotConn)
	e.boolOmit("conn_reused", t.ConnReused)
	e.intOmit("wrote_request_ns", t.WroteRequest)
	e.intOmit("first_byte_ns", t.FirstByte)
	e.intOmit("proxy_handshake_ns", t.ProxyHandshake)
	e.close()
	if r := x.Response; r != nil {
		e.key("response")
		e.open()
		e.int("status", int64(r.Status))
		e.header(r.Headers)
		e.key("chunks")
		if r.Chunks == nil {
			e.b = append(e.b, "null"...)
		} else {
			e.b = append(e.b, '[')
			for i, c := range r.Chunks {
				if i > 0 {
					e.b = append(e.b, ',')
				}
				e.open()
				e.int("t", c.T)
				e.strOmit("d", c.D)
				if len(c.B) > 0 {
					e.key("b")
					e.b = appendBase64(e.b, c.B)
				}
				e.close()
			}
			e.b = append(e.b, ']')
		}
		e.int("body_bytes", r.Bytes)
		e.boolOmit("body_truncated", r.Truncated)
		e.close()
	}
	e.int("end_ns", x.EndNS)
	if x.Error != nil {
		e.key("error")
		e.open()
		e.str("kind", x.Error.Kind)
		e.str("message", x.Error.Message)
		e.int("at_ns", x.Error.AtNS)
		e.close()
	}
	if len(x.Warnings) > 0 {
		e.key("warnings")
		e.strings(x.Warnings)
	}
	e.close()
}

// strings writes a JSON array of strings.
func (e *encoder) strings(list []string) {
	e.b = append(e.b, '[')
	for i, w := range list {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = jsonenc.AppendString(e.b, w, false)
	}
	e.b = append(e.b, ']')
}

func (e *encoder) request(r *Request) {
	e.open()
	e.str("method", r.Method)
	e.str("path", r.Path)
	e.strOmit("query", r.Query)
	e.strOmit("url", r.URL)
	e.header(r.Headers)
	if len(r.JSON) > 0 {
		// Compacted, as encoding/json writes a RawMessage: SetBody's bodies
		// are already (and come out the same), a body decoded from another
		// writer's record may not be, and no raw newline may break the line.
		e.key("body")
		buf := bytes.NewBuffer(e.b)
		if json.Compact(buf, r.JSON) != nil {
			e.err = errBadBodyJSON
		}
		e.b = buf.Bytes()
	}
	e.strOmit("body_text", r.Text)
	if len(r.Binary) > 0 {
		e.key("body_base64")
		e.b = appendBase64(e.b, r.Binary)
	}
	e.int("body_bytes", r.Bytes)
	e.boolOmit("body_truncated", r.Truncated)
	e.close()
}

// header writes a header map with sorted keys, omitted when empty.
func (e *encoder) header(h Header) {
	if len(h) == 0 {
		return
	}
	e.key("headers")
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.b = append(e.b, '{')
	for i, k := range keys {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = jsonenc.AppendString(e.b, k, false)
		e.b = append(e.b, ':')
		vs := h[k]
		if vs == nil {
			e.b = append(e.b, "null"...)
			continue
		}
		e.b = append(e.b, '[')
		for j, v := range vs {
			if j > 0 {
				e.b = append(e.b, ',')
			}
			e.b = jsonenc.AppendString(e.b, v, false)
		}
		e.b = append(e.b, ']')
	}
	e.b = append(e.b, '}')
}

func appendBase64(b []byte, p []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, p)
	return append(b, '"')
}
