package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/lessllm/lessllm/format/internal/jsonscan"
)

// Conversions from Anthropic's Messages format to OpenAI's Chat
// Completions format, for both pairings: an Anthropic upstream's answer to
// an OpenAI client (AnthropicToOpenAIChat, AnthropicErrorToOpenAI,
// AnthropicToOpenAIStream), and an Anthropic client's request to an
// OpenAI-compatible upstream (AnthropicToOpenAIChatRequest).

// finishReasons maps Anthropic stop reasons onto Chat Completions'
// finish_reason values.
var finishReasons = map[string]string{
	"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
	"max_tokens": "length", "model_context_window_exceeded": "length",
	"tool_use": "tool_calls", "refusal": "content_filter",
}

// ClientFinishReason is the finish reason a client speaking clientDialect
// got for a translated call whose upstream
// answered with upstream (the other API's word): what the translators in
// this package send.
func ClientFinishReason(clientDialect Dialect, upstream string) string {
	if clientDialect == Anthropic {
		return stopReason(upstream)
	}
	return finishReason(upstream)
}

func finishReason(stop string) string {
	if r, ok := finishReasons[stop]; ok {
		return r
	}
	return "stop"
}

type anthropicMessage struct {
	ID         string            `json:"id"`
	Model      string            `json:"model"`
	StopReason string            `json:"stop_reason"`
	Content    []json.RawMessage `json:"content"`
	Usage      *anthropicUsage   `json:"usage"`
}

// AnthropicToOpenAIChat translates a non-streamed Messages response into a
// Chat Completions response under the model name the client asked for.
// Usage follows OpenAI's convention: prompt_tokens = input + cache read +
// cache creation, cached_tokens = cache read.
func AnthropicToOpenAIChat(body []byte, clientModel string, created int64) ([]byte, error) {
	if out, ok := anthropicToOpenAIChatFast(body, clientModel, created); ok {
		return out, nil
	}
	return anthropicToOpenAIChat(body, clientModel, created)
}

// anthropicToOpenAIChat is the general way of AnthropicToOpenAIChat,
// through encoding/json; translate_fast.go has the fast one.
func anthropicToOpenAIChat(body []byte, clientModel string, created int64) ([]byte, error) {
	var msg anthropicMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, err
	}
	var text, reasoning strings.Builder
	var calls []chatCompletionToolCall
	for _, raw := range msg.Content {
		var b struct {
			Type     string          `json:"type"`
			Text     string          `json:"text"`
			Thinking string          `json:"thinking"`
			ID       string          `json:"id"`
			Name     string          `json:"name"`
			Input    json.RawMessage `json:"input"`
		}
		if json.Unmarshal(raw, &b) != nil {
			continue
		}
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "thinking":
			reasoning.WriteString(b.Thinking)
		case "tool_use":
			args := string(b.Input)
			if args == "" {
				args = "{}"
			}
			calls = append(calls, chatCompletionToolCall{ID: b.ID, Type: "function",
				Function: chatCompletionFunction{Name: b.Name, Arguments: args}})
		}
	}
	// The structs of the analyzer's reassembled answers: their fields are
	// in the order encoding/json gives map keys, the bytes of a map.
	message := &chatCompletionMessage{Role: "assistant", ToolCalls: calls}
	if text.Len() > 0 || len(calls) == 0 {
		message.Content = ptr(text.String())
	}
	if reasoning.Len() > 0 {
		message.Reasoning = ptr(reasoning.String())
	}
	resp := chatCompletion{
		ID: "chatcmpl-" + strings.TrimPrefix(msg.ID, "msg_"), Object: "chat.completion", Created: created, Model: clientModel,
		Choices: []chatCompletionChoice{{Index: 0, Message: message, FinishReason: ptr(finishReason(msg.StopReason))}},
	}
	if msg.Usage != nil {
		resp.Usage = msg.Usage.normalize().openAIChat()
	}
	return json.Marshal(resp)
}

// AnthropicErrorToOpenAI rewrites an Anthropic error body
// ({"type":"error","error":{"type","message"}}) in OpenAI's shape, keeping
// the message and using the Anthropic type as the code.
func AnthropicErrorToOpenAI(body []byte, status int) []byte {
	var e struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		e.Error.Message = "upstream error (HTTP " + strconv.Itoa(status) + "): " + string(body)
	}
	typ := "server_error"
	if status < 500 {
		typ = "invalid_request_error"
	}
	if status == 429 {
		typ = "rate_limit_exceeded"
	}
	out, _ := json.Marshal(map[string]any{"error": map[string]any{"message": e.Error.Message, "type": typ, "param": nil, "code": e.Error.Type}})
	return out
}

// AnthropicToOpenAIStream translates a Messages event stream into Chat
// Completions chunks as they arrive: one output event per input event that
// carries something, nothing held back. Emit receives complete SSE events
// ("data: …\n\n").
type AnthropicToOpenAIStream struct {
	Model        string // as the client asked
	Created      int64
	IncludeUsage bool // the client sent stream_options.include_usage

	id        string
	usage     anthropicUsage
	toolIndex map[int]int // Anthropic block index → OpenAI tool_calls index
	finish    string
	done      bool
	buf       []byte
	fast      fastChunk
	noFast    bool // tests: take the general way only
}

// fastChunk is a content chunk of this stream in the bytes the general way
// marshals it to (encoding/json orders a map's keys), split around the
// delta's text: built when message_start gives the stream its id, then
// filled per event.
type fastChunk struct {
	content, reason []byte // "data: {…"delta":{"content": and …"reasoning_content":
	suffix          []byte // },"finish_reason":null,…}\n\n
}

// Event translates one upstream event.
func (t *AnthropicToOpenAIStream) Event(ev Event, emit func([]byte)) {
	if !t.noFast && t.fastDelta(ev.Data, emit) {
		return
	}
	t.general(ev, emit)
}

// general is Event's way for any event: decoded with encoding/json (into a
// struct that goes to the heap, which is why the fast way is tried first,
// outside this function).
func (t *AnthropicToOpenAIStream) general(ev Event, emit func([]byte)) {
	var e struct {
		Type    string `json:"type"`
		Index   int    `json:"index"`
		Message struct {
			ID    string          `json:"id"`
			Usage *anthropicUsage `json:"usage"`
		} `json:"message"`
		ContentBlock struct {
			Type string `json:"type"`
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"content_block"`
		Delta struct {
			Type        string  `json:"type"`
			Text        string  `json:"text"`
			Thinking    string  `json:"thinking"`
			PartialJSON string  `json:"partial_json"`
			StopReason  *string `json:"stop_reason"`
		} `json:"delta"`
		Usage *anthropicUsage `json:"usage"`
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(ev.Data, &e) != nil || t.done {
		return
	}
	switch e.Type {
	case "message_start":
		t.id = "chatcmpl-" + strings.TrimPrefix(e.Message.ID, "msg_")
		// The fast way's halves are made now, when the stream's first
		// bytes arrive, and not at its first delta: made there, their
		// encoding/json work (cold code, tens of µs) delayed the first
		// token of every stream.
		t.prepareFast()
		if e.Message.Usage != nil {
			t.usage.merge(e.Message.Usage)
		}
		t.chunk(emit, map[string]any{"role": "assistant", "content": ""}, nil)
	case "content_block_start":
		if strings.HasSuffix(e.ContentBlock.Type, "tool_use") {
			if t.toolIndex == nil {
				t.toolIndex = map[int]int{}
			}
			n := len(t.toolIndex)
			t.toolIndex[e.Index] = n
			t.chunk(emit, map[string]any{"tool_calls": []any{map[string]any{"index": n, "id": e.ContentBlock.ID, "type": "function",
				"function": map[string]any{"name": e.ContentBlock.Name, "arguments": ""}}}}, nil)
		}
	case "content_block_delta":
		switch e.Delta.Type {
		case "text_delta":
			t.chunk(emit, map[string]any{"content": e.Delta.Text}, nil)
		case "thinking_delta":
			t.chunk(emit, map[string]any{"reasoning_content": e.Delta.Thinking}, nil)
		case "input_json_delta":
			if n, ok := t.toolIndex[e.Index]; ok && e.Delta.PartialJSON != "" {
				t.chunk(emit, map[string]any{"tool_calls": []any{map[string]any{"index": n,
					"function": map[string]any{"arguments": e.Delta.PartialJSON}}}}, nil)
			}
		}
	case "message_delta":
		if e.Usage != nil {
			t.usage.merge(e.Usage)
		}
		if e.Delta.StopReason != nil {
			t.finish = finishReason(*e.Delta.StopReason)
			t.chunk(emit, map[string]any{}, t.finish)
		}
	case "message_stop":
		if t.IncludeUsage {
			t.emitJSON(emit, map[string]any{"id": t.id, "object": "chat.completion.chunk", "created": t.Created, "model": t.Model,
				"choices": []any{}, "usage": t.usage.normalize().openAIChat()})
		}
		emit([]byte("data: [DONE]\n\n"))
		t.done = true
	case "error":
		// OpenAI streams report errors as a data event with an error object.
		var er struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(e.Error, &er)
		t.emitJSON(emit, map[string]any{"error": map[string]any{"message": er.Message, "type": "server_error", "param": nil, "code": er.Type}})
	}
}

func (t *AnthropicToOpenAIStream) chunk(emit func([]byte), delta map[string]any, finish any) {
	c := map[string]any{"id": t.id, "object": "chat.completion.chunk", "created": t.Created, "model": t.Model,
		"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}}
	if t.IncludeUsage {
		c["usage"] = nil
	}
	t.emitJSON(emit, c)
}

func (t *AnthropicToOpenAIStream) emitJSON(emit func([]byte), v any) {
	b, _ := json.Marshal(v)
	t.buf = append(append(append(t.buf[:0], "data: "...), b...), "\n\n"...)
	emit(t.buf)
}

// Done reports whether the translated stream was ended properly.
func (t *AnthropicToOpenAIStream) Done() bool { return t.done }

// fastDelta translates the stream's commonest event — a text or thinking
// delta in the shape Anthropic sends it — by its bytes: the text, which
// needs no decoding and which encoding/json would write as it is, is
// copied between the two halves of a chunk prepared once per stream. It
// reports false, having emitted nothing, for any other event or shape,
// which the general way then translates; both give the same bytes
// (FuzzAnthropicToOpenAIFast).
func (t *AnthropicToOpenAIStream) fastDelta(data []byte, emit func([]byte)) bool {
	if t.id == "" || t.done { // no message_start yet: no halves
		return false
	}
	var s jsonscan.Scanner
	s.Reset(data)
	if !s.Literal(`{"type":"content_block_delta","index":`) {
		return false
	}
	if _, err := s.Int(); err != nil {
		return false
	}
	reasoning := false
	switch {
	case s.Literal(`,"delta":{"type":"text_delta","text":`):
	case s.Literal(`,"delta":{"type":"thinking_delta","thinking":`):
		reasoning = true
	default:
		return false
	}
	text, ok := s.PlainString()
	if !ok || !marshalsAsIs(text) || !s.Literal("}}") || s.End() != nil {
		return false
	}
	head := t.fast.content
	if reasoning {
		head = t.fast.reason
	}
	t.buf = append(append(append(append(append(t.buf[:0], head...), '"'), text...), '"'), t.fast.suffix...)
	emit(t.buf)
	return true
}

// prepareFast builds the halves of this stream's content chunk by
// marshalling one as the general way does and cutting it at a marker.
func (t *AnthropicToOpenAIStream) prepareFast() {
	const marker = "\x00lessllm\x00"
	halves := func(field string) ([]byte, []byte) {
		var whole []byte
		t.chunk(func(b []byte) { whole = append([]byte(nil), b...) }, map[string]any{field: marker}, nil)
		quoted, _ := json.Marshal(marker)
		i := strings.Index(string(whole), string(quoted))
		return whole[:i], whole[i+len(quoted):]
	}
	t.fast.content, t.fast.suffix = halves("content")
	t.fast.reason, _ = halves("reasoning_content")
}

// marshalsAsIs reports whether encoding/json writes the string as these
// very bytes (given no escapes, no control characters and valid UTF-8):
// it escapes <, > and & for HTML, and U+2028 and U+2029.
func marshalsAsIs(v []byte) bool {
	for i, c := range v {
		switch {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xE2 && i+2 < len(v) && v[i+1] == 0x80 && (v[i+2] == 0xA8 || v[i+2] == 0xA9):
			return false
		}
	}
	return true
}

// Anthropic client, OpenAI-compatible upstream: an Anthropic Messages
// client (an Anthropic SDK, Claude Code) calling a model served by an
// OpenAI-compatible API; the answer goes back through the OpenAI→Anthropic
// conversions in openai_to_anthropic.go.

type anthropicRequest struct {
	Model         string                  `json:"model"`
	System        json.RawMessage         `json:"system"`
	Messages      []anthropicMessageParam `json:"messages"`
	MaxTokens     *int64                  `json:"max_tokens"`
	Temperature   *float64                `json:"temperature"`
	TopP          *float64                `json:"top_p"`
	StopSequences []string                `json:"stop_sequences"`
	Stream        bool                    `json:"stream"`
	Metadata      struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`
	Tools []struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
		Type        string          `json:"type"`
	} `json:"tools"`
	ToolChoice *struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	} `json:"tool_choice"`
}

type anthropicMessageParam struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// anthropicBlockParam is any content block of a Messages request.
type anthropicBlockParam struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
	Source    struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
		URL       string `json:"url"`
	} `json:"source"`
	CacheControl json.RawMessage `json:"cache_control"`
}

var anthropicTranslatedKeys = map[string]bool{
	"model": true, "system": true, "messages": true, "max_tokens": true, "temperature": true, "top_p": true,
	"stop_sequences": true, "stream": true, "metadata": true, "tools": true, "tool_choice": true,
}

// AnthropicToOpenAIChatRequest translates a Messages request body into a
// Chat Completions request body for model. The stream asks for usage
// (stream_options.include_usage), which Anthropic streams always carry.
// cache_control breakpoints are dropped with a warning: OpenAI caches
// prefixes automatically.
func AnthropicToOpenAIChatRequest(body []byte, model string) (out []byte, warnings []string, err error) {
	var req anthropicRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, &TranslateError{"request body is not a Messages request: " + err.Error()}
	}
	var all map[string]json.RawMessage
	_ = json.Unmarshal(body, &all)
	for k := range all {
		if !anthropicTranslatedKeys[k] {
			warnings = append(warnings, fmt.Sprintf("dropped parameter %s: no Chat Completions equivalent", k))
		}
	}
	m := map[string]any{"model": model}
	if req.MaxTokens != nil {
		m["max_completion_tokens"] = *req.MaxTokens
	}
	if req.Temperature != nil {
		m["temperature"] = *req.Temperature
	}
	if req.TopP != nil {
		m["top_p"] = *req.TopP
	}
	if len(req.StopSequences) > 0 {
		m["stop"] = req.StopSequences
	}
	if req.Stream {
		m["stream"] = true
		m["stream_options"] = map[string]any{"include_usage": true}
	}
	if req.Metadata.UserID != "" {
		m["user"] = req.Metadata.UserID
	}
	if len(req.Tools) > 0 {
		var tools []any
		for _, t := range req.Tools {
			if t.Type != "" && t.Type != "custom" {
				warnings = append(warnings, fmt.Sprintf("dropped tool %q of type %s: only client tools translate", t.Name, t.Type))
				continue
			}
			fn := map[string]any{"name": t.Name, "parameters": t.InputSchema}
			if t.Description != "" {
				fn["description"] = t.Description
			}
			tools = append(tools, map[string]any{"type": "function", "function": fn})
		}
		m["tools"] = tools
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto":
			m["tool_choice"] = "auto"
		case "any":
			m["tool_choice"] = "required"
		case "none":
			m["tool_choice"] = "none"
		case "tool":
			m["tool_choice"] = map[string]any{"type": "function", "function": map[string]any{"name": tc.Name}}
		}
		if tc.DisableParallelToolUse {
			m["parallel_tool_calls"] = false
		}
	}
	var msgs []any
	cached := false
	if len(req.System) > 0 && string(req.System) != "null" {
		text, c, err := anthropicText(req.System)
		if err != nil {
			return nil, warnings, &TranslateError{"system: " + err.Error()}
		}
		cached = cached || c
		msgs = append(msgs, map[string]any{"role": "system", "content": text})
	}
	for i, msg := range req.Messages {
		blocks, err := anthropicBlocks(msg.Content)
		if err != nil {
			return nil, warnings, &TranslateError{fmt.Sprintf("messages[%d]: %v", i, err)}
		}
		var parts []any
		var text strings.Builder
		var calls []any
		for _, b := range blocks {
			cached = cached || len(b.CacheControl) > 0
			switch b.Type {
			case "text":
				parts = append(parts, map[string]any{"type": "text", "text": b.Text})
				text.WriteString(b.Text)
			case "image":
				u := b.Source.URL
				if b.Source.Type == "base64" {
					u = "data:" + b.Source.MediaType + ";base64," + b.Source.Data
				}
				parts = append(parts, map[string]any{"type": "image_url", "image_url": map[string]any{"url": u}})
			case "tool_use":
				args := string(b.Input)
				if args == "" {
					args = "{}"
				}
				calls = append(calls, map[string]any{"id": b.ID, "type": "function", "function": map[string]any{"name": b.Name, "arguments": args}})
			case "tool_result":
				// OpenAI wants each result as its own "tool" message, right
				// after the assistant's tool calls: before this turn's text.
				content, _, err := anthropicText(b.Content)
				if err != nil {
					return nil, warnings, &TranslateError{fmt.Sprintf("messages[%d]: tool_result: %v", i, err)}
				}
				if b.IsError {
					content = "Error: " + content
				}
				msgs = append(msgs, map[string]any{"role": "tool", "tool_call_id": b.ToolUseID, "content": content})
			case "thinking", "redacted_thinking":
				warnings = append(warnings, fmt.Sprintf("messages[%d]: dropped a %s block: no Chat Completions equivalent", i, b.Type))
			default:
				return nil, warnings, &TranslateError{fmt.Sprintf("messages[%d]: content block of type %q has no Chat Completions equivalent", i, b.Type)}
			}
		}
		switch msg.Role {
		case "assistant":
			am := map[string]any{"role": "assistant", "content": nil}
			if text.Len() > 0 {
				am["content"] = text.String()
			}
			if len(calls) > 0 {
				am["tool_calls"] = calls
			}
			if text.Len() > 0 || len(calls) > 0 {
				msgs = append(msgs, am)
			}
		case "user":
			if len(parts) > 0 {
				msgs = append(msgs, map[string]any{"role": "user", "content": parts})
			}
		default:
			return nil, warnings, &TranslateError{fmt.Sprintf("messages[%d]: role %q", i, msg.Role)}
		}
	}
	if cached {
		warnings = append(warnings, "dropped cache_control breakpoints: OpenAI caches prompt prefixes automatically")
	}
	m["messages"] = msgs
	out, err = json.Marshal(m)
	return out, warnings, err
}

func anthropicBlocks(raw json.RawMessage) ([]anthropicBlockParam, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []anthropicBlockParam{{Type: "text", Text: s}}, nil
	}
	var blocks []anthropicBlockParam
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, fmt.Errorf("content is neither a string nor a list of blocks")
	}
	return blocks, nil
}

// anthropicText reads a string-or-text-blocks field as text; cached says
// whether a block carried cache_control.
func anthropicText(raw json.RawMessage) (string, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	blocks, err := anthropicBlocks(raw)
	if err != nil {
		return "", false, err
	}
	var parts []string
	cached := false
	for _, b := range blocks {
		if b.Type != "text" {
			return "", false, fmt.Errorf("only text blocks can go here, not %q", b.Type)
		}
		parts = append(parts, b.Text)
		cached = cached || len(b.CacheControl) > 0
	}
	return strings.Join(parts, "\n"), cached, nil
}
