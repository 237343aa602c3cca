package wire

import (
	"encoding/json"
	"iter"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Google's Generative Language API (ai.google.dev/api), "Gemini" here:
// POST /v1beta/models/{model}:generateContent answers one
// GenerateContentResponse; :streamGenerateContent?alt=sse streams a
// sequence of them as server-sent events, each a whole response object
// holding the next piece of every candidate, the usage so far and, on the
// last, the candidate's finishReason. There is no end-of-stream event.
// The model is named by the path, not the body.

// geminiMethods are the Generative Language API's model methods; a /v1/
// path ending in one of them is Gemini's, not OpenAI's (whose /v1/models/
// paths never carry a ":method"; a fine-tuned OpenAI model's id has colons,
// but not these words after the last).
var geminiMethods = []string{":generateContent", ":streamGenerateContent", ":countTokens", ":embedContent", ":batchEmbedContents"}

// isGeminiPath reports whether path is the Generative Language API's: under
// its /v1beta/ or /v1alpha/ version, or a /v1/models/… model method.
func isGeminiPath(path string) bool {
	if strings.HasPrefix(path, "/v1beta/") || strings.HasPrefix(path, "/v1alpha/") {
		return true
	}
	if !strings.HasPrefix(path, "/v1/models/") {
		return false
	}
	for _, m := range geminiMethods {
		if strings.HasSuffix(path, m) {
			return true
		}
	}
	return false
}

// GeminiModel is the model a Generative Language API path names
// (/v1beta/models/gemini-2.5-flash:generateContent → gemini-2.5-flash), or
// "" for a path that names none.
func GeminiModel(path string) string {
	_, rest, ok := strings.Cut(path, "/models/")
	if !ok {
		return ""
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	if strings.Contains(rest, "/") {
		return ""
	}
	return rest
}

// WithGeminiModel is path with the model it names replaced by model.
func WithGeminiModel(path, model string) string {
	old := GeminiModel(path)
	if old == "" {
		return path
	}
	i := strings.Index(path, "/models/") + len("/models/")
	return path[:i] + model + path[i+len(old):]
}

// geminiUsage is a response's usageMetadata
// (ai.google.dev/api/generate-content#UsageMetadata). promptTokenCount
// includes cachedContentTokenCount; thoughtsTokenCount and
// toolUsePromptTokenCount are outside the prompt and candidates counts
// (totalTokenCount adds them all); thoughts bill as output, tool-use
// prompts as input (ai.google.dev/gemini-api/docs/pricing).
type geminiUsage struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	TotalTokenCount         int64 `json:"totalTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount int64 `json:"toolUsePromptTokenCount"`
}

func (u *geminiUsage) normalize() Usage {
	n := Usage{
		Prompt:     u.PromptTokenCount + u.ToolUsePromptTokenCount,
		Completion: u.CandidatesTokenCount + u.ThoughtsTokenCount,
		Reasoning:  u.ThoughtsTokenCount,
		CachedRead: u.CachedContentTokenCount,
		Total:      u.TotalTokenCount,
	}
	if n.Total == 0 {
		n.Total = n.Prompt + n.Completion
	}
	return n
}

// geminiChunk is one GenerateContentResponse, streamed or not. Candidates
// and their parts stay raw: reassembly keeps every field it does not merge.
type geminiChunk struct {
	Candidates     []map[string]json.RawMessage `json:"candidates"`
	UsageMetadata  *geminiUsage                 `json:"usageMetadata"`
	ModelVersion   string                       `json:"modelVersion"`
	ResponseID     string                       `json:"responseId"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	Error json.RawMessage `json:"error"`
}

// geminiPart is the part of a content part reassembly reads: text (or a
// thought's text) is concatenated; any other part (functionCall,
// inlineData, executableCode, …) is kept whole.
type geminiPart struct {
	Text             *string `json:"text"`
	Thought          bool    `json:"thought"`
	ThoughtSignature string  `json:"thoughtSignature"`
}

// geminiStream reassembles :streamGenerateContent?alt=sse into the
// GenerateContentResponse :generateContent would have returned: each
// candidate's parts joined (adjacent text parts of the same kind
// concatenated), the candidate's other fields and the response's top-level
// fields as the last event that carried them, usageMetadata the last
// (it grows with the answer and is final on the last event).
type geminiStream struct {
	s          Stream
	top        map[string]json.RawMessage
	candidates map[int]*geminiCandidate
	finished   bool
}

type geminiCandidate struct {
	fields map[string]json.RawMessage // all but content
	role   string
	parts  []map[string]any
	text   []*strings.Builder // text of parts[i], when it is a text part
}

func (g *geminiStream) Event(ev Event) {
	var c geminiChunk
	if json.Unmarshal(ev.Data, &c) != nil {
		return
	}
	if c.Error != nil && string(c.Error) != "null" {
		g.s.Error = append(json.RawMessage(nil), ev.Data...)
		return
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(ev.Data, &top) != nil {
		return
	}
	delete(top, "candidates")
	if g.top == nil {
		g.top = map[string]json.RawMessage{}
	}
	maps.Copy(g.top, top)
	if c.ResponseID != "" && g.s.ID == "" {
		g.s.ID = c.ResponseID
	}
	if c.ModelVersion != "" {
		g.s.Model = c.ModelVersion
	}
	if c.UsageMetadata != nil {
		g.s.Usage, g.s.HasUsage = c.UsageMetadata.normalize(), true
	}
	if f := c.PromptFeedback; f != nil && f.BlockReason != "" && len(c.Candidates) == 0 {
		g.s.FinishReason, g.finished = f.BlockReason, true // the prompt was refused: nothing follows
	}
	generated := false
	for _, raw := range c.Candidates {
		if g.candidate(raw) {
			generated = true
		}
	}
	if generated {
		g.s.content(ev.T)
	}
}

// candidate merges one candidate's piece; it reports whether the piece
// carried generated output.
func (g *geminiStream) candidate(raw map[string]json.RawMessage) bool {
	var index int
	_ = json.Unmarshal(raw["index"], &index) // absent: candidate 0
	if g.candidates == nil {
		g.candidates = map[int]*geminiCandidate{}
	}
	cand := g.candidates[index]
	if cand == nil {
		cand = &geminiCandidate{fields: map[string]json.RawMessage{}}
		g.candidates[index] = cand
	}
	var content struct {
		Role  string            `json:"role"`
		Parts []json.RawMessage `json:"parts"`
	}
	_ = json.Unmarshal(raw["content"], &content)
	for k, v := range raw {
		if k != "content" {
			cand.fields[k] = v
		}
	}
	var finish string
	if json.Unmarshal(raw["finishReason"], &finish) == nil && finish != "" {
		g.finished = true
		if index == 0 || g.s.FinishReason == "" {
			g.s.FinishReason = finish
		}
	}
	if content.Role != "" {
		cand.role = content.Role
	}
	generated := false
	for _, p := range content.Parts {
		if cand.part(p) {
			generated = true
		}
	}
	return generated
}

// part appends one streamed part; it reports whether the part carried
// generated output (a thought signature alone on an empty text does not).
func (c *geminiCandidate) part(raw json.RawMessage) bool {
	var p geminiPart
	var whole map[string]any
	if json.Unmarshal(raw, &p) != nil || json.Unmarshal(raw, &whole) != nil {
		return false
	}
	if p.Text == nil {
		c.parts = append(c.parts, whole)
		c.text = append(c.text, nil)
		return true
	}
	n := len(c.parts)
	if n > 0 && c.text[n-1] != nil && c.parts[n-1]["thought"] == whole["thought"] {
		c.text[n-1].WriteString(*p.Text)
		if p.ThoughtSignature != "" {
			c.parts[n-1]["thoughtSignature"] = p.ThoughtSignature
		}
		return *p.Text != ""
	}
	b := &strings.Builder{}
	b.WriteString(*p.Text)
	c.parts = append(c.parts, whole)
	c.text = append(c.text, b)
	return *p.Text != ""
}

func (g *geminiStream) Finish() *Stream {
	// Gemini marks the end of an answer by a finishReason (or a refused
	// prompt), not by an event of its own.
	g.s.Done = g.finished
	if g.top == nil {
		return &g.s
	}
	resp := make(map[string]any, len(g.top)+1)
	for k, v := range g.top {
		resp[k] = v
	}
	var cands []any
	for _, i := range slices.Sorted(maps.Keys(g.candidates)) {
		c := g.candidates[i]
		parts := make([]any, len(c.parts))
		for j, p := range c.parts {
			if c.text[j] != nil {
				p["text"] = c.text[j].String()
			}
			parts[j] = p
		}
		out := make(map[string]any, len(c.fields)+1)
		for k, v := range c.fields {
			out[k] = v
		}
		content := map[string]any{"parts": parts}
		if c.role != "" {
			content["role"] = c.role
		}
		out["content"] = content
		cands = append(cands, out)
	}
	if cands != nil {
		resp["candidates"] = cands
	}
	g.s.Response, _ = json.Marshal(resp)
	return &g.s
}

// GeminiStatus is the google.rpc status name a Gemini error carries for an
// HTTP status ({"error": {"code", "message", "status"}};
// ai.google.dev/gemini-api/docs/troubleshooting).
func GeminiStatus(code int) string {
	switch code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable, 529:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout, http.StatusRequestTimeout:
		return "DEADLINE_EXCEEDED"
	}
	return "INTERNAL"
}

// ReadJSONArrayStream reads a stream framed as one JSON array of response
// objects — Gemini's :streamGenerateContent without ?alt=sse — as
// ReadStream reads server-sent events: each element is an event, at the
// offset of the read that completed it.
func ReadJSONArrayStream(kind Kind, chunks iter.Seq2[int64, []byte]) *Stream {
	r := NewReassembler(kind)
	if r == nil {
		return nil
	}
	var (
		depth      int
		inStr, esc bool
		elem       []byte
	)
	for t, data := range chunks {
		for _, b := range data {
			if depth == 0 { // between elements: the array's brackets, commas, space
				if b == '{' {
					depth, elem = 1, append(elem[:0], b)
				}
				continue
			}
			elem = append(elem, b)
			switch {
			case inStr:
				switch {
				case esc:
					esc = false
				case b == '\\':
					esc = true
				case b == '"':
					inStr = false
				}
			case b == '"':
				inStr = true
			case b == '{' || b == '[':
				depth++
			case b == '}' || b == ']':
				if depth--; depth == 0 {
					r.Event(Event{Data: elem, T: t})
				}
			}
		}
	}
	return r.Finish()
}

// IsGeminiStream reports whether path asks Gemini for a streamed answer.
func IsGeminiStream(path string) bool { return strings.HasSuffix(path, ":streamGenerateContent") }
