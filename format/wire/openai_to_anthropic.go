package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Conversions from OpenAI's Chat Completions format to Anthropic's
// Messages format, for both pairings: an OpenAI client's request to an
// Anthropic upstream (OpenAIChatToAnthropic), and an OpenAI-compatible
// upstream's answer to an Anthropic client (OpenAIChatToAnthropicResponse,
// OpenAIErrorToAnthropic, OpenAIToAnthropicStream). The other direction is
// in anthropic_to_openai.go.

// DefaultAnthropicMaxTokens is used when an OpenAI request names no
// max_tokens: Anthropic requires one (docs.anthropic.com/en/api/messages),
// OpenAI lets the model run to its limit. 4,096 is the largest value every
// current Claude model accepts, so no request is refused for it.
const DefaultAnthropicMaxTokens = 4096

// TranslateError is a request that cannot be translated faithfully: the
// proxy answers it with a 400 in the client's format.
type TranslateError struct{ Msg string }

func (e *TranslateError) Error() string { return e.Msg }

// openAIChatRequest is the part of a Chat Completions request
// (platform.openai.com/docs/api-reference/chat/create) that translates.
type openAIChatRequest struct {
	Model               string          `json:"model"`
	Messages            []openAIMessage `json:"messages"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	User                string          `json:"user"`
	N                   *int            `json:"n"`
	Tools               []openAITool    `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ReasoningEffort     string          `json:"reasoning_effort"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
}

type openAIMessage struct {
	Role       string           `json:"role"`
	Content    json.RawMessage  `json:"content"`
	Name       string           `json:"name"`
	ToolCalls  []openAIToolCall `json:"tool_calls"`
	ToolCallID string           `json:"tool_call_id"`
}

type openAIToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type openAITool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// translatedKeys are the request keys OpenAIChatToAnthropic maps; any other
// key is dropped with a warning, never silently.
var translatedKeys = map[string]bool{
	"model": true, "messages": true, "max_tokens": true, "max_completion_tokens": true, "temperature": true,
	"top_p": true, "stop": true, "stream": true, "stream_options": true, "user": true, "n": true, "tools": true,
	"tool_choice": true, "reasoning_effort": true, "parallel_tool_calls": true,
}

// reasoningBudget maps OpenAI's reasoning_effort onto Anthropic extended
// thinking budgets (minimum 1,024 tokens; docs.anthropic.com extended
// thinking).
var reasoningBudget = map[string]int64{"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}

// OpenAIChatToAnthropic translates a Chat Completions request body into a
// Messages request body for model. Parameters without a counterpart are
// dropped and named in warnings; ones that cannot be honoured (n > 1, an
// unreadable body) return a *TranslateError.
func OpenAIChatToAnthropic(body []byte, model string) (out []byte, warnings []string, err error) {
	if out, ok := openAIChatToAnthropicFast(body, model); ok {
		return out, nil, nil
	}
	return openAIChatToAnthropic(body, model)
}

// openAIChatToAnthropic is the general way of OpenAIChatToAnthropic,
// through encoding/json; translate_fast.go has the fast one.
func openAIChatToAnthropic(body []byte, model string) (out []byte, warnings []string, err error) {
	var req openAIChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, &TranslateError{"request body is not a Chat Completions request: " + err.Error()}
	}
	var all map[string]json.RawMessage
	_ = json.Unmarshal(body, &all)
	for k := range all {
		if !translatedKeys[k] {
			warnings = append(warnings, fmt.Sprintf("dropped parameter %s: no Anthropic Messages equivalent", k))
		}
	}
	if req.N != nil && *req.N > 1 {
		return nil, warnings, &TranslateError{fmt.Sprintf("n=%d: Anthropic returns one completion per request; send %d requests instead", *req.N, *req.N)}
	}
	m := map[string]any{"model": model}
	switch {
	case req.MaxCompletionTokens != nil:
		m["max_tokens"] = *req.MaxCompletionTokens
	case req.MaxTokens != nil:
		m["max_tokens"] = *req.MaxTokens
	default:
		m["max_tokens"] = DefaultAnthropicMaxTokens
	}
	if req.Temperature != nil {
		t := *req.Temperature
		if t > 1 { // OpenAI's range is 0..2, Anthropic's 0..1
			warnings = append(warnings, fmt.Sprintf("temperature %g clamped to 1 (Anthropic's maximum)", t))
			t = 1
		}
		m["temperature"] = t
	}
	if req.TopP != nil {
		m["top_p"] = *req.TopP
	}
	if len(req.Stop) > 0 && string(req.Stop) != "null" {
		var one string
		var many []string
		switch {
		case json.Unmarshal(req.Stop, &one) == nil:
			m["stop_sequences"] = []string{one}
		case json.Unmarshal(req.Stop, &many) == nil:
			m["stop_sequences"] = many
		}
	}
	if req.Stream {
		m["stream"] = true
	}
	if req.User != "" {
		m["metadata"] = map[string]any{"user_id": req.User}
	}
	if b, ok := reasoningBudget[req.ReasoningEffort]; ok {
		m["thinking"] = map[string]any{"type": "enabled", "budget_tokens": b}
		if mt, _ := m["max_tokens"].(int64); mt <= b {
			m["max_tokens"] = b + DefaultAnthropicMaxTokens // the budget must stay below max_tokens
		}
		delete(m, "temperature") // thinking requires the default temperature
	} else if req.ReasoningEffort != "" {
		warnings = append(warnings, fmt.Sprintf("dropped reasoning_effort %q: unknown value", req.ReasoningEffort))
	}
	if len(req.Tools) > 0 {
		tools := make([]any, 0, len(req.Tools))
		for _, t := range req.Tools {
			if t.Type != "function" {
				warnings = append(warnings, fmt.Sprintf("dropped tool of type %q: only function tools translate", t.Type))
				continue
			}
			schema := t.Function.Parameters
			if len(schema) == 0 || string(schema) == "null" {
				schema = json.RawMessage(`{"type":"object","properties":{}}`)
			}
			tool := map[string]any{"name": t.Function.Name, "input_schema": schema}
			if t.Function.Description != "" {
				tool["description"] = t.Function.Description
			}
			tools = append(tools, tool)
		}
		m["tools"] = tools
	}
	if tc, w := translateToolChoice(req.ToolChoice, req.ParallelToolCalls); tc != nil {
		m["tool_choice"] = tc
		warnings = append(warnings, w...)
	}
	system, messages, err := translateMessages(req.Messages)
	if err != nil {
		return nil, warnings, err
	}
	if system != "" {
		m["system"] = system
	}
	m["messages"] = messages
	out, err = json.Marshal(m)
	return out, warnings, err
}

func translateToolChoice(raw json.RawMessage, parallel *bool) (any, []string) {
	var choice map[string]any
	if len(raw) > 0 && string(raw) != "null" {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			switch s {
			case "auto":
				choice = map[string]any{"type": "auto"}
			case "none":
				choice = map[string]any{"type": "none"}
			case "required":
				choice = map[string]any{"type": "any"}
			}
		} else {
			var fn struct {
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if json.Unmarshal(raw, &fn) == nil && fn.Function.Name != "" {
				choice = map[string]any{"type": "tool", "name": fn.Function.Name}
			}
		}
	}
	if parallel != nil && !*parallel {
		if choice == nil {
			choice = map[string]any{"type": "auto"}
		}
		choice["disable_parallel_tool_use"] = true
	}
	if choice == nil {
		return nil, nil
	}
	return choice, nil
}

// translateMessages maps OpenAI messages onto Anthropic's: system and
// developer messages become the system prompt; tool results become
// tool_result blocks in a user turn; consecutive turns of one role are
// merged, as Anthropic requires alternating roles.
func translateMessages(msgs []openAIMessage) (string, []any, error) {
	var system []string
	type turn struct {
		role   string
		blocks []any
	}
	var turns []*turn
	add := func(role string, blocks ...any) {
		if len(blocks) == 0 {
			return
		}
		if n := len(turns); n > 0 && turns[n-1].role == role {
			turns[n-1].blocks = append(turns[n-1].blocks, blocks...)
			return
		}
		turns = append(turns, &turn{role: role, blocks: blocks})
	}
	for i, msg := range msgs {
		switch msg.Role {
		case "system", "developer":
			text, err := contentText(msg.Content)
			if err != nil {
				return "", nil, &TranslateError{fmt.Sprintf("messages[%d]: %v", i, err)}
			}
			system = append(system, text)
		case "user":
			blocks, err := contentBlocks(msg.Content)
			if err != nil {
				return "", nil, &TranslateError{fmt.Sprintf("messages[%d]: %v", i, err)}
			}
			add("user", blocks...)
		case "assistant":
			blocks, err := contentBlocks(msg.Content)
			if err != nil {
				return "", nil, &TranslateError{fmt.Sprintf("messages[%d]: %v", i, err)}
			}
			for _, tc := range msg.ToolCalls {
				input := json.RawMessage(tc.Function.Arguments)
				if len(input) == 0 {
					input = json.RawMessage("{}")
				}
				if !json.Valid(input) {
					return "", nil, &TranslateError{fmt.Sprintf("messages[%d]: tool call %s has arguments that are not JSON", i, tc.ID)}
				}
				blocks = append(blocks, map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Function.Name, "input": input})
			}
			add("assistant", blocks...)
		case "tool":
			text, err := contentText(msg.Content)
			if err != nil {
				return "", nil, &TranslateError{fmt.Sprintf("messages[%d]: %v", i, err)}
			}
			add("user", map[string]any{"type": "tool_result", "tool_use_id": msg.ToolCallID, "content": text})
		default:
			return "", nil, &TranslateError{fmt.Sprintf("messages[%d]: role %q has no Anthropic equivalent", i, msg.Role)}
		}
	}
	out := make([]any, len(turns))
	for i, t := range turns {
		out[i] = map[string]any{"role": t.role, "content": t.blocks}
	}
	return strings.Join(system, "\n\n"), out, nil
}

// contentText reads a content field (string or text parts) as plain text.
func contentText(raw json.RawMessage) (string, error) {
	blocks, err := contentBlocks(raw)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, b := range blocks {
		m := b.(map[string]any)
		if m["type"] != "text" {
			return "", fmt.Errorf("only text can go in this message, not %v", m["type"])
		}
		parts = append(parts, m["text"].(string))
	}
	return strings.Join(parts, "\n"), nil
}

// contentBlocks maps an OpenAI content field onto Anthropic content blocks:
// text, and images from data: URLs (base64) or http(s) URLs.
func contentBlocks(raw json.RawMessage) ([]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		return []any{map[string]any{"type": "text", "text": s}}, nil
	}
	var parts []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL struct {
			URL string `json:"url"`
		} `json:"image_url"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, fmt.Errorf("content is neither a string nor a list of parts")
	}
	var out []any
	for _, p := range parts {
		switch p.Type {
		case "text":
			out = append(out, map[string]any{"type": "text", "text": p.Text})
		case "image_url":
			src, err := imageSource(p.ImageURL.URL)
			if err != nil {
				return nil, err
			}
			out = append(out, map[string]any{"type": "image", "source": src})
		default:
			return nil, fmt.Errorf("content part of type %q has no Anthropic equivalent", p.Type)
		}
	}
	return out, nil
}

// imageSource maps an image URL onto an Anthropic image source.
func imageSource(u string) (map[string]any, error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isBase64 {
			return nil, fmt.Errorf("image data URL must be base64 (data:<type>;base64,...)")
		}
		return map[string]any{"type": "base64", "media_type": mediaType, "data": data}, nil
	}
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return map[string]any{"type": "url", "url": u}, nil
	}
	return nil, fmt.Errorf("image URL %.40q is neither a data: nor an http(s) URL", u)
}

// Anthropic client, OpenAI-compatible upstream: the answer back to the
// client (the request went through AnthropicToOpenAIChatRequest).

// stopReasons maps Chat Completions finish reasons onto Anthropic's.
var stopReasons = map[string]string{"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use", "content_filter": "refusal"}

func stopReason(finish string) string {
	if r, ok := stopReasons[finish]; ok {
		return r
	}
	return "end_turn"
}

// anthropicUsageOf renders normalized usage in Anthropic's convention:
// input_tokens excludes what was read from or written to the cache.
func (u Usage) anthropic() map[string]any {
	return map[string]any{"input_tokens": u.Uncached(), "output_tokens": u.Completion,
		"cache_read_input_tokens": u.CachedRead, "cache_creation_input_tokens": u.CacheWrite}
}

// OpenAIChatToAnthropicResponse translates a non-streamed Chat Completions
// response into a Messages response under the model the client asked for.
func OpenAIChatToAnthropicResponse(body []byte, clientModel string) ([]byte, error) {
	var c struct {
		ID      string `json:"id"`
		Choices []struct {
			FinishReason string `json:"finish_reason"`
			Message      struct {
				Content   *string          `json:"content"`
				Refusal   *string          `json:"refusal"`
				ToolCalls []openAIToolCall `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
		Usage *openAIChatUsage `json:"usage"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, err
	}
	content := []any{}
	stop := "end_turn"
	if len(c.Choices) > 0 {
		ch := c.Choices[0]
		if ch.Message.Content != nil && *ch.Message.Content != "" {
			content = append(content, map[string]any{"type": "text", "text": *ch.Message.Content})
		} else if ch.Message.Refusal != nil && *ch.Message.Refusal != "" {
			content = append(content, map[string]any{"type": "text", "text": *ch.Message.Refusal})
		}
		for _, tc := range ch.Message.ToolCalls {
			content = append(content, map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Function.Name, "input": toolInput(tc.Function.Arguments)})
		}
		stop = stopReason(ch.FinishReason)
	}
	msg := map[string]any{"id": "msg_" + strings.TrimPrefix(c.ID, "chatcmpl-"), "type": "message", "role": "assistant",
		"model": clientModel, "content": content, "stop_reason": stop, "stop_sequence": nil}
	if c.Usage != nil {
		msg["usage"] = c.Usage.normalize().anthropic()
	} else {
		msg["usage"] = map[string]any{"input_tokens": 0, "output_tokens": 0}
	}
	return json.Marshal(msg)
}

// toolInput parses tool-call arguments; arguments that are not a JSON
// object (a model's malformed output) are kept as a string field so
// nothing is lost.
func toolInput(args string) any {
	var obj map[string]any
	if args == "" {
		return map[string]any{}
	}
	if json.Unmarshal([]byte(args), &obj) != nil {
		return map[string]any{"_raw_arguments": args}
	}
	return json.RawMessage(args)
}

// OpenAIErrorToAnthropic rewrites an OpenAI error body in Anthropic's shape.
func OpenAIErrorToAnthropic(body []byte, status int) []byte {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		e.Error.Message = "upstream error (HTTP " + strconv.Itoa(status) + "): " + string(body)
	}
	typ := "api_error"
	switch {
	case status == 400 || status == 404 || status == 422:
		typ = "invalid_request_error"
	case status == 401:
		typ = "authentication_error"
	case status == 403:
		typ = "permission_error"
	case status == 429:
		typ = "rate_limit_error"
	case status == 503 || status == 529:
		typ = "overloaded_error"
	}
	out, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": e.Error.Message}})
	return out
}

// OpenAIToAnthropicStream translates a Chat Completions chunk stream into
// Messages events as they arrive. Emit receives complete SSE events
// ("event: …\ndata: …\n\n").
type OpenAIToAnthropicStream struct {
	Model string // as the client asked

	started  bool
	open     int // index of the open content block, -1 when none
	openTool int // OpenAI tool index of the open tool_use block
	next     int // next content block index
	stop     string
	usage    *Usage
	done     bool
	buf      []byte
	text     []byte // fastDelta's decoded text
	noFast   bool   // tests: take the general way only
}

// Event translates one upstream event.
func (t *OpenAIToAnthropicStream) Event(ev Event, emit func([]byte)) {
	if t.done {
		return
	}
	if !t.noFast && t.fastDelta(ev.Data, emit) {
		return
	}
	if string(ev.Data) == "[DONE]" {
		t.finish(emit)
		return
	}
	var c chatChunk
	if json.Unmarshal(ev.Data, &c) != nil {
		return
	}
	if c.Error != nil {
		var er struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(c.Error, &er)
		t.emit(emit, "error", map[string]any{"type": "error", "error": map[string]any{"type": "api_error", "message": er.Message}})
		return
	}
	if !t.started {
		t.started, t.open, t.openTool = true, -1, -1
		t.emit(emit, "message_start", map[string]any{"type": "message_start", "message": map[string]any{
			"id": "msg_" + strings.TrimPrefix(c.ID, "chatcmpl-"), "type": "message", "role": "assistant", "model": t.Model,
			"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": 0, "output_tokens": 0}}})
	}
	if c.Usage != nil {
		u := c.Usage.normalize()
		t.usage = &u
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue // Anthropic has one completion; n>1 is refused earlier
		}
		d := ch.Delta
		if d.Content != nil && *d.Content != "" {
			if t.open < 0 || t.openTool >= 0 {
				t.closeBlock(emit)
				t.openBlock(emit, map[string]any{"type": "text", "text": ""}, -1)
			}
			t.emit(emit, "content_block_delta", map[string]any{"type": "content_block_delta", "index": t.open,
				"delta": map[string]any{"type": "text_delta", "text": *d.Content}})
		}
		for _, tc := range d.ToolCalls {
			if tc.Index != t.openTool || t.open < 0 {
				t.closeBlock(emit)
				t.openBlock(emit, map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Function.Name, "input": map[string]any{}}, tc.Index)
			}
			if tc.Function.Arguments != "" {
				t.emit(emit, "content_block_delta", map[string]any{"type": "content_block_delta", "index": t.open,
					"delta": map[string]any{"type": "input_json_delta", "partial_json": tc.Function.Arguments}})
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			t.stop = stopReason(*ch.FinishReason)
		}
	}
}

func (t *OpenAIToAnthropicStream) openBlock(emit func([]byte), block map[string]any, tool int) {
	t.open, t.openTool = t.next, tool
	t.next++
	t.emit(emit, "content_block_start", map[string]any{"type": "content_block_start", "index": t.open, "content_block": block})
}

func (t *OpenAIToAnthropicStream) closeBlock(emit func([]byte)) {
	if t.open >= 0 {
		t.emit(emit, "content_block_stop", map[string]any{"type": "content_block_stop", "index": t.open})
		t.open, t.openTool = -1, -1
	}
}

// finish ends the message at the upstream's [DONE].
func (t *OpenAIToAnthropicStream) finish(emit func([]byte)) {
	if !t.started {
		return
	}
	t.closeBlock(emit)
	if t.stop == "" {
		t.stop = "end_turn"
	}
	usage := map[string]any{"output_tokens": 0}
	if t.usage != nil {
		usage = t.usage.anthropic()
	}
	t.emit(emit, "message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": t.stop, "stop_sequence": nil}, "usage": usage})
	t.emit(emit, "message_stop", map[string]any{"type": "message_stop"})
	t.done = true
}

func (t *OpenAIToAnthropicStream) emit(emit func([]byte), event string, v any) {
	b, _ := json.Marshal(v)
	t.buf = append(append(append(append(append(t.buf[:0], "event: "...), event...), "\ndata: "...), b...), "\n\n"...)
	emit(t.buf)
}

// Done reports whether the translated stream was ended properly.
func (t *OpenAIToAnthropicStream) Done() bool { return t.done }
