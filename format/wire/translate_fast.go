package wire

import (
	"strconv"
	"strings"

	"github.com/lessllm/lessllm/format/internal/jsonenc"
	"github.com/lessllm/lessllm/format/internal/jsonscan"
)

// The fast ways of translations on the proxy's path: the two non-streamed
// translations of the translating alias (an OpenAI client, an Anthropic
// upstream), and the text chunks of an OpenAI-compatible stream going to
// an Anthropic client. They read by the bytes with jsonscan and write by
// appending with jsonenc, instead of through encoding/json's reflection and
// maps (BENCHMARKS.md §1: the two non-streamed translations were a fifth of
// capture's CPU on that path, mostly encoding/json decoding). Each covers
// the commonest shape and reports false, having decided nothing, for any
// other, which the general way then translates; where they succeed their
// bytes are the general way's (FuzzOpenAIChatToAnthropicFast,
// FuzzAnthropicToOpenAIChatFast, FuzzOpenAIToAnthropicFast), as in
// fastchat.go. (The other stream direction's is fastDelta in
// anthropic_to_openai.go.)

// openAIChatToAnthropicFast translates a Chat Completions request of text
// messages (system, developer, user, assistant) with the parameters every
// SDK sends. It declines every request for which the general way would
// warn or refuse (an unknown key, a temperature above 1, n > 1) and every
// shape it does not read: tools, tool calls, images, stop sequences,
// reasoning effort, a duplicate key, content that is not a string.
func openAIChatToAnthropicFast(body []byte, model string) ([]byte, bool) {
	var (
		s                      jsonscan.Scanner
		seen                   jsonscan.Fields
		messages               []byte
		maxTokens, maxComplete optionalInt
		temperature, topP      optionalFloat
		stream                 bool
		user                   []byte
	)
	s.Reset(body)
	it := s.Object()
	for it.Next() {
		ok := false
		switch string(it.Key()) {
		case "model": // the alias's upstream model replaces it
			ok = seen.Once(0) == nil && stringOrNull(&s, nil)
		case "messages":
			if ok = seen.Once(1) == nil && s.Peek() == '['; ok {
				var err error
				messages, err = s.Raw()
				ok = err == nil
			}
		case "max_tokens":
			ok = seen.Once(2) == nil && maxTokens.read(&s)
		case "max_completion_tokens":
			ok = seen.Once(3) == nil && maxComplete.read(&s)
		case "temperature":
			// Above 1 the general way clamps it, with a warning.
			ok = seen.Once(4) == nil && temperature.read(&s) && (!temperature.set || temperature.v <= 1)
		case "top_p":
			ok = seen.Once(5) == nil && topP.read(&s)
		case "stream":
			if ok = seen.Once(6) == nil; ok && !s.Null() {
				var err error
				stream, err = s.Bool()
				ok = err == nil
			}
		case "stream_options": // answered by the stream translation itself
			ok = seen.Once(7) == nil && s.Skip() == nil
		case "user":
			ok = seen.Once(8) == nil && stringOrNull(&s, &user)
		case "n":
			var n optionalInt
			ok = seen.Once(9) == nil && n.read(&s) && (!n.set || n.v <= 1)
		case "stop", "tools", "tool_choice", "reasoning_effort", "parallel_tool_calls":
			ok = s.Null() // absent, in effect; any value is the general way's
		}
		if !ok {
			return nil, false
		}
	}
	if it.Err() != nil || s.End() != nil {
		return nil, false
	}

	out := make([]byte, 0, len(body)+len(model)+64)
	out = append(out, `{"max_tokens":`...)
	switch {
	case maxComplete.set:
		out = strconv.AppendInt(out, maxComplete.v, 10)
	case maxTokens.set:
		out = strconv.AppendInt(out, maxTokens.v, 10)
	default:
		out = strconv.AppendInt(out, DefaultAnthropicMaxTokens, 10)
	}
	out = append(out, `,"messages":`...)
	out, system, ok := appendAnthropicTurns(out, messages)
	if !ok {
		return nil, false
	}
	// The remaining keys in the order json.Marshal writes a map's.
	if len(user) > 0 {
		out = append(out, `,"metadata":{"user_id":`...)
		out = append(jsonenc.AppendString(out, user, true), '}')
	}
	out = append(out, `,"model":`...)
	out = jsonenc.AppendString(out, model, true)
	if stream {
		out = append(out, `,"stream":true`...)
	}
	if len(system) > 0 {
		out = append(out, `,"system":`...)
		out = jsonenc.AppendString(out, system, true)
	}
	if temperature.set {
		out = append(out, `,"temperature":`...)
		out, _ = jsonenc.AppendFloat(out, temperature.v)
	}
	if topP.set {
		out = append(out, `,"top_p":`...)
		out, _ = jsonenc.AppendFloat(out, topP.v)
	}
	return append(out, '}'), true
}

// appendAnthropicTurns appends the messages array (raw, as the request has
// it; nil for none) as Anthropic turns, as translateMessages does for text:
// system and developer messages joined into the system prompt, consecutive
// turns of one role merged, empty texts left out.
func appendAnthropicTurns(out, messages []byte) (_, system []byte, ok bool) {
	out = append(out, '[')
	turn := "" // the role of the open turn
	systems := 0
	var s jsonscan.Scanner
	s.Reset(messages)
	var text []byte
	arr := s.Array()
	for len(messages) > 0 && arr.Next() {
		var (
			seen       jsonscan.Fields
			role       []byte
			hasContent bool
		)
		text = text[:0]
		if s.Peek() != '{' {
			return nil, nil, false
		}
		msg := s.Object()
		for msg.Next() {
			ok := false
			switch string(msg.Key()) {
			case "role":
				ok = seen.Once(0) == nil && s.Peek() == '"'
				role, _ = s.PlainString()
				ok = ok && role != nil
			case "content":
				var err error
				text, err = s.AppendString(text[:0])
				ok = seen.Once(1) == nil && err == nil
				hasContent = true
			case "name": // read by the general way, and not translated
				ok = seen.Once(2) == nil && stringOrNull(&s, nil)
			default: // ignored by encoding/json, unless it folds onto a field
				ok = s.Unknown(msg.Key(), "role", "content", "name", "tool_calls", "tool_call_id") == nil
			}
			if !ok {
				return nil, nil, false
			}
		}
		if msg.Err() != nil || !hasContent {
			return nil, nil, false
		}
		switch r := string(role); r {
		case "system", "developer":
			if systems > 0 {
				system = append(system, "\n\n"...)
			}
			system = append(system, text...)
			systems++
		case "user", "assistant":
			if len(text) == 0 {
				continue
			}
			if r == turn {
				out = append(out, ',')
			} else {
				if turn != "" {
					out = closeTurn(out, turn)
					out = append(out, ',')
				}
				out = append(out, `{"content":[`...)
				turn = r
			}
			out = append(out, `{"text":`...)
			out = jsonenc.AppendString(out, text, true)
			out = append(out, `,"type":"text"}`...)
		default:
			return nil, nil, false
		}
	}
	if len(messages) > 0 && (arr.Err() != nil || s.End() != nil) {
		return nil, nil, false
	}
	if turn != "" {
		out = closeTurn(out, turn)
	}
	return append(out, ']'), system, true
}

func closeTurn(out []byte, role string) []byte {
	out = append(out, `],"role":"`...)
	return append(append(out, role...), `"}`...)
}

// optionalInt is a *int64 field of encoding/json: null leaves it unset.
type optionalInt struct {
	v   int64
	set bool
}

func (o *optionalInt) read(s *jsonscan.Scanner) bool {
	if s.Null() {
		return true
	}
	v, err := s.Int()
	o.v, o.set = v, err == nil
	return err == nil
}

// optionalFloat is a *float64 field of encoding/json: null leaves it
// unset; a number is parsed as encoding/json parses it.
type optionalFloat struct {
	v   float64
	set bool
}

func (o *optionalFloat) read(s *jsonscan.Scanner) bool {
	if s.Null() {
		return true
	}
	if c := s.Peek(); c != '-' && (c < '0' || c > '9') {
		return false
	}
	raw, err := s.Raw()
	if err != nil {
		return false
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	o.v, o.set = v, err == nil
	return err == nil
}

// stringOrNull reads a string field (into dst, when not nil) or a null.
func stringOrNull(s *jsonscan.Scanner, dst *[]byte) bool {
	if s.Null() {
		return true
	}
	if s.Peek() != '"' {
		return false
	}
	var err error
	if dst == nil {
		err = s.Skip()
	} else {
		*dst, err = s.AppendString((*dst)[:0])
	}
	return err == nil
}

// anthropicToOpenAIChatFast translates a non-streamed Messages response
// whose blocks are text, thinking and tool calls, as AnthropicToOpenAIChat
// does. It declines any field of an unexpected type, a duplicate key, and a
// block that is not an object (which the general way skips).
func anthropicToOpenAIChatFast(body []byte, clientModel string, created int64) ([]byte, bool) {
	var (
		s               jsonscan.Scanner
		seen            jsonscan.Fields
		id, stop        []byte
		text, reasoning []byte
		calls           []fastToolCall
		usage           fastUsage
	)
	s.Reset(body)
	it := s.Object()
	for it.Next() {
		ok := false
		switch string(it.Key()) {
		case "id":
			ok = seen.Once(0) == nil && stringOrNull(&s, &id)
		case "model":
			ok = seen.Once(1) == nil && stringOrNull(&s, nil)
		case "stop_reason":
			ok = seen.Once(2) == nil && stringOrNull(&s, &stop)
		case "content":
			ok = seen.Once(3) == nil
			if ok && !s.Null() {
				if s.Peek() != '[' {
					return nil, false
				}
				blocks := s.Array()
				for ok && blocks.Next() {
					var b fastBlock
					if ok = b.read(&s); !ok {
						break
					}
					switch string(b.typ) {
					case "text":
						text = append(text, b.text...)
					case "thinking":
						reasoning = append(reasoning, b.thinking...)
					case "tool_use":
						calls = append(calls, fastToolCall{id: b.id, name: b.name, args: b.input})
					}
				}
				ok = ok && blocks.Err() == nil
			}
		case "usage":
			ok = seen.Once(4) == nil && usage.read(&s)
		default:
			ok = s.Unknown(it.Key(), "id", "model", "stop_reason", "content", "usage") == nil
		}
		if !ok {
			return nil, false
		}
	}
	if it.Err() != nil || s.End() != nil {
		return nil, false
	}

	// The bytes json.Marshal writes for the chatCompletion the general way
	// builds (its fields in that struct's order).
	out := make([]byte, 0, 256+len(text)+len(reasoning)+len(clientModel))
	out = append(out, `{"choices":[{"finish_reason":`...)
	out = jsonenc.AppendString(out, finishReason(string(stop)), true)
	out = append(out, `,"index":0,"logprobs":null,"message":{"content":`...)
	if len(text) > 0 || len(calls) == 0 {
		out = jsonenc.AppendString(out, text, true)
	} else {
		out = append(out, "null"...)
	}
	if len(reasoning) > 0 {
		out = append(out, `,"reasoning_content":`...)
		out = jsonenc.AppendString(out, reasoning, true)
	}
	out = append(out, `,"refusal":null,"role":"assistant"`...)
	if len(calls) > 0 {
		out = append(out, `,"tool_calls":[`...)
		for i, c := range calls {
			if i > 0 {
				out = append(out, ',')
			}
			args := c.args
			if len(args) == 0 {
				args = []byte("{}")
			}
			out = append(out, `{"function":{"arguments":`...)
			out = jsonenc.AppendString(out, args, true)
			out = append(out, `,"name":`...)
			out = jsonenc.AppendString(out, c.name, true)
			out = append(out, `},"id":`...)
			out = jsonenc.AppendString(out, c.id, true)
			out = append(out, `,"type":"function"}`...)
		}
		out = append(out, ']')
	}
	out = append(out, `}}],"created":`...)
	out = strconv.AppendInt(out, created, 10)
	out = append(out, `,"id":`...)
	out = jsonenc.AppendString(out, "chatcmpl-"+strings.TrimPrefix(string(id), "msg_"), true)
	out = append(out, `,"model":`...)
	out = jsonenc.AppendString(out, clientModel, true)
	out = append(out, `,"object":"chat.completion"`...)
	if usage.present {
		u := usage.anthropicUsage().normalize().openAIChat()
		out = append(out, `,"usage":{"completion_tokens":`...)
		out = strconv.AppendInt(out, u.Completion, 10)
		out = append(out, `,"completion_tokens_details":{"reasoning_tokens":`...)
		out = strconv.AppendInt(out, u.CompletionDetails.Reasoning, 10)
		out = append(out, `},"prompt_tokens":`...)
		out = strconv.AppendInt(out, u.Prompt, 10)
		out = append(out, `,"prompt_tokens_details":{"cached_tokens":`...)
		out = strconv.AppendInt(out, u.PromptDetails.CachedRead, 10)
		out = append(out, `},"total_tokens":`...)
		out = strconv.AppendInt(out, u.Total, 10)
		out = append(out, '}')
	}
	return append(out, '}'), true
}

type fastToolCall struct{ id, name, args []byte }

// fastBlock is one content block of a Messages response, as the general
// way's block struct reads it.
type fastBlock struct {
	typ, text, thinking, id, name, input []byte
}

func (b *fastBlock) read(s *jsonscan.Scanner) bool {
	if s.Peek() != '{' {
		return false
	}
	var seen jsonscan.Fields
	it := s.Object()
	for it.Next() {
		ok := false
		switch string(it.Key()) {
		case "type":
			ok = seen.Once(0) == nil && stringOrNull(s, &b.typ)
		case "text":
			ok = seen.Once(1) == nil && stringOrNull(s, &b.text)
		case "thinking":
			ok = seen.Once(2) == nil && stringOrNull(s, &b.thinking)
		case "id":
			ok = seen.Once(3) == nil && stringOrNull(s, &b.id)
		case "name":
			ok = seen.Once(4) == nil && stringOrNull(s, &b.name)
		case "input": // kept as its bytes, as json.RawMessage keeps it
			var err error
			b.input, err = s.Raw()
			ok = seen.Once(5) == nil && err == nil
		default:
			ok = s.Unknown(it.Key(), "type", "text", "thinking", "id", "name", "input") == nil
		}
		if !ok {
			return false
		}
	}
	return it.Err() == nil
}

// fastUsage is the usage block of a Messages response, read into values
// and turned into the general way's anthropicUsage for its arithmetic.
type fastUsage struct {
	present                 bool
	counts                  [4]optionalInt // input, output, cache write, cache read
	cacheCreation           bool
	ephemeral5m, ephemeral1 optionalInt
}

func (u *fastUsage) read(s *jsonscan.Scanner) bool {
	if s.Null() {
		return true
	}
	if s.Peek() != '{' {
		return false
	}
	u.present = true
	var seen jsonscan.Fields
	it := s.Object()
	for it.Next() {
		ok := false
		switch string(it.Key()) {
		case "input_tokens":
			ok = seen.Once(0) == nil && u.counts[0].read(s)
		case "output_tokens":
			ok = seen.Once(1) == nil && u.counts[1].read(s)
		case "cache_creation_input_tokens":
			ok = seen.Once(2) == nil && u.counts[2].read(s)
		case "cache_read_input_tokens":
			ok = seen.Once(3) == nil && u.counts[3].read(s)
		case "cache_creation":
			ok = seen.Once(4) == nil && u.readCacheCreation(s)
		default:
			ok = s.Unknown(it.Key(), "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation") == nil
		}
		if !ok {
			return false
		}
	}
	return it.Err() == nil
}

func (u *fastUsage) readCacheCreation(s *jsonscan.Scanner) bool {
	if s.Null() {
		return true
	}
	if s.Peek() != '{' {
		return false
	}
	u.cacheCreation = true
	var seen jsonscan.Fields
	it := s.Object()
	for it.Next() {
		ok := false
		switch string(it.Key()) {
		case "ephemeral_5m_input_tokens":
			ok = seen.Once(0) == nil && u.ephemeral5m.read(s)
		case "ephemeral_1h_input_tokens":
			ok = seen.Once(1) == nil && u.ephemeral1.read(s)
		default:
			ok = s.Unknown(it.Key(), "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens") == nil
		}
		if !ok {
			return false
		}
	}
	return it.Err() == nil
}

func (u *fastUsage) anthropicUsage() *anthropicUsage {
	var a anthropicUsage
	for i, p := range []**int64{&a.InputTokens, &a.OutputTokens, &a.CacheCreationInputTokens, &a.CacheReadInputTokens} {
		if c := u.counts[i]; c.set {
			*p = &c.v
		}
	}
	if u.cacheCreation {
		a.CacheCreation = &anthropicCacheCreation{Ephemeral5m: u.ephemeral5m.v, Ephemeral1h: u.ephemeral1.v}
	}
	return &a
}

// fastDelta translates the commonest event of an OpenAI-compatible stream
// to an Anthropic client — a chunk whose one choice adds text to the open
// text block — by its bytes, into the content_block_delta the general way
// writes. It reports false, having emitted nothing, for any other event,
// state or shape: the first chunk, a role, tool calls, reasoning, a finish
// reason, usage, an error, a choice other than 0
// (FuzzOpenAIToAnthropicFast).
func (t *OpenAIToAnthropicStream) fastDelta(data []byte, emit func([]byte)) bool {
	if !t.started || t.open < 0 || t.openTool >= 0 {
		return false
	}
	var s jsonscan.Scanner
	s.Reset(data)
	var seen jsonscan.Fields
	text, chose := t.text[:0], false
	it := s.Object()
	for it.Next() {
		ok := false
		switch string(it.Key()) {
		case "id", "object", "model", "system_fingerprint":
			ok = stringOrNull(&s, nil)
		case "created":
			_, err := s.Int()
			ok = seen.Once(0) == nil && err == nil
		case "usage":
			ok = seen.Once(1) == nil && s.Null()
		case "choices":
			ok = seen.Once(2) == nil && s.Peek() == '['
			arr := s.Array()
			for ok && arr.Next() {
				if chose { // one choice only
					return false
				}
				text, ok = fastChoiceText(&s, text)
				chose = true
			}
			ok = ok && arr.Err() == nil
		default: // service_tier, obfuscation …: ignored, unless they fold onto a field
			ok = s.Unknown(it.Key(), "id", "object", "created", "model", "system_fingerprint", "usage", "error", "choices") == nil
		}
		if !ok {
			return false
		}
	}
	if it.Err() != nil || s.End() != nil || !chose || len(text) == 0 {
		return false
	}
	t.text = text
	b := append(t.buf[:0], "event: content_block_delta\ndata: {\"delta\":{\"text\":"...)
	b = jsonenc.AppendString(b, text, true)
	b = append(b, `,"type":"text_delta"},"index":`...)
	b = strconv.AppendInt(b, int64(t.open), 10)
	t.buf = append(b, `,"type":"content_block_delta"}`+"\n\n"...)
	emit(t.buf)
	return true
}

// fastChoiceText reads a choice that is index 0 with a delta of content
// only and no finish reason, appending the content to text.
func fastChoiceText(s *jsonscan.Scanner, text []byte) ([]byte, bool) {
	if s.Peek() != '{' {
		return text, false
	}
	var seen jsonscan.Fields
	hasDelta := false
	it := s.Object()
	for it.Next() {
		ok := false
		switch string(it.Key()) {
		case "index":
			i, err := s.Int()
			ok = seen.Once(0) == nil && err == nil && i == 0
		case "finish_reason":
			ok = seen.Once(1) == nil && s.Null()
		case "delta":
			ok = seen.Once(2) == nil && s.Peek() == '{'
			delta := s.Object()
			for ok && delta.Next() {
				if string(delta.Key()) != "content" || hasDelta {
					return text, false
				}
				var err error
				text, err = s.AppendString(text)
				ok, hasDelta = err == nil, true
			}
			ok = ok && delta.Err() == nil
		default: // logprobs …
			ok = s.Unknown(it.Key(), "index", "text", "finish_reason", "delta") == nil
		}
		if !ok {
			return text, false
		}
	}
	return text, it.Err() == nil && hasDelta
}
