package capture

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lessllm/lessllm/format/wire/apitest"
)

// fastSim streams 20 tokens with no pacing: the tests below are about
// connection reuse, not timing.
var fastSim = apitest.Options{TTFT: time.Microsecond, TPOT: time.Microsecond, OutputTokens: 20, NoCache: true}

const streamBody = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`

// TestKeepAliveCurl1000: curl given the URL 1,000 times sends 1,000
// streamed POSTs over one reused connection; every response must be
// complete. A bare httputil.ReverseProxy cut ~1% of these here (ARCHITECTURE.md
// §8); see the Server doc comment for why this proxy does not.
func TestKeepAliveCurl1000(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 requests")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (.ci/run installs it)")
	}
	h := newHarness(t, fastSim, nil)
	const n = 1000
	var cfg strings.Builder
	for range n {
		fmt.Fprintf(&cfg, "url = \"%s/v1/chat/completions\"\n", h.inst.URL)
	}
	cfgPath := filepath.Join(t.TempDir(), "curl.cfg")
	os.WriteFile(cfgPath, []byte(cfg.String()), 0o600)
	cmd := exec.Command("curl", "-sS", "-N", "-K", cfgPath, "-H", "Content-Type: application/json",
		"-d", streamBody, "-w", "\nCURL %{http_code} %{num_connects}\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	done := bytes.Count(out, []byte("data: [DONE]\n\n"))
	ok := bytes.Count(out, []byte("CURL 200 "))
	connects := 0
	for _, line := range strings.Split(string(out), "\n") {
		var code, c int
		if _, err := fmt.Sscanf(line, "CURL %d %d", &code, &c); err == nil {
			connects += c
		}
	}
	t.Logf("%d responses, %d complete, %d connections opened", ok, done, connects)
	if done != n || ok != n {
		t.Fatalf("%d of %d streamed responses complete (%d with status 200)", done, n, ok)
	}
	if connects > 2 {
		t.Fatalf("curl opened %d connections for 1,000 requests: keep-alive broken", connects)
	}
	recs := h.records(t)
	if len(recs) != n {
		t.Fatalf("%d records for %d exchanges", len(recs), n)
	}
	for _, r := range recs {
		if r.Error != nil {
			t.Fatalf("exchange %s recorded error %+v", r.ID, r.Error)
		}
	}
}

// TestKeepAliveConcurrent10000: 10,000 streamed POSTs at concurrency 16
// from a Go client with a keep-alive pool; zero incomplete.
func TestKeepAliveConcurrent10000(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 requests")
	}
	h := newHarness(t, fastSim, nil)
	const n, workers = 10000, 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var next, complete, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= n {
				resp, err := client.Post(h.inst.URL+"/v1/chat/completions", "application/json", strings.NewReader(streamBody))
				if err == nil {
					var body []byte
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) {
						err = fmt.Errorf("status %d, body ends %q", resp.StatusCode, body[max(0, len(body)-40):])
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				complete.Add(1)
			}
		})
	}
	wg.Wait()
	t.Logf("%d complete, %d failed", complete.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d of %d responses incomplete; first: %v", failed.Load(), n, firstErr.Load())
	}
	if recs := h.records(t); len(recs) != n {
		t.Fatalf("%d records for %d exchanges", len(recs), n)
	}
}
