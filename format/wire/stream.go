package wire

import (
	"encoding/json"
	"iter"
	"maps"
	"slices"
	"strings"
)

// Stream is a streamed response read back: the JSON the non-streamed API
// would have returned, and what timing analysis needs.
type Stream struct {
	// Response is the reassembled response object (chat.completion,
	// response, or message), nil when nothing could be reassembled.
	Response json.RawMessage
	ID       string
	Model    string
	// FinishReason in the dialect's own words (stop, length, tool_calls,
	// end_turn, max_tokens, tool_use, completed, …).
	FinishReason string
	Usage        Usage
	HasUsage     bool
	// Content events carry generated output (text, tool-call arguments,
	// reasoning) — not role-only chunks, pings or message_start. TTFT ends
	// at the first, TPOT spans first to last (ARCHITECTURE.md §5).
	ContentEvents  int
	FirstContentNS int64
	LastContentNS  int64
	// ContentNS are the distinct times (offsets from the exchange start) at
	// which content arrived: events read together share one time, so gaps
	// between entries are the inter-token latencies of the stream.
	ContentNS []int64
	// Done: the stream ended as the API ends a complete answer ([DONE],
	// message_stop, response.completed). False means it was cut.
	Done bool
	// Error is the payload of an error event, if the API sent one.
	Error json.RawMessage
}

func (s *Stream) content(t int64) {
	if s.ContentEvents == 0 {
		s.FirstContentNS = t
	}
	s.LastContentNS = t
	s.ContentEvents++
	if n := len(s.ContentNS); n == 0 || s.ContentNS[n-1] != t {
		s.ContentNS = append(s.ContentNS, t)
	}
}

// Reassembler consumes the events of one streamed response.
type Reassembler interface {
	Event(ev Event)
	Finish() *Stream
}

// NewReassembler returns the reassembler for kind, or nil when streams of
// that kind are not understood.
func NewReassembler(kind Kind) Reassembler {
	switch kind {
	case KindOpenAIChat, KindOpenAICompletions:
		return &openAIChatStream{}
	case KindOpenAIResponses:
		return &responsesStream{}
	case KindAnthropicMessages:
		return &anthropicStream{}
	case KindGeminiGenerate:
		return &geminiStream{}
	}
	return nil
}

// ReadStream parses a whole SSE body given as timed chunks (offset, bytes).
// It neither modifies the chunks' bytes nor keeps them after it returns.
func ReadStream(kind Kind, chunks iter.Seq2[int64, []byte]) *Stream {
	r := NewReassembler(kind)
	if r == nil {
		return nil
	}
	var p SSEParser
	for t, data := range chunks {
		p.Feed(t, data, r.Event)
	}
	return r.Finish()
}

// --- OpenAI Chat Completions (and legacy Completions) ---

type openAIChatStream struct {
	s       Stream
	object  string
	created int64
	fp      string
	choices map[int]*chatChoice
	text    bool      // legacy completions: choices carry "text"
	prev    chatChunk // the last event's identity fields, shared by the next
	scratch []byte    // decoded text of the event on the fast path
	noFast  bool      // tests: take the general path only
	tmpl    eventTemplate
}

type chatChoice struct {
	Role         string
	Content      strings.Builder
	Refusal      strings.Builder
	Reasoning    strings.Builder
	ToolCalls    map[int]*chatToolCall
	FinishReason string
}

type chatToolCall struct {
	ID   string
	Type string
	Name string
	Args strings.Builder
}

type chatChunk struct {
	ID                string           `json:"id"`
	Object            string           `json:"object"`
	Created           int64            `json:"created"`
	Model             string           `json:"model"`
	SystemFingerprint string           `json:"system_fingerprint"`
	Usage             *openAIChatUsage `json:"usage"`
	Error             json.RawMessage  `json:"error"`
	Choices           []chunkChoice    `json:"choices"`
}

type chunkChoice struct {
	Index        int        `json:"index"`
	Text         *string    `json:"text"`
	FinishReason *string    `json:"finish_reason"`
	Delta        chunkDelta `json:"delta"`
}

type chunkDelta struct {
	Role             string          `json:"role"`
	Content          *string         `json:"content"`
	Refusal          *string         `json:"refusal"`
	ReasoningContent *string         `json:"reasoning_content"`
	ToolCalls        []toolCallDelta `json:"tool_calls"`
}

type toolCallDelta struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

func (o *openAIChatStream) Event(ev Event) {
	if string(ev.Data) == "[DONE]" {
		o.s.Done = true
		return
	}
	if !o.noFast && (o.templateEvent(ev.Data, ev.T) || o.fastEvent(ev.Data, ev.T)) {
		return
	}
	o.tmpl.forget() // the general way may change what the template assumes
	o.general(ev.Data, ev.T)
}

// general applies any Chat Completions event: decoded by hand, else (for
// anything unusual) by encoding/json.
func (o *openAIChatStream) general(data []byte, t int64) {
	var c chatChunk
	if decodeChatChunk(data, &c, &o.prev) != nil {
		c = chatChunk{}
		if json.Unmarshal(data, &c) != nil {
			return
		}
	}
	if c.Error != nil && string(c.Error) != "null" {
		o.s.Error = append(json.RawMessage(nil), c.Error...)
		return
	}
	o.prev = chatChunk{ID: c.ID, Object: c.Object, Model: c.Model, SystemFingerprint: c.SystemFingerprint}
	if o.s.ID == "" {
		o.s.ID, o.object, o.created = c.ID, c.Object, c.Created
	}
	if c.Model != "" {
		o.s.Model = c.Model
	}
	if c.SystemFingerprint != "" {
		o.fp = c.SystemFingerprint
	}
	if c.Usage != nil {
		o.s.Usage, o.s.HasUsage = c.Usage.normalize(), true
	}
	if o.choices == nil {
		o.choices = map[int]*chatChoice{}
	}
	generated := false
	for _, ch := range c.Choices {
		cc := o.choices[ch.Index]
		if cc == nil {
			cc = &chatChoice{ToolCalls: map[int]*chatToolCall{}}
			o.choices[ch.Index] = cc
		}
		d := ch.Delta
		if d.Role != "" {
			cc.Role = d.Role
		}
		if ch.Text != nil && *ch.Text != "" {
			o.text = true
			cc.Content.WriteString(*ch.Text)
			generated = true
		}
		for _, p := range []struct {
			v *string
			b *strings.Builder
		}{{d.Content, &cc.Content}, {d.Refusal, &cc.Refusal}, {d.ReasoningContent, &cc.Reasoning}} {
			if p.v != nil && *p.v != "" {
				p.b.WriteString(*p.v)
				generated = true
			}
		}
		for _, tc := range d.ToolCalls {
			call := cc.ToolCalls[tc.Index]
			if call == nil {
				call = &chatToolCall{}
				cc.ToolCalls[tc.Index] = call
			}
			if tc.ID != "" {
				call.ID = tc.ID
			}
			if tc.Type != "" {
				call.Type = tc.Type
			}
			if tc.Function.Name != "" {
				call.Name = tc.Function.Name
				generated = true
			}
			if tc.Function.Arguments != "" {
				call.Args.WriteString(tc.Function.Arguments)
				generated = true
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			cc.FinishReason = *ch.FinishReason
			o.s.FinishReason = cc.FinishReason
		}
	}
	if generated {
		o.s.content(t)
	}
}

func (o *openAIChatStream) Finish() *Stream {
	if o.s.ID == "" && o.choices == nil {
		return &o.s
	}
	idx := slices.Sorted(maps.Keys(o.choices))
	resp := chatCompletion{Object: "chat.completion", Created: o.created, ID: o.s.ID, Model: o.s.Model,
		SystemFingerprint: o.fp, Choices: make([]chatCompletionChoice, 0, len(idx))}
	if o.text {
		resp.Object = "text_completion"
	}
	for _, i := range idx {
		cc := o.choices[i]
		c := chatCompletionChoice{Index: i, FinishReason: optional(cc.FinishReason)}
		if o.text {
			c.Text = ptr(cc.Content.String())
			resp.Choices = append(resp.Choices, c)
			continue
		}
		m := &chatCompletionMessage{Role: "assistant", Content: optional(cc.Content.String()),
			Refusal: optional(cc.Refusal.String()), Reasoning: optional(cc.Reasoning.String())}
		if cc.Role != "" {
			m.Role = cc.Role
		}
		for _, k := range slices.Sorted(maps.Keys(cc.ToolCalls)) {
			tc := cc.ToolCalls[k]
			typ := tc.Type
			if typ == "" {
				typ = "function"
			}
			m.ToolCalls = append(m.ToolCalls, chatCompletionToolCall{ID: tc.ID, Type: typ,
				Function: chatCompletionFunction{Name: tc.Name, Arguments: tc.Args.String()}})
		}
		c.Message = m
		resp.Choices = append(resp.Choices, c)
	}
	if o.s.HasUsage {
		resp.Usage = o.s.Usage.openAIChat()
	}
	o.s.Response, _ = json.Marshal(resp)
	return &o.s
}

// chatCompletion is the non-streamed Chat Completions (or legacy
// Completions) response a stream is reassembled into. Fields are in the
// order of their names, so the JSON reads like encoding/json's rendering
// of the same object as a map; structs instead of maps because marshalling
// maps (reflection on every key, sorted every time) was most of the cost
// of reassembling a stream.
type chatCompletion struct {
	Choices           []chatCompletionChoice `json:"choices"`
	Created           int64                  `json:"created"`
	ID                string                 `json:"id"`
	Model             string                 `json:"model"`
	Object            string                 `json:"object"`
	SystemFingerprint string                 `json:"system_fingerprint,omitempty"`
	Usage             *chatUsage             `json:"usage,omitempty"`
}

type chatCompletionChoice struct {
	FinishReason *string                `json:"finish_reason"`
	Index        int                    `json:"index"`
	Logprobs     *struct{}              `json:"logprobs"` // always null
	Message      *chatCompletionMessage `json:"message,omitempty"`
	Text         *string                `json:"text,omitempty"` // legacy completions
}

type chatCompletionMessage struct {
	Content   *string                  `json:"content"`
	Reasoning *string                  `json:"reasoning_content,omitempty"`
	Refusal   *string                  `json:"refusal"`
	Role      string                   `json:"role"`
	ToolCalls []chatCompletionToolCall `json:"tool_calls,omitempty"`
}

type chatCompletionToolCall struct {
	Function chatCompletionFunction `json:"function"`
	ID       string                 `json:"id"`
	Type     string                 `json:"type"`
}

type chatCompletionFunction struct {
	Arguments string `json:"arguments"`
	Name      string `json:"name"`
}

type chatUsage struct {
	Completion        int64 `json:"completion_tokens"`
	CompletionDetails struct {
		Reasoning int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	Prompt        int64 `json:"prompt_tokens"`
	PromptDetails struct {
		CachedRead int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	Total int64 `json:"total_tokens"`
}

// optional is nil for "": the JSON null of an absent text.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func ptr[T any](v T) *T { return &v }

// openAIChat renders usage in Chat Completions' shape.
func (u Usage) openAIChat() *chatUsage {
	c := &chatUsage{Completion: u.Completion, Prompt: u.Prompt, Total: u.Total}
	c.CompletionDetails.Reasoning = u.Reasoning
	c.PromptDetails.CachedRead = u.CachedRead
	return c
}

// --- OpenAI Responses ---

type responsesStream struct{ s Stream }

func (r *responsesStream) Event(ev Event) {
	var e struct {
		Type     string          `json:"type"`
		Delta    json.RawMessage `json:"delta"`
		Response json.RawMessage `json:"response"`
	}
	if json.Unmarshal(ev.Data, &e) != nil {
		return
	}
	switch {
	case strings.HasSuffix(e.Type, ".delta"):
		// output_text, function_call_arguments, reasoning(_summary)_text,
		// refusal …: every delta is generated output.
		r.s.content(ev.T)
	case e.Type == "response.completed" || e.Type == "response.incomplete" || e.Type == "response.failed":
		r.s.Done = e.Type == "response.completed"
		r.terminal(e.Response)
	case e.Type == "response.created":
		r.terminal(e.Response)
	case e.Type == "error":
		r.s.Error = append(json.RawMessage(nil), ev.Data...)
	}
}

// terminal takes the response object an event carries: the terminal event
// carries the complete response, usage included.
func (r *responsesStream) terminal(raw json.RawMessage) {
	var resp struct {
		ID     string                `json:"id"`
		Model  string                `json:"model"`
		Status string                `json:"status"`
		Usage  *openAIResponsesUsage `json:"usage"`
	}
	if json.Unmarshal(raw, &resp) != nil {
		return
	}
	r.s.Response = append(json.RawMessage(nil), raw...)
	r.s.ID, r.s.Model, r.s.FinishReason = resp.ID, resp.Model, resp.Status
	if resp.Usage != nil {
		r.s.Usage, r.s.HasUsage = resp.Usage.normalize(), true
	}
}

func (r *responsesStream) Finish() *Stream { return &r.s }

// --- Anthropic Messages ---

type anthropicStream struct {
	s       Stream
	message map[string]any
	usage   anthropicUsage
	blocks  map[int]*anthropicBlock
	order   []int
}

type anthropicBlock struct {
	start json.RawMessage // content_block from content_block_start
	text  strings.Builder // text_delta / thinking_delta
	json  strings.Builder // input_json_delta
	sig   strings.Builder // signature_delta
}

func (a *anthropicStream) Event(ev Event) {
	var e struct {
		Type         string          `json:"type"`
		Index        int             `json:"index"`
		Message      json.RawMessage `json:"message"`
		ContentBlock json.RawMessage `json:"content_block"`
		Delta        struct {
			Type        string  `json:"type"`
			Text        string  `json:"text"`
			Thinking    string  `json:"thinking"`
			PartialJSON string  `json:"partial_json"`
			Signature   string  `json:"signature"`
			StopReason  *string `json:"stop_reason"`
			StopSeq     *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage *anthropicUsage `json:"usage"`
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(ev.Data, &e) != nil {
		return
	}
	switch e.Type {
	case "message_start":
		var m map[string]any
		if json.Unmarshal(e.Message, &m) == nil {
			a.message = m
			a.s.ID, _ = m["id"].(string)
			a.s.Model, _ = m["model"].(string)
		}
		var u struct {
			Usage *anthropicUsage `json:"usage"`
		}
		if json.Unmarshal(e.Message, &u) == nil && u.Usage != nil {
			a.usage.merge(u.Usage)
			a.s.HasUsage = true
		}
	case "content_block_start":
		if a.blocks == nil {
			a.blocks = map[int]*anthropicBlock{}
		}
		a.blocks[e.Index] = &anthropicBlock{start: append(json.RawMessage(nil), e.ContentBlock...)}
		a.order = append(a.order, e.Index)
		var blk struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(e.ContentBlock, &blk) == nil && strings.HasSuffix(blk.Type, "tool_use") {
			a.s.content(ev.T) // the tool's name is generated output, as in OpenAI's first tool-call chunk
		}
	case "content_block_delta":
		b := a.blocks[e.Index]
		if b == nil {
			return
		}
		var generated string
		switch e.Delta.Type {
		case "text_delta":
			generated = e.Delta.Text
			b.text.WriteString(generated)
		case "thinking_delta":
			generated = e.Delta.Thinking
			b.text.WriteString(generated)
		case "input_json_delta":
			generated = e.Delta.PartialJSON
			b.json.WriteString(generated)
		case "signature_delta":
			b.sig.WriteString(e.Delta.Signature) // a signature is not generated content
		}
		if generated != "" { // empty deltas occur and carry nothing
			a.s.content(ev.T)
		}
	case "message_delta":
		if e.Delta.StopReason != nil {
			a.s.FinishReason = *e.Delta.StopReason
			if a.message != nil {
				a.message["stop_reason"] = *e.Delta.StopReason
				a.message["stop_sequence"] = e.Delta.StopSeq
			}
		}
		if e.Usage != nil {
			a.usage.merge(e.Usage) // the final counts win (ARCHITECTURE.md §8)
			a.s.HasUsage = true
		}
	case "message_stop":
		a.s.Done = true
	case "error":
		a.s.Error = append(json.RawMessage(nil), ev.Data...)
	}
}

// setToolInput sets a reassembled tool call's input from its streamed
// JSON text: "input" when it is whole ({} when nothing came), else the text
// as "input_partial_json" (the stream was cut mid-arguments).
func setToolInput(call map[string]any, streamed string) {
	input := json.RawMessage(streamed)
	if streamed == "" {
		input = json.RawMessage("{}")
	}
	if json.Valid(input) {
		call["input"] = input
	} else {
		call["input_partial_json"] = streamed
	}
}

func (a *anthropicStream) Finish() *Stream {
	if a.s.HasUsage {
		a.s.Usage = a.usage.normalize()
	}
	if a.message == nil {
		return &a.s
	}
	content := make([]any, 0, len(a.order))
	for _, i := range a.order {
		b := a.blocks[i]
		var blk map[string]any
		if json.Unmarshal(b.start, &blk) != nil {
			continue
		}
		switch blk["type"] {
		case "text":
			blk["text"] = b.text.String()
		case "thinking":
			blk["thinking"] = b.text.String()
			blk["signature"] = b.sig.String()
		case "tool_use", "server_tool_use":
			setToolInput(blk, b.json.String())
		}
		content = append(content, blk)
	}
	a.message["content"] = content
	var usage map[string]any
	raw, _ := json.Marshal(a.usage)
	_ = json.Unmarshal(raw, &usage)
	a.message["usage"] = usage
	a.s.Response, _ = json.Marshal(a.message)
	return &a.s
}
