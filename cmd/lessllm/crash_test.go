package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// crashFlush is the capture flush interval startCapture configures; a flush
// also compresses and writes one frame, given crashSlack on top (the two
// cores are shared by the proxy, the simulator and 200 clients).
const (
	crashFlush = 50 * time.Millisecond
	crashSlack = 50 * time.Millisecond
)

// TestCrashLosesNoCompletedExchange: 200 concurrent streams through
// `lessllm capture`, SIGKILL at a random moment, restart on the same
// directory (which repairs and seals what the killed process left): every
// exchange whose response the client finished receiving at least one flush
// before the kill is in the segments, and every record read is whole.
// LESSLLM_CRASH_ROUNDS sets the number of kills (make faults: 20).
func TestCrashLosesNoCompletedExchange(t *testing.T) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("LESSLLM_CRASH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: 50 * time.Millisecond, TPOT: 10 * time.Millisecond, OutputTokens: 30}))
	defer sim.Close()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	totalDone, totalOwed := 0, 0
	for round := range rounds {
		dir := t.TempDir()
		cmd, url, _ := startCapture(t, sim.URL, dir)
		const n = 200
		var mu sync.Mutex
		doneAt := map[string]time.Time{}
		var wg sync.WaitGroup
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
		for i := range n {
			delay := time.Duration(rng.IntN(1500)) * time.Millisecond // starts overlap the kill window: some streams are always in flight
			marker := fmt.Sprintf("crash-r%d-i%d", round, i)
			wg.Go(func() {
				time.Sleep(delay)
				body := `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"` + marker + `"}]}`
				resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && bytes.HasSuffix(b, []byte("data: [DONE]\n\n")) {
					mu.Lock()
					doneAt[marker] = time.Now()
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(700+rng.IntN(700)) * time.Millisecond) // late enough that dozens of streams are owed, early enough that many are cut
		cmd.Process.Signal(syscall.SIGKILL)
		killedAt := time.Now()
		cmd.Wait()
		wg.Wait()
		client.CloseIdleConnections()

		// Restart: the new process repairs and seals the killed one's
		// segment; a graceful stop then seals its own.
		again, _, stderr := startCapture(t, sim.URL, dir)
		again.Process.Signal(syscall.SIGTERM)
		if err := again.Wait(); err != nil {
			t.Fatalf("restart: %v\n%s", err, stderr)
		}

		found := map[string]bool{}
		segs, err := format.ListSegments([]string{dir}, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range segs {
			if !s.Sealed {
				t.Errorf("round %d: %s left unsealed after the restart", round, s.Path)
				continue
			}
			r, err := format.Open(s.Path)
			if err != nil {
				t.Fatal(err)
			}
			for r.Next() {
				ex, err := format.DecodeExchange(r.Record())
				if err != nil || ex.EndNS <= 0 || ex.Response == nil {
					t.Errorf("round %d: a partial record was read as data: %v", round, err)
					continue
				}
				if m := string(ex.Request.JSON); strings.Contains(m, "crash-r") {
					i := strings.Index(m, "crash-r")
					found[m[i:i+strings.IndexByte(m[i:], '"')]] = true
				}
			}
			r.Close()
		}
		owed, lost := 0, 0
		for marker, at := range doneAt {
			if at.Before(killedAt.Add(-crashFlush - crashSlack)) {
				owed++
				if !found[marker] {
					lost++
					t.Errorf("round %d: %s completed %v before the kill and is not in the segments", round, marker, killedAt.Sub(at))
				}
			}
		}
		totalDone += len(doneAt)
		totalOwed += owed
		t.Logf("round %d: %d of %d streams completed before the kill, %d of them at least %v before it: %d recovered, %d lost; %d records in all",
			round, len(doneAt), n, owed, crashFlush+crashSlack, owed-lost, lost, len(found))
	}
	t.Logf("%d kills: %d streams completed before a kill, %d of them owed to the segments", rounds, totalDone, totalOwed)
	if totalOwed < 20*rounds {
		t.Errorf("only %d completed exchanges were owed over %d kills: the kills came too early to test anything", totalOwed, rounds)
	}
}
