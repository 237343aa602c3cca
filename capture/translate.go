package capture

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/lessllm/lessllm/format/wire"
)

// responseTranslator turns the upstream's response into the one the
// client's API would have given, as the bytes arrive: Anthropic → Chat
// Completions for OpenAI clients, Chat Completions → Anthropic for Anthropic
// clients. Streams are translated event by event (an event is written as
// soon as its last byte arrives: nothing is held back); a JSON body can only
// be translated whole, so it is collected first — it arrives at once anyway.
type responseTranslator struct {
	toOpenAI     bool   // client speaks OpenAI, upstream Anthropic
	model        string // the alias the client named
	created      int64
	includeUsage bool

	status int
	stream bool
	sse    wire.SSEParser
	events interface {
		Event(ev wire.Event, emit func([]byte))
	}
	whole []byte // non-streamed or error body
}

// newResponseTranslator prepares the translation of the response to a
// request the client sent in dialect clientDialect.
func newResponseTranslator(clientDialect string, clientBody []byte, model string, start time.Time) *responseTranslator {
	var req struct {
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	_ = json.Unmarshal(clientBody, &req)
	return &responseTranslator{toOpenAI: clientDialect == dialectOpenAI, model: model, created: start.Unix(),
		includeUsage: req.StreamOptions.IncludeUsage}
}

// begin adapts the response headers before they are sent.
func (t *responseTranslator) begin(resp *http.Response, h http.Header) {
	t.status = resp.StatusCode
	t.stream = resp.StatusCode == http.StatusOK && mediaType(resp.Header.Get("Content-Type")) == "text/event-stream"
	h.Del("Content-Length") // the translated body has another length
	if t.stream {
		if t.toOpenAI {
			t.events = &wire.AnthropicToOpenAIStream{Model: t.model, Created: t.created, IncludeUsage: t.includeUsage}
		} else {
			t.events = &wire.OpenAIToAnthropicStream{Model: t.model}
		}
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
	var err error
	switch {
	case t.status != http.StatusOK && t.toOpenAI:
		out = wire.AnthropicErrorToOpenAI(t.whole, t.status)
	case t.status != http.StatusOK:
		out = wire.OpenAIErrorToAnthropic(t.whole, t.status)
	case t.toOpenAI:
		out, err = wire.AnthropicToOpenAIChat(t.whole, t.model, t.created)
	default:
		out, err = wire.OpenAIChatToAnthropicResponse(t.whole, t.model)
	}
	if err != nil {
		// The status line is out already; the body says what went wrong.
		msg, _ := json.Marshal("lessllm could not translate the upstream response: " + err.Error())
		if t.toOpenAI {
			out = []byte(`{"error":{"message":` + string(msg) + `,"type":"server_error","param":null,"code":"untranslatable_response"}}`)
		} else {
			out = []byte(`{"type":"error","error":{"type":"api_error","message":` + string(msg) + `}}`)
		}
	}
	_, err = w.Write(out)
	return err
}

func mediaType(ct string) string {
	for i := 0; i < len(ct); i++ {
		if ct[i] == ';' || ct[i] == ' ' {
			return ct[:i]
		}
	}
	return ct
}
