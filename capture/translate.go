package capture

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/lessllm/lessllm/capture/config"

	"github.com/lessllm/lessllm/format/wire"
)

// bodyRewriter gives the client another body than the upstream sent: a
// translation, or a model list with the aliases added. The record always
// keeps the upstream's bytes.
type bodyRewriter interface {
	// collects reports whether the body must be read whole before any of
	// it can be written (relay then holds the status line back too).
	collects(resp *http.Response) bool
	// begin adapts the response headers before they are sent.
	begin(resp *http.Response, h http.Header)
	// chunk takes one read of the upstream body, writing what the client
	// should see now.
	chunk(t int64, p []byte, w io.Writer) error
	// end writes what is left at the end of the upstream body.
	end(w io.Writer) error
}

var (
	_ bodyRewriter = (*responseTranslator)(nil)
	_ bodyRewriter = (*modelsLister)(nil)
)

// modelsLister adds the configured aliases to the upstream's model list
// (GET /v1/models), so clients that pick a model from the list see them.
type modelsLister struct {
	dialect wire.Dialect
	aliases map[string]config.ModelAlias
	status  int
	body    []byte
}

func (m *modelsLister) collects(*http.Response) bool { return true }

func (m *modelsLister) begin(resp *http.Response, h http.Header) {
	m.status = resp.StatusCode
	h.Del("Content-Length")
}

func (m *modelsLister) chunk(_ int64, p []byte, _ io.Writer) error {
	m.body = append(m.body, p...)
	return nil
}

func (m *modelsLister) end(w io.Writer) error {
	var list map[string]json.RawMessage
	var data []json.RawMessage
	if m.status != http.StatusOK || json.Unmarshal(m.body, &list) != nil || json.Unmarshal(list["data"], &data) != nil {
		_, err := w.Write(m.body) // not a list we know: unchanged
		return err
	}
	names := make([]string, 0, len(m.aliases))
	for a := range m.aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		target := m.aliases[a].Provider + "/" + m.aliases[a].Model
		var entry map[string]any
		if m.dialect == wire.Anthropic {
			entry = map[string]any{"type": "model", "id": a, "display_name": a + " (lessllm alias for " + target + ")", "created_at": "1970-01-01T00:00:00Z"}
		} else {
			entry = map[string]any{"id": a, "object": "model", "created": 0, "owned_by": "lessllm alias for " + target}
		}
		b, _ := json.Marshal(entry)
		data = append(data, b)
	}
	list["data"], _ = json.Marshal(data)
	out, err := json.Marshal(list)
	if err != nil {
		out = m.body
	}
	_, err = w.Write(out)
	return err
}

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
	maxEvent     int64 // capture.max_body_bytes: no event may buffer more

	status int
	stream bool
	sse    wire.SSEParser
	events interface {
		Event(ev wire.Event, emit func([]byte))
	}
	whole []byte // non-streamed or error body

	// chunk's callbacks, made once per stream so that a chunk allocates
	// none; w and werr are the writer and the first error of the chunk
	// being translated.
	onEvent func(wire.Event)
	onOut   func([]byte)
	w       io.Writer
	werr    error
}

// newResponseTranslator prepares the translation of the response to a
// request the client sent in dialect clientDialect.
func newResponseTranslator(clientDialect wire.Dialect, clientBody []byte, model string, start time.Time, maxEvent int64) *responseTranslator {
	toOpenAI := clientDialect == wire.OpenAI
	return &responseTranslator{toOpenAI: toOpenAI, model: model, created: start.Unix(),
		includeUsage: toOpenAI && wire.IncludeUsage(clientBody), maxEvent: maxEvent}
}

// errEventTooLarge ends a translated stream whose upstream sends an event
// that never ends (capture.max_body_bytes without a blank line).
var errEventTooLarge = errors.New("an upstream event exceeds capture.max_body_bytes without ending")

func isStream(resp *http.Response) bool {
	return resp.StatusCode == http.StatusOK && mediaType(resp.Header.Get("Content-Type")) == "text/event-stream"
}

func (t *responseTranslator) collects(resp *http.Response) bool { return !isStream(resp) }

// begin adapts the response headers before they are sent.
func (t *responseTranslator) begin(resp *http.Response, h http.Header) {
	t.status = resp.StatusCode
	t.stream = isStream(resp)
	h.Del("Content-Length") // the translated body has another length
	if t.stream {
		if t.toOpenAI {
			t.events = &wire.AnthropicToOpenAIStream{Model: t.model, Created: t.created, IncludeUsage: t.includeUsage}
		} else {
			t.events = &wire.OpenAIToAnthropicStream{Model: t.model}
		}
		t.onEvent, t.onOut = t.event, t.out
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
	t.w, t.werr = w, nil
	t.sse.Feed(ts, p, t.onEvent)
	err := t.werr
	t.w, t.werr = nil, nil
	if err == nil && int64(t.sse.Buffered()) > t.maxEvent {
		err = errEventTooLarge
	}
	return err
}

func (t *responseTranslator) event(ev wire.Event) { t.events.Event(ev, t.onOut) }

func (t *responseTranslator) out(b []byte) {
	if t.werr == nil {
		_, t.werr = t.w.Write(b)
	}
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
