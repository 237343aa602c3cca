package capture

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// TestClientDisconnectCancelsUpstream: a client that goes away mid-stream
// cancels the upstream request, and the record says so and keeps what
// arrived.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	cancelled := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: {\"i\":%d}\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				close(cancelled)
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	defer slow.Close()
	h := newHarness(t, apitest.Options{}, func(c *config.File) { c.Providers[config.OpenAI].BaseURL = slow.URL + "/v1" })
	resp, err := http.Post(h.inst.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for range 3 {
		br.ReadString('\n')
		br.ReadString('\n')
	}
	resp.Body.Close() // the client hangs up after three events
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not cancelled after the client left")
	}
	rec := byPath(t, h.records(t), "/v1/chat/completions")
	if rec.Error == nil || rec.Error.Kind != format.ErrClientDisconnect {
		t.Fatalf("recorded error %+v, want %s", rec.Error, format.ErrClientDisconnect)
	}
	if !strings.HasPrefix(string(rec.Response.Body()), "data: {\"i\":0}\n\ndata: {\"i\":1}\n\ndata: {\"i\":2}\n\n") {
		t.Fatalf("the chunks that arrived were not kept: %q", rec.Response.Body())
	}
}
