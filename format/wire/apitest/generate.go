package apitest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/lessllm/lessllm/format/wire"
)

// midFaultAfter is how many content chunks a *-mid fault lets through.
const midFaultAfter = 3

func (s *Simulator) auth(r *http.Request) string {
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k
	}
	return r.Header.Get("Authorization")
}

// chat serves POST /v1/chat/completions.
func (s *Simulator) chat(w http.ResponseWriter, r *http.Request) {
	c, req := s.start(w, r, wire.OpenAI, "max_tokens")
	if c == nil {
		return
	}
	pt, cached := s.openAIPromptTokens(r, c, req, openAIPrompt(req))
	id := s.id("chatcmpl-")
	created := time.Now().Unix()
	model := c.model + "-sim"
	tool := s.openAIToolCall(req)
	if tool != nil {
		c.tokens = len(tool.pieces())
	}
	usage := map[string]any{
		"prompt_tokens": pt, "completion_tokens": c.tokens, "total_tokens": pt + c.tokens,
		"prompt_tokens_details":     map[string]any{"cached_tokens": cached, "audio_tokens": 0},
		"completion_tokens_details": map[string]any{"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
	}
	finish := "stop"
	switch {
	case tool != nil:
		finish = "tool_calls"
	case c.limited: // max_tokens or max_completion_tokens
		finish = "length"
	}
	if !c.stream {
		if !s.waitUntil(c, c.begun.Add(s.jittered(c.ttft+time.Duration(max(c.tokens-1, 0))*max(c.tpot, 0)))) {
			return
		}
		message := map[string]any{"role": "assistant", "content": Text(c.tokens), "refusal": nil}
		if tool != nil {
			message["content"] = nil
			message["tool_calls"] = []any{map[string]any{"id": tool.id, "type": "function",
				"function": map[string]any{"name": tool.name, "arguments": tool.args}}}
		}
		s.headers(c, wire.OpenAI)
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": model, "system_fingerprint": "fp_sim",
			"choices": []any{map[string]any{"index": 0, "message": message, "logprobs": nil, "finish_reason": finish}},
			"usage":   usage,
		})
		return
	}
	s.headers(c, wire.OpenAI)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if azurePath(r) {
		sse(w, "", azurePromptFilterEvent) // at once, before the first token
	}
	w.(http.Flusher).Flush()
	chunk := func(delta map[string]any, fin any) []byte {
		m := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "system_fingerprint": "fp_sim",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": fin}}}
		if c.usage {
			m["usage"] = nil
		}
		return mustJSON(m)
	}
	if !s.stream(c, func(i int) {
		if i == 0 { // the role chunk goes out with the first token, as OpenAI's does
			sse(w, "", chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil))
		}
		if tool == nil {
			sse(w, "", chunk(map[string]any{"content": c.token(i)}, nil))
			return
		}
		call := map[string]any{"index": 0, "function": map[string]any{"arguments": tool.pieces()[i]}}
		if i == 0 {
			call["id"], call["type"] = tool.id, "function"
			call["function"].(map[string]any)["name"] = tool.name
		}
		sse(w, "", chunk(map[string]any{"tool_calls": []any{call}}, nil))
	}) {
		return
	}
	sse(w, "", chunk(map[string]any{}, finish))
	if c.usage {
		sse(w, "", mustJSON(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"system_fingerprint": "fp_sim", "choices": []any{}, "usage": usage}))
	}
	sse(w, "", []byte("[DONE]"))
}

// openAIPromptTokens counts a prompt and what the OpenAI cache model says
// of it.
func (s *Simulator) openAIPromptTokens(r *http.Request, c *call, req map[string]any, prompt promptTokens) (total, cached int) {
	if !s.opts.NoCache {
		now := s.opts.Now()
		cached = s.cache.openAI(cacheScope(s.auth(r), c.model, req), prompt, now, now.Add(max(c.ttft, 0)))
	}
	return prompt.total(), cached
}

// stream paces c.tokens tokens — the first c.ttft after the request
// arrived, then one every c.tpot — calling emit for each, and injects a
// *-mid fault after a few. Times are deadlines from the request's arrival,
// not sleeps after each write, so a slow write or a busy CPU does not
// stretch the stream: the timings analysis measures are the ones set.
// It returns false when the client went away.
func (s *Simulator) stream(c *call, emit func(i int)) bool {
	due := c.begun
	for i := 0; i < c.tokens; i++ {
		step := c.tpot
		if i == 0 {
			step = c.ttft
		}
		due = due.Add(s.jittered(step))
		if !s.waitUntil(c, due) {
			return false
		}
		if c.faultMid && i == midFaultAfter {
			midFault(c)
		}
		emit(i)
	}
	return true
}

// headers sets the provider-specific response headers analyze reads.
// Openai-Processing-Ms is, as OpenAI sends it, the time the server spent
// before sending the headers: generation included for a non-streamed call.
func (s *Simulator) headers(c *call, dialect wire.Dialect) {
	h := c.w.Header()
	if dialect == wire.Anthropic {
		h.Set("Request-Id", s.id("req_"))
		h.Set("Anthropic-Organization-Id", "sim-org")
		return
	}
	h.Set("X-Request-Id", s.id("req_"))
	h.Set("Openai-Processing-Ms", strconv.FormatInt(time.Since(c.begun).Milliseconds(), 10))
	h.Set("Openai-Version", "2020-10-01")
}

// messages serves POST /v1/messages (Anthropic).
func (s *Simulator) messages(w http.ResponseWriter, r *http.Request) {
	c, req := s.start(w, r, wire.Anthropic, "max_tokens")
	if c == nil {
		return
	}
	if _, ok := req["max_tokens"].(float64); !ok {
		writeError(w, wire.Anthropic, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required")
		return
	}
	prompt := anthropicPrompt(req)
	var u anthropicUsage
	if s.opts.NoCache {
		u.input = prompt.total()
	} else {
		now := s.opts.Now()
		u = s.cache.anthropic(cacheScope(s.auth(r), c.model, nil), c.model, prompt, now, now.Add(max(c.ttft, 0)))
	}
	id := s.id("msg_")
	tool := s.anthropicToolCall(req)
	stop := "end_turn"
	switch {
	case tool != nil:
		c.tokens = len(tool.pieces())
		stop = "tool_use"
	case c.limited:
		stop = "max_tokens"
	}
	usage := func(output int) map[string]any {
		return map[string]any{
			"input_tokens": u.input, "cache_creation_input_tokens": u.cacheWrite5m + u.cacheWrite1h, "cache_read_input_tokens": u.cacheRead,
			"cache_creation": map[string]any{"ephemeral_5m_input_tokens": u.cacheWrite5m, "ephemeral_1h_input_tokens": u.cacheWrite1h},
			"output_tokens":  output, "service_tier": "standard",
		}
	}
	if !c.stream {
		if !s.waitUntil(c, c.begun.Add(s.jittered(c.ttft+time.Duration(max(c.tokens-1, 0))*max(c.tpot, 0)))) {
			return
		}
		content := []any{map[string]any{"type": "text", "text": Text(c.tokens)}}
		if tool != nil {
			content = []any{map[string]any{"type": "tool_use", "id": tool.id, "name": tool.name, "input": json.RawMessage(tool.args)}}
		}
		s.headers(c, wire.Anthropic)
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": c.model,
			"content": content, "stop_reason": stop, "stop_sequence": nil, "usage": usage(c.tokens),
		})
		return
	}
	s.headers(c, wire.Anthropic)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	// message_start goes out at once, before generation: like the real API,
	// the first byte arrives well before the first token.
	sse(w, "message_start", mustJSON(map[string]any{"type": "message_start", "message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": c.model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": usage(1)}}))
	block := map[string]any{"type": "text", "text": ""}
	if tool != nil {
		block = map[string]any{"type": "tool_use", "id": tool.id, "name": tool.name, "input": map[string]any{}}
	}
	sse(w, "content_block_start", mustJSON(map[string]any{"type": "content_block_start", "index": 0, "content_block": block}))
	sse(w, "ping", []byte(`{"type": "ping"}`))
	if !s.stream(c, func(i int) {
		// Structs, not maps: the keys in the order Anthropic sends them
		// ("type" first), as in the recorded streams in testdata/recorded.
		var delta any = struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}{"text_delta", c.token(i)}
		if tool != nil {
			delta = struct {
				Type        string `json:"type"`
				PartialJSON string `json:"partial_json"`
			}{"input_json_delta", tool.pieces()[i]}
		}
		sse(w, "content_block_delta", mustJSON(struct {
			Type  string `json:"type"`
			Index int    `json:"index"`
			Delta any    `json:"delta"`
		}{"content_block_delta", 0, delta}))
	}) {
		return
	}
	sse(w, "content_block_stop", []byte(`{"type":"content_block_stop","index":0}`))
	// The final message_delta repeats the full usage with the final output
	// count, as the real API does (ARCHITECTURE.md §8).
	sse(w, "message_delta", mustJSON(map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": usage(c.tokens)}))
	sse(w, "message_stop", []byte(`{"type":"message_stop"}`))
}

// responses serves POST /v1/responses (OpenAI Responses API).
func (s *Simulator) responses(w http.ResponseWriter, r *http.Request) {
	c, req := s.start(w, r, wire.OpenAI, "max_output_tokens")
	if c == nil {
		return
	}
	pt, cached := s.openAIPromptTokens(r, c, req, responsesPrompt(req))
	id, itemID := s.id("resp_"), s.id("msg_")
	created := time.Now().Unix()
	text := Text(c.tokens)
	resp := func(status string, done bool) map[string]any {
		m := map[string]any{"id": id, "object": "response", "created_at": created, "status": status, "model": c.model + "-sim",
			"output": []any{}, "usage": nil, "error": nil, "incomplete_details": nil}
		if done {
			m["output"] = []any{map[string]any{"id": itemID, "type": "message", "status": "completed", "role": "assistant",
				"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}}}
			m["usage"] = map[string]any{"input_tokens": pt, "input_tokens_details": map[string]any{"cached_tokens": cached},
				"output_tokens": c.tokens, "output_tokens_details": map[string]any{"reasoning_tokens": 0}, "total_tokens": pt + c.tokens}
		}
		return m
	}
	if !c.stream {
		if !s.waitUntil(c, c.begun.Add(s.jittered(c.ttft+time.Duration(max(c.tokens-1, 0))*max(c.tpot, 0)))) {
			return
		}
		s.headers(c, wire.OpenAI)
		writeJSON(w, http.StatusOK, resp("completed", true))
		return
	}
	s.headers(c, wire.OpenAI)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	seq := 0
	ev := func(typ string, m map[string]any) {
		m["type"], m["sequence_number"] = typ, seq
		seq++
		sse(w, typ, mustJSON(m))
	}
	ev("response.created", map[string]any{"response": resp("in_progress", false)})
	ev("response.in_progress", map[string]any{"response": resp("in_progress", false)})
	ev("response.output_item.added", map[string]any{"output_index": 0, "item": map[string]any{"id": itemID, "type": "message", "status": "in_progress", "role": "assistant", "content": []any{}}})
	ev("response.content_part.added", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}})
	if !s.stream(c, func(i int) {
		ev("response.output_text.delta", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "delta": c.token(i)})
	}) {
		return
	}
	ev("response.output_text.done", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "text": text})
	ev("response.content_part.done", map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0, "part": map[string]any{"type": "output_text", "text": text, "annotations": []any{}}})
	ev("response.output_item.done", map[string]any{"output_index": 0, "item": resp("completed", true)["output"].([]any)[0]})
	ev("response.completed", map[string]any{"response": resp("completed", true)})
}
