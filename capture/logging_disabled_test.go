package capture

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// TestLoggingDisabledRecordsNothing: logging.enabled: false (the
// Python example's config) is a plain proxy — calls are forwarded and
// answered, no segment directory or file is created, /healthz is ok.
func TestLoggingDisabledRecordsNothing(t *testing.T) {
	off := false
	var dir string
	h := newHarness(t, apitest.Options{TTFT: -1, TPOT: -1, OutputTokens: 5, NoCache: true}, func(c *config.File) {
		c.Logging.Enabled = &off
		dir = c.Capture.Dir + "/not-created"
		c.Capture.Dir = dir
	})
	for _, stream := range []string{"false", "true"} {
		resp, err := http.Post(h.inst.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o","stream":`+stream+`,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) == 0 {
			t.Fatalf("stream=%s: %d %q", stream, resp.StatusCode, b)
		}
	}
	if hz, err := http.Get(h.inst.URL + "/healthz"); err != nil || hz.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", hz, err)
	}
	h.shutdown(t)
	h.inst = nil
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("logging disabled, yet %s exists (%v)", dir, err)
	}
}
