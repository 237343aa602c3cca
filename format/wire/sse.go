// Package wire holds the LLM APIs' wire formats that capture and analyze
// share (ARCHITECTURE.md §2): server-sent-event and AWS event-stream
// framing, the streamed events of OpenAI Chat Completions, OpenAI
// Responses, Anthropic Messages, Gemini's generateContent and Bedrock's
// invoke and converse, their usage blocks, and the reassembly of a stream
// into the response the non-streamed API would have returned, and the HTTP
// content codings (gzip, deflate, br, zstd) the bodies travel in. One
// parser per format, used by both sides. Like format/, it depends on the
// standard library and pure-Go modules only: compression, and AWS's
// event-stream codec.
package wire

import "bytes"

// Event is one server-sent event (WHATWG HTML §9.2, "server-sent events").
type Event struct {
	Name string // the "event:" field; "" means "message"
	Data []byte // "data:" lines joined with "\n"
	ID   string
	// T is the offset (ns, as in format.Chunk.T) of the read that completed
	// the event: when the client could first have seen it whole.
	T int64
}

// SSEParser splits a byte stream arriving in arbitrary chunks into events.
// It follows the specification's line rules: lines end in CRLF, LF or CR;
// a blank line dispatches the event; lines starting with ':' are comments;
// "data" lines accumulate; a field name without a colon has an empty value;
// one space after the colon is dropped. The zero value is ready to use.
type SSEParser struct {
	line     []byte // partial line carried over between chunks
	lastCR   bool   // the previous chunk ended in CR: a following LF is part of that line end
	name     string
	lastName string // the previous event's name, reused when it repeats
	id       string
	data     []byte
	hasData  bool
}

// Feed parses chunk, read at offset t, calling emit for every event it
// completes. Event.Data is only valid during the call.
func (p *SSEParser) Feed(t int64, chunk []byte, emit func(Event)) {
	if name, data, ok := p.wholeEvent(chunk); ok {
		emit(Event{Name: name, Data: data, ID: p.id, T: t})
		return
	}
	for len(chunk) > 0 {
		if p.lastCR {
			p.lastCR = false
			if chunk[0] == '\n' {
				chunk = chunk[1:]
				continue
			}
		}
		i := lineEnd(chunk)
		if i < 0 {
			p.line = append(p.line, chunk...)
			return
		}
		var line []byte
		if len(p.line) > 0 {
			p.line = append(p.line, chunk[:i]...)
			line = p.line
		} else {
			line = chunk[:i]
		}
		if chunk[i] == '\r' {
			if i+1 < len(chunk) {
				if chunk[i+1] == '\n' {
					i++
				}
			} else {
				p.lastCR = true
			}
		}
		chunk = chunk[i+1:]
		p.processLine(t, line, emit)
		p.line = p.line[:0]
	}
}

// wholeEvent recognises the read almost every chunk of an LLM stream is:
// one whole event of a single data line, "data: <payload>\n\n", after at
// most one "event: <name>\n" line (Anthropic names every event), with
// nothing of an earlier event pending. Its name and payload are then what
// the line rules would give, and the payload is handed on without being
// copied.
func (p *SSEParser) wholeEvent(chunk []byte) (name string, data []byte, ok bool) {
	if p.lastCR || len(p.line) > 0 || p.hasData || p.name != "" {
		return "", nil, false
	}
	// A "data:" read, the commonest (Chat Completions sends only those), is
	// told apart first: testing for "event:" first cost it 2–3 ns.
	if len(chunk) >= 6 && string(chunk[:5]) != "data:" && string(chunk[:6]) == "event:" {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			return "", nil, false
		}
		v := chunk[len("event:"):i]
		if len(v) > 0 && v[0] == ' ' {
			v = v[1:]
		}
		if bytes.IndexByte(v, '\r') >= 0 {
			return "", nil, false
		}
		name, chunk = p.eventName(v), chunk[i+1:]
	}
	n := len(chunk)
	if n < len("data:\n\n") || string(chunk[:5]) != "data:" || chunk[n-2] != '\n' || chunk[n-1] != '\n' {
		return "", nil, false
	}
	data = chunk[5 : n-2]
	if len(data) > 0 && data[0] == ' ' {
		data = data[1:]
	}
	if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		return "", nil, false
	}
	return name, data, true
}

// lineEnd is the index of the first CR or LF in b, or -1. LF is searched
// first and CR only before it: two vectorised scans beat bytes.IndexAny's
// byte-set loop, and CR is rare.
func lineEnd(b []byte) int {
	n := bytes.IndexByte(b, '\n')
	upTo := b
	if n >= 0 {
		upTo = b[:n]
	}
	if r := bytes.IndexByte(upTo, '\r'); r >= 0 {
		return r
	}
	return n
}

func (p *SSEParser) processLine(t int64, line []byte, emit func(Event)) {
	if len(line) == 0 {
		if p.hasData {
			emit(Event{Name: p.name, Data: p.data, ID: p.id, T: t})
		}
		p.name, p.data, p.hasData = "", p.data[:0], false
		return
	}
	if line[0] == ':' {
		return
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if p.hasData {
			p.data = append(p.data, '\n')
		}
		p.data = append(p.data, value...)
		p.hasData = true
	case "event":
		p.name = p.eventName(value)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.id = string(value)
		}
	}
}

// eventName is name as a string. A stream repeats a few names
// (content_block_delta …): the last one is kept, and Anthropic's are
// constants, so that a name costs no allocation — a stream's first delta's
// neither.
func (p *SSEParser) eventName(name []byte) string {
	if string(name) != p.lastName {
		p.lastName = knownEventName(name)
	}
	return p.lastName
}

// knownEventName is name as a string, one of the constants for the event
// names of Anthropic's Messages stream.
func knownEventName(name []byte) string {
	switch string(name) {
	case "message_start":
		return "message_start"
	case "content_block_start":
		return "content_block_start"
	case "content_block_delta":
		return "content_block_delta"
	case "content_block_stop":
		return "content_block_stop"
	case "message_delta":
		return "message_delta"
	case "message_stop":
		return "message_stop"
	case "ping":
		return "ping"
	case "error":
		return "error"
	}
	return string(name)
}

// Pending reports whether bytes of an unfinished event are buffered: at the
// end of a body, that means the stream was cut mid-event (the specification
// discards such an event).
func (p *SSEParser) Pending() bool { return len(p.line) > 0 || p.hasData }

// Buffered is how many bytes of an unfinished event the parser holds: a
// caller reading an untrusted stream bounds it.
func (p *SSEParser) Buffered() int { return len(p.line) + len(p.data) }
