package wire

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Amazon Bedrock Runtime (docs.aws.amazon.com/bedrock/latest/APIReference),
// "bedrock" here, is reached at POST /model/{modelId}/…:
//   - invoke: the model's own request and answer; for Anthropic's models
//     the Messages API, with anthropic_version "bedrock-2023-05-31" and
//     the model in the path, not the body;
//   - invoke-with-response-stream: the same events as the model's own
//     stream, each the payload of one event-stream message:
//     {"bytes": base64 of the event's JSON};
//   - converse, converse-stream: Bedrock's one format for every model.
//
// Streams are application/vnd.amazon.eventstream: binary messages, each a
// prelude with its length, headers (:message-type event or exception,
// :event-type, :exception-type) and a payload, checked by CRC32. The
// framing is decoded by aws-sdk-go-v2's eventstream package.

// BedrockPrefix starts every Bedrock Runtime model path.
const BedrockPrefix = "/model/"

// EventStreamType is the content type of Bedrock's streams.
const EventStreamType = "application/vnd.amazon.eventstream"

// BedrockModel is the model id a Bedrock Runtime path names
// (/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke →
// us.anthropic.claude-haiku-4-5-20251001-v1:0), or "".
func BedrockModel(path string) string {
	rest, ok := strings.CutPrefix(path, BedrockPrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// WithBedrockModel is a Bedrock Runtime path with its model replaced.
func WithBedrockModel(path, model string) string {
	old := BedrockModel(path)
	if old == "" {
		return path
	}
	return BedrockPrefix + model + path[len(BedrockPrefix)+len(old):]
}

// IsBedrockStream reports whether path asks Bedrock for a streamed answer.
func IsBedrockStream(path string) bool {
	return strings.HasSuffix(path, "/invoke-with-response-stream") || strings.HasSuffix(path, "/converse-stream")
}

// bedrockUsage is Converse's usage (TokenUsage in the API reference).
// inputTokens counts what was neither read from nor written to the cache:
// the cache counts come on top of it (as anomalyco/opencode found against
// the API, PR 38427), and totalTokens adds them all.
type bedrockUsage struct {
	InputTokens           int64 `json:"inputTokens"`
	OutputTokens          int64 `json:"outputTokens"`
	TotalTokens           int64 `json:"totalTokens"`
	CacheReadInputTokens  int64 `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens"`
}

func (u *bedrockUsage) normalize() Usage {
	n := Usage{
		Prompt:     u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens,
		Completion: u.OutputTokens,
		Total:      u.TotalTokens,
		CachedRead: u.CacheReadInputTokens, CacheWrite: u.CacheWriteInputTokens,
		CacheWrite5m: u.CacheWriteInputTokens, // cachePoint's default TTL
	}
	if n.Total == 0 {
		n.Total = n.Prompt + n.Completion
	}
	return n
}

// maxEventMessage bounds one event-stream message: the eventstream
// package's own payload and header limits (16 MiB, 128 KiB) and the
// prelude and CRCs.
const maxEventMessage = 16<<20 + 128<<10 + 16

// EventStreamParser splits an event-stream body arriving in arbitrary
// chunks into events, as SSEParser does for server-sent events: each
// message is an Event (Name its :event-type) at the offset of the read
// that completed it; an exception message becomes an "error" event in
// Anthropic's error shape. The zero value is ready to use.
type EventStreamParser struct {
	dec     *eventstream.Decoder
	buf     []byte
	payload []byte
	broken  bool
}

// Feed parses chunk, read at offset t, calling emit for every message it
// completes (Event.Data is valid only during the call). After a message
// that fails its checks it returns false, and stays broken: nothing after
// it can be framed.
func (p *EventStreamParser) Feed(t int64, chunk []byte, emit func(Event)) bool {
	if p.broken {
		return false
	}
	if p.dec == nil {
		p.dec = eventstream.NewDecoder()
	}
	p.buf = append(p.buf, chunk...)
	used := 0
	defer func() { p.buf = append(p.buf[:0], p.buf[used:]...) }()
	for len(p.buf)-used >= 4 {
		n := int(binary.BigEndian.Uint32(p.buf[used:]))
		if n < 16 || n > maxEventMessage {
			p.broken = true
			return false
		}
		if len(p.buf)-used < n {
			break
		}
		msg, err := p.dec.Decode(bytes.NewReader(p.buf[used:used+n]), p.payload[:0])
		used += n
		if err != nil {
			p.broken = true
			return false
		}
		p.payload = msg.Payload
		emit(eventOf(msg, t))
	}
	return true
}

// Pending reports whether a message has begun and not ended.
func (p *EventStreamParser) Pending() bool { return len(p.buf) > 0 }

// ReadEventStream parses an event-stream body given as timed chunks, as
// ReadStream parses server-sent events. A message that fails its checks
// ends the reading: what follows cannot be framed.
func ReadEventStream(kind Kind, chunks iter.Seq2[int64, []byte]) *Stream {
	var r Reassembler
	switch kind {
	case KindBedrockInvoke:
		r = &bedrockInvokeStream{}
	case KindBedrockConverse:
		r = &converseStream{}
	default:
		return nil
	}
	var p EventStreamParser
	for t, data := range chunks {
		if !p.Feed(t, data, r.Event) {
			break
		}
	}
	return r.Finish()
}

// BedrockChunkEvent is the Messages event a Bedrock invoke stream's
// "chunk" event carries, or nil for any other event.
func BedrockChunkEvent(ev Event) []byte {
	var chunk struct {
		Bytes []byte `json:"bytes"` // base64 in the JSON: decoded by encoding/json
	}
	if ev.Name != "chunk" || json.Unmarshal(ev.Data, &chunk) != nil {
		return nil
	}
	return chunk.Bytes
}

// eventOf is an event-stream message as an Event.
func eventOf(msg eventstream.Message, t int64) Event {
	header := func(name string) string {
		if v := msg.Headers.Get(name); v != nil {
			return v.String()
		}
		return ""
	}
	if mt := header(":message-type"); mt == "exception" || mt == "error" {
		typ := cmp.Or(header(":exception-type"), header(":error-code"), "exception")
		var body struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(msg.Payload, &body)
		data, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": cmp.Or(body.Message, header(":error-message"))}})
		return Event{Name: "error", Data: data, T: t}
	}
	return Event{Name: header(":event-type"), Data: msg.Payload, T: t}
}

// bedrockInvokeStream reads invoke-with-response-stream for Anthropic's
// models: each chunk carries one Messages event, base64-encoded.
type bedrockInvokeStream struct {
	anthropic anthropicStream
}

func (b *bedrockInvokeStream) Event(ev Event) {
	if ev.Name == "error" {
		b.anthropic.Event(ev)
		return
	}
	if data := BedrockChunkEvent(ev); data != nil {
		b.anthropic.Event(Event{Data: data, T: ev.T})
	}
}

func (b *bedrockInvokeStream) Finish() *Stream { return b.anthropic.Finish() }

// BedrockChunk wraps one event of a model's own stream as
// invoke-with-response-stream sends it: the payload of a "chunk" message.
func BedrockChunk(event []byte) ([]byte, error) {
	var buf bytes.Buffer
	payload, _ := json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString(event)})
	err := EncodeEvent(&buf, "chunk", payload)
	return buf.Bytes(), err
}

// EncodeEvent writes one event-stream event message.
func EncodeEvent(w io.Writer, eventType string, payload []byte) error {
	var h eventstream.Headers
	h.Set(":event-type", eventstream.StringValue(eventType))
	h.Set(":content-type", eventstream.StringValue("application/json"))
	h.Set(":message-type", eventstream.StringValue("event"))
	return eventstream.NewEncoder().Encode(w, eventstream.Message{Headers: h, Payload: payload})
}

// converseStream reassembles converse-stream into the answer converse
// would have returned: output.message with its content blocks, stopReason,
// usage and metrics (from the metadata event that follows messageStop).
type converseStream struct {
	s      Stream
	role   string
	blocks map[int]*converseBlock
	stop   string
	usage  json.RawMessage
	mets   json.RawMessage
}

type converseBlock struct {
	toolUse   map[string]any // from contentBlockStart
	text      strings.Builder
	input     strings.Builder // toolUse input, streamed as JSON text
	reasoning strings.Builder
	signature string
}

func (c *converseStream) block(i int) *converseBlock {
	if c.blocks == nil {
		c.blocks = map[int]*converseBlock{}
	}
	b := c.blocks[i]
	if b == nil {
		b = &converseBlock{}
		c.blocks[i] = b
	}
	return b
}

func (c *converseStream) Event(ev Event) {
	var e struct {
		Role       string `json:"role"`
		Index      int    `json:"contentBlockIndex"`
		StopReason string `json:"stopReason"`
		Start      struct {
			ToolUse map[string]any `json:"toolUse"`
		} `json:"start"`
		Delta struct {
			Text    *string `json:"text"`
			ToolUse *struct {
				Input string `json:"input"`
			} `json:"toolUse"`
			Reasoning *struct {
				Text      string `json:"text"`
				Signature string `json:"signature"`
			} `json:"reasoningContent"`
		} `json:"delta"`
		Usage   *bedrockUsage   `json:"usage"`
		Metrics json.RawMessage `json:"metrics"`
	}
	if ev.Name == "error" {
		c.s.Error = append(json.RawMessage(nil), ev.Data...)
		return
	}
	if json.Unmarshal(ev.Data, &e) != nil {
		return
	}
	switch ev.Name {
	case "messageStart":
		c.role = e.Role
	case "contentBlockStart":
		if e.Start.ToolUse != nil {
			c.block(e.Index).toolUse = e.Start.ToolUse
			c.s.content(ev.T) // the tool's name is generated output
		}
	case "contentBlockDelta":
		b := c.block(e.Index)
		generated := false
		switch d := e.Delta; {
		case d.Text != nil:
			b.text.WriteString(*d.Text)
			generated = *d.Text != ""
		case d.ToolUse != nil:
			b.input.WriteString(d.ToolUse.Input)
			generated = d.ToolUse.Input != ""
		case d.Reasoning != nil:
			b.reasoning.WriteString(d.Reasoning.Text)
			if d.Reasoning.Signature != "" {
				b.signature = d.Reasoning.Signature
			}
			generated = d.Reasoning.Text != ""
		}
		if generated {
			c.s.content(ev.T)
		}
	case "messageStop":
		c.stop, c.s.FinishReason, c.s.Done = e.StopReason, e.StopReason, true
	case "metadata":
		if e.Usage != nil {
			c.s.Usage, c.s.HasUsage = e.Usage.normalize(), true
			c.usage, _ = json.Marshal(e.Usage)
		}
		c.mets = append(json.RawMessage(nil), e.Metrics...)
	}
}

func (c *converseStream) Finish() *Stream {
	if c.role == "" && c.blocks == nil {
		return &c.s
	}
	content := make([]any, 0, len(c.blocks))
	for _, i := range slices.Sorted(maps.Keys(c.blocks)) {
		b := c.blocks[i]
		switch {
		case b.toolUse != nil:
			tu := maps.Clone(b.toolUse)
			setToolInput(tu, b.input.String())
			content = append(content, map[string]any{"toolUse": tu})
		case b.reasoning.Len() > 0 || b.signature != "":
			content = append(content, map[string]any{"reasoningContent": map[string]any{
				"reasoningText": map[string]any{"text": b.reasoning.String(), "signature": b.signature}}})
		default:
			content = append(content, map[string]any{"text": b.text.String()})
		}
	}
	resp := map[string]any{"output": map[string]any{"message": map[string]any{"role": c.role, "content": content}}}
	if c.stop != "" {
		resp["stopReason"] = c.stop
	}
	if c.usage != nil {
		resp["usage"] = c.usage
	}
	if len(c.mets) > 0 {
		resp["metrics"] = c.mets
	}
	c.s.Response, _ = json.Marshal(resp)
	return &c.s
}
