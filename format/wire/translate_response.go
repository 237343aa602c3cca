package wire

import (
	"encoding/json"
	"strconv"
	"strings"
)

// finishReasons maps Anthropic stop reasons onto Chat Completions'
// finish_reason values.
var finishReasons = map[string]string{
	"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
	"max_tokens": "length", "model_context_window_exceeded": "length",
	"tool_use": "tool_calls", "refusal": "content_filter",
}

// ClientFinishReason is the finish reason a client speaking clientDialect
// ("openai" or "anthropic") got for a translated call whose upstream
// answered with upstream (the other API's word): what the translators in
// this package send.
func ClientFinishReason(clientDialect, upstream string) string {
	if clientDialect == "anthropic" {
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
	var msg anthropicMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, err
	}
	var text, reasoning strings.Builder
	var calls []any
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
			calls = append(calls, map[string]any{"id": b.ID, "type": "function",
				"function": map[string]any{"name": b.Name, "arguments": args}})
		}
	}
	message := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	if text.Len() > 0 || len(calls) == 0 {
		message["content"] = text.String()
	}
	if reasoning.Len() > 0 {
		message["reasoning_content"] = reasoning.String()
	}
	if len(calls) > 0 {
		message["tool_calls"] = calls
	}
	resp := map[string]any{
		"id": "chatcmpl-" + strings.TrimPrefix(msg.ID, "msg_"), "object": "chat.completion", "created": created,
		"model":   clientModel,
		"choices": []any{map[string]any{"index": 0, "message": message, "logprobs": nil, "finish_reason": finishReason(msg.StopReason)}},
	}
	if msg.Usage != nil {
		resp["usage"] = msg.Usage.normalize().openAIChat()
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
}

// Event translates one upstream event.
func (t *AnthropicToOpenAIStream) Event(ev Event, emit func([]byte)) {
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
