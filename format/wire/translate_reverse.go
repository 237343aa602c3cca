package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The reverse direction: an Anthropic Messages client (an Anthropic SDK,
// Claude Code) calling a model served by an OpenAI-compatible API.

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
}

// Event translates one upstream event.
func (t *OpenAIToAnthropicStream) Event(ev Event, emit func([]byte)) {
	if t.done {
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
