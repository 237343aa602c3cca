package main

import (
	"fmt"
	"io"
	"os"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lessllm/lessllm/capture/simulator"
)

// TestFreshAnalysisOfARunningCapture: calls made through a running
// capture (default segment_max_age: its segment stays open for an hour)
// are in the database within two seconds; later runs bring the
// provisional rows up to date, and sealing replaces them exactly — the
// table then equals a --full analysis into a new database, column for
// column.
func TestFreshAnalysisOfARunningCapture(t *testing.T) {
	sim := httptest.NewServer(simulator.New(simulator.Options{TTFT: 5 * time.Millisecond, TPOT: time.Millisecond, OutputTokens: 8}))
	defer sim.Close()
	dir := t.TempDir()
	cfgText := fmt.Sprintf(`listen: 127.0.0.1:0
capture: { dir: %q, node: fresh }
providers:
  openai:    { type: openai, base_url: "%s/v1", api_key: sk-test }
  anthropic: { type: anthropic, base_url: %q, api_key: sk-ant-test }
`, dir, sim.URL, sim.URL)
	cmd, url := startCaptureConfig(t, cfgText)
	cfg := filepath.Join(t.TempDir(), "lessllm.yaml")
	os.WriteFile(cfg, []byte(cfgText), 0o600)
	db := filepath.Join(t.TempDir(), "fresh.duckdb")

	call := func(i int) {
		stream := i%2 == 0
		body := fmt.Sprintf(`{"model":"gpt-4o","stream":%v,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"call %d"}]}`, stream, i)
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// rowsWithin runs `lessllm query --fresh` until it sees want rows, for
	// at most two seconds after the last call returned.
	rowsWithin := func(want int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			out, stderr, code := runLessllm(t, "query", "--fresh", "--config", cfg, "--db", db, "--format", "csv",
				"SELECT count(*) AS n, count(DISTINCT request_id) AS ids FROM api_calls")
			if code != 0 {
				t.Fatalf("query --fresh: %s", stderr)
			}
			if out == fmt.Sprintf("n,ids\n%d,%d\n", want, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 2 s: %q, want %d rows, each request once", out, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i := range 5 {
		call(i)
	}
	rowsWithin(5)
	for i := 5; i < 8; i++ {
		call(i)
	}
	rowsWithin(8)

	cmd.Process.Signal(syscall.SIGTERM) // drains and seals
	cmd.Wait()
	if open, _ := filepath.Glob(filepath.Join(dir, "*.open")); len(open) != 0 {
		t.Fatalf("still open after SIGTERM: %v", open)
	}
	analyzeOK(t, dir, "--db", db)
	if out := queryOK(t, db, "csv", `SELECT count(*) AS n, count(DISTINCT request_id) AS ids FROM api_calls`); out != "n,ids\n8,8\n" {
		t.Fatalf("after sealing: %q", out)
	}
	full := filepath.Join(t.TempDir(), "full.duckdb")
	analyzeOK(t, dir, "--db", full, "--full")
	const rows = `SELECT * FROM api_calls ORDER BY request_id`
	a, b := queryOK(t, db, "csv", rows), queryOK(t, full, "csv", rows)
	if a != b {
		t.Errorf("provisional-then-sealed differs from --full:\n%s", firstDiff(a, b))
	}
	if seg := queryOK(t, db, "csv", `SELECT DISTINCT segment FROM api_calls`); strings.Contains(seg, ".open") {
		t.Errorf("rows still name the open file: %s", seg)
	}
}
