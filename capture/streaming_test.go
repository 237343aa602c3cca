package capture

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// TestStreamingIsNotBuffered proves, without timing anything, that every
// chunk reaches the client before the upstream sends the next one: the
// upstream waits for the client to acknowledge each event. A proxy that
// held back even one chunk would deadlock here and fail at the timeout.
// Each door into capture is tried: OpenAI's path, Azure OpenAI's (a
// client built for Azure, and an alias to an Azure deployment), and
// Gemini's (its own API, and an OpenAI-SDK alias to its OpenAI-compatible
// endpoint).
func TestStreamingIsNotBuffered(t *testing.T) {
	for _, door := range []struct {
		name, path, model, upstreamPath string
		provider                        func(upstream string) (string, *config.Provider)
	}{
		{"openai", "/v1/chat/completions", "m", "/v1/chat/completions", func(up string) (string, *config.Provider) {
			return config.OpenAI, &config.Provider{Type: config.OpenAI, BaseURL: up + "/v1"}
		}},
		{"azure_client", "/openai/deployments/d/chat/completions?api-version=2024-10-21", "m", "/openai/deployments/d/chat/completions",
			func(up string) (string, *config.Provider) {
				return config.AzureOpenAI, &config.Provider{Type: config.AzureOpenAI, BaseURL: up, APIKey: configAzureKey}
			}},
		{"azure_alias", "/v1/chat/completions", "on-azure", "/openai/deployments/m/chat/completions", func(up string) (string, *config.Provider) {
			return config.AzureOpenAI, &config.Provider{Type: config.AzureOpenAI, BaseURL: up, APIKey: configAzureKey, APIVersion: "2024-10-21"}
		}},
		{"gemini", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "", "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
			func(up string) (string, *config.Provider) {
				return config.Gemini, &config.Provider{Type: config.Gemini, BaseURL: up, APIKey: configGeminiKey}
			}},
		{"gemini_alias", "/v1/chat/completions", "on-gemini", "/v1beta/openai/chat/completions", func(up string) (string, *config.Provider) {
			return config.Gemini, &config.Provider{Type: config.Gemini, BaseURL: up, APIKey: configGeminiKey}
		}},
	} {
		t.Run(door.name, func(t *testing.T) {
			lockstepThrough(t, door.path, door.model, door.upstreamPath, door.provider)
		})
	}
}

// awaitAck waits for the client to acknowledge event i; false (and an
// error) after 5 s: the proxy holds the event back.
func awaitAck(t *testing.T, acks <-chan int, i int) bool {
	select {
	case got := <-acks:
		if got != i {
			t.Errorf("client acknowledged %d, want %d", got, i)
		}
		return true
	case <-time.After(5 * time.Second):
		t.Errorf("event %d not delivered to the client within 5 s: the proxy buffers", i)
		return false
	}
}

func lockstepThrough(t *testing.T, path, model, upstreamPath string, provider func(upstream string) (string, *config.Provider)) {
	const events = 20
	acks := make(chan int)
	var sent bytes.Buffer
	lockstep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != upstreamPath {
			t.Errorf("upstream got %s, want %s", r.URL.Path, upstreamPath)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range events {
			ev := fmt.Sprintf("data: {\"i\":%d,\"pad\":%q}\n\n", i, strings.Repeat("x", i*37))
			sent.WriteString(ev)
			io.WriteString(w, ev)
			w.(http.Flusher).Flush()
			if !awaitAck(t, acks, i) {
				return
			}
		}
	}))
	defer lockstep.Close()
	h := newHarness(t, apitest.Options{}, func(c *config.File) {
		name, p := provider(lockstep.URL)
		c.Providers[name] = p
		c.Models["on-azure"] = config.ModelAlias{Provider: config.AzureOpenAI, Model: "m"}
		c.Models["on-gemini"] = config.ModelAlias{Provider: config.Gemini, Model: "gemini-2.5-flash"}
	})
	resp, err := http.Post(h.inst.URL+path, "application/json", strings.NewReader(`{"model":"`+model+`","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	br := bufio.NewReader(io.TeeReader(resp.Body, &got))
	for i := range events {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !strings.HasPrefix(line, fmt.Sprintf(`data: {"i":%d,`, i)) {
			t.Fatalf("event %d: got %q", i, line)
		}
		br.ReadString('\n') // the blank line ending the event
		acks <- i
	}
	io.Copy(io.Discard, br)
	if got.String() != sent.String() {
		t.Fatal("the client's bytes differ from what the upstream sent")
	}
	recs := h.records(t)
	rec := recs[len(recs)-1]
	if string(rec.Response.Body()) != sent.String() {
		t.Fatal("the recorded chunks differ from what the upstream sent")
	}
	if len(rec.Response.Chunks) != events {
		t.Fatalf("%d chunks recorded for %d lock-stepped events", len(rec.Response.Chunks), events)
	}
}

// TestCaptureCapTruncatesRecordNotClient: beyond max_body_bytes the record
// is cut and marked, and the client still gets every byte.
func TestCaptureCapTruncatesRecordNotClient(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: time.Millisecond, TPOT: time.Microsecond, OutputTokens: 400}, func(c *config.File) {
		c.Capture.MaxBodyBytes = 1000
	})
	req, _ := http.NewRequest(http.MethodPost, h.inst.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"`+strings.Repeat("long ", 400)+`"}]}`))
	req.Header.Set("Accept-Encoding", "identity") // wire bytes = client bytes
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) {
		t.Fatalf("client did not get the whole stream (%d bytes)", len(body))
	}
	rec := byPath(t, h.records(t), "/v1/chat/completions")
	if !rec.Response.Truncated || len(rec.Response.Body()) != 1000 || rec.Response.Bytes != int64(len(body)) {
		t.Fatalf("record: truncated %v, %d bytes captured of %d (client got %d)", rec.Response.Truncated, len(rec.Response.Body()), rec.Response.Bytes, len(body))
	}
	if !rec.Request.Truncated || rec.Request.JSON != nil || len(rec.Request.Text) != 1000 {
		t.Fatalf("request record: truncated %v, json %v, text %d bytes", rec.Request.Truncated, rec.Request.JSON != nil, len(rec.Request.Text))
	}
}

// TestTranslatedStreamIsNotBuffered: the same lock-step proof through a
// translated alias — each Anthropic text delta must reach the OpenAI client
// as a chat.completion.chunk before the upstream sends the next one.
func TestTranslatedStreamIsNotBuffered(t *testing.T) {
	const tokens = 15
	acks := make(chan int)
	lockstep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		send := func(event, data string) {
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data)
			w.(http.Flusher).Flush()
		}
		send("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":5,"output_tokens":1}}}`)
		send("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
		for i := range tokens {
			send("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"t%d "}}`, i))
			select {
			case <-acks:
			case <-time.After(5 * time.Second):
				t.Errorf("token %d not delivered to the client within 5 s: the translation buffers", i)
				return
			}
		}
		send("content_block_stop", `{"type":"content_block_stop","index":0}`)
		send("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":%d}}`, tokens))
		send("message_stop", `{"type":"message_stop"}`)
	}))
	defer lockstep.Close()
	h := newHarness(t, apitest.Options{}, func(c *config.File) {
		c.Providers[config.Anthropic].BaseURL = lockstep.URL
		c.Models["claude"] = config.ModelAlias{Provider: config.Anthropic, Model: "claude-x"}
	})
	resp, err := http.Post(h.inst.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"claude","stream":true,"messages":[{"role":"user","content":"go"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	got := 0
	for got < tokens {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d tokens: %v", got, err)
		}
		if strings.Contains(line, fmt.Sprintf(`"content":"t%d "`, got)) {
			got++
			acks <- got
		}
	}
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), `"finish_reason":"stop"`) || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Fatalf("translated stream did not end properly: %q", rest)
	}
}
