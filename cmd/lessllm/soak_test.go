package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// TestSoak (make soak DURATION=10m; skipped unless LESSLLM_SOAK is set):
// one `lessllm capture` process under mixed streamed and non-streamed load
// with injected upstream faults and clients hanging up mid-stream. Every
// sample period it reports RSS, goroutines and open files (from the
// process's own /metrics); they must stay flat — the last third of the
// samples within 25% (RSS), 20% + 10 (goroutines) and +10 (files) of the
// first third — and no exchange a client completed may be missing from
// the segments.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("LESSLLM_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("set LESSLLM_SOAK to a duration (make soak DURATION=10m)")
	}
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: 20 * time.Millisecond, TPOT: 2 * time.Millisecond, OutputTokens: 30, Jitter: 0.2}))
	t.Cleanup(sim.Close)
	dir := t.TempDir()
	cmd, url, stderr := startCapture(t, sim.URL, dir)

	var (
		mu        sync.Mutex
		completed = map[string]bool{} // request tags whose response the client read to the end
		calls     atomic.Int64
		faults    atomic.Int64
		hangups   atomic.Int64
	)
	ctx, stop := context.WithTimeout(context.Background(), d)
	defer stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for n := 0; ctx.Err() == nil; n++ {
				tag := fmt.Sprintf("soak-%d-%d", w, n)
				stream := rng.IntN(10) < 6
				body := fmt.Sprintf(`{"model":"gpt-4o","stream":%t,"user":%q,"messages":[{"role":"user","content":"soak %s"}]}`, stream, tag, strings.Repeat("x", rng.IntN(2000)))
				req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				roll := rng.IntN(100)
				switch {
				case roll < 4:
					req.Header.Set("X-Sim-Fault", []string{"429", "500", "reset-mid", "stall-mid"}[roll])
					faults.Add(1)
				case roll < 7 && stream:
					hangups.Add(1)
					hangUp(client, req)
					continue
				}
				cancel := func() {}
				if req.Header.Get("X-Sim-Fault") == "stall-mid" {
					// A client gives up on a stalled stream, as a real one
					// would, rather than hold a worker until the proxy's
					// idle timeout.
					var sctx context.Context
					sctx, cancel = context.WithTimeout(ctx, 2*time.Second)
					req = req.WithContext(sctx)
				}
				calls.Add(1)
				ok := complete(client, req, stream)
				cancel()
				if ok && req.Header.Get("X-Sim-Fault") == "" {
					mu.Lock()
					completed[tag] = true
					mu.Unlock()
				}
			}
		})
	}

	type sample struct{ rss, goroutines, fds float64 }
	var samples []sample
	period := min(time.Minute, max(d/6, 5*time.Second))
	tick := time.NewTicker(period)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			s := sample{procMetric(t, url, "process_resident_memory_bytes"), procMetric(t, url, "go_goroutines"), procMetric(t, url, "process_open_fds")}
			samples = append(samples, s)
			t.Logf("%8s: RSS %.1f MiB, goroutines %.0f, open files %.0f, calls %d (faults %d, hang-ups %d)",
				(time.Duration(len(samples)) * period).Round(time.Second), s.rss/(1<<20), s.goroutines, s.fds, calls.Load(), faults.Load(), hangups.Load())
		}
	}
	tick.Stop()
	wg.Wait()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture: %v\n%s", err, stderr)
	}

	if len(samples) >= 3 {
		third := len(samples) / 3
		avg := func(s []sample) (out sample) {
			for _, x := range s {
				out.rss += x.rss / float64(len(s))
				out.goroutines += x.goroutines / float64(len(s))
				out.fds += x.fds / float64(len(s))
			}
			return out
		}
		a, b := avg(samples[:third]), avg(samples[len(samples)-third:])
		t.Logf("first third: RSS %.1f MiB, goroutines %.0f, files %.0f; last third: RSS %.1f MiB, goroutines %.0f, files %.0f",
			a.rss/(1<<20), a.goroutines, a.fds, b.rss/(1<<20), b.goroutines, b.fds)
		if b.rss > a.rss*1.25 || b.goroutines > a.goroutines*1.2+10 || b.fds > a.fds+10 {
			t.Errorf("not flat: RSS %.1f → %.1f MiB, goroutines %.0f → %.0f, files %.0f → %.0f",
				a.rss/(1<<20), b.rss/(1<<20), a.goroutines, b.goroutines, a.fds, b.fds)
		}
	}

	// Every completed exchange is in the segments.
	recorded := map[string]bool{}
	tr, err := format.OpenTree([]string{dir}, true)
	if err != nil {
		t.Fatal(err)
	}
	for tr.Next() {
		ex, err := format.DecodeExchange(tr.Record())
		if err != nil {
			t.Fatalf("a record that is not an exchange: %v", err)
		}
		var req struct{ User string }
		json.Unmarshal(ex.Request.JSON, &req)
		recorded[req.User] = true
	}
	lost := 0
	for tag := range completed {
		if !recorded[tag] {
			lost++
		}
	}
	t.Logf("%d calls (%d with injected faults, %d clients hung up mid-stream); %d completed, %d recorded, %d completed exchanges lost",
		calls.Load()+hangups.Load(), faults.Load(), hangups.Load(), len(completed), len(recorded), lost)
	if lost > 0 {
		t.Errorf("%d completed exchanges are not in the segments", lost)
	}
}

// complete sends req and reads the whole response; for a stream, to its
// [DONE].
func complete(c *http.Client, req *http.Request, stream bool) bool {
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return false
	}
	return !stream || strings.Contains(string(b), "data: [DONE]")
}

// hangUp reads the first line of a stream and closes the connection.
func hangUp(c *http.Client, req *http.Request) {
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return
	}
	bufio.NewReader(resp.Body).ReadString('\n')
	cancel()
	resp.Body.Close()
}

var promLine = map[string]*regexp.Regexp{}

func procMetric(t *testing.T, url, name string) float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re, ok := promLine[name]
	if !ok {
		re = regexp.MustCompile(`(?m)^` + name + ` (\S+)$`)
		promLine[name] = re
	}
	m := re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s on /metrics", name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
