package capture

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/lessllm/lessllm/format/wire"
)

// responseTranslator turns an Anthropic response into the Chat Completions
// response the client asked for, as the bytes arrive. Streams are
// translated event by event (an event is written as soon as its last byte
// arrives: nothing is held back); a JSON body can only be translated whole,
// so it is collected first — it arrives at once anyway.
type responseTranslator struct {
	model        string // the alias the client named
	created      int64
	includeUsage bool

	status int
	stream bool
	sse    wire.SSEParser
	events *wire.AnthropicToOpenAIStream
	whole  []byte // non-streamed or error body
}

func newResponseTranslator(clientBody []byte, model string, start time.Time) *responseTranslator {
	var req struct {
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	_ = json.Unmarshal(clientBody, &req)
	return &responseTranslator{model: model, created: start.Unix(), includeUsage: req.StreamOptions.IncludeUsage}
}

// begin adapts the response headers before they are sent.
func (t *responseTranslator) begin(resp *http.Response, h http.Header) {
	t.status = resp.StatusCode
	t.stream = resp.StatusCode == http.StatusOK && mediaType(resp.Header.Get("Content-Type")) == "text/event-stream"
	h.Del("Content-Length") // the translated body has another length
	if t.stream {
		t.events = &wire.AnthropicToOpenAIStream{Model: t.model, Created: t.created, IncludeUsage: t.includeUsage}
		return
	}
	h.Set("Content-Type", "application/json")
}

// chunk translates one read of the upstream body, writing what the client
// should see now.
func (t *responseTranslator) chunk(ts int64, p []byte, w io.Writer) error {
	if !t.stream {
		t.whole = append(t.whole, p...)
		return nil
	}
	var err error
	t.sse.Feed(ts, p, func(ev wire.Event) {
		t.events.Event(ev, func(b []byte) {
			if err == nil {
				_, err = w.Write(b)
			}
		})
	})
	return err
}

// end writes the translation of a collected body at upstream EOF.
func (t *responseTranslator) end(w io.Writer) error {
	if t.stream {
		return nil
	}
	var out []byte
	if t.status == http.StatusOK {
		var err error
		if out, err = wire.AnthropicToOpenAIChat(t.whole, t.model, t.created); err != nil {
			out = wire.AnthropicErrorToOpenAI([]byte(`{"error":{"type":"api_error","message":"lessllm could not translate the upstream response: `+jsonEscape(err.Error())+`"}}`), http.StatusBadGateway)
		}
	} else {
		out = wire.AnthropicErrorToOpenAI(t.whole, t.status)
	}
	_, err := w.Write(out)
	return err
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func mediaType(ct string) string {
	for i := 0; i < len(ct); i++ {
		if ct[i] == ';' || ct[i] == ' ' {
			return ct[:i]
		}
	}
	return ct
}
