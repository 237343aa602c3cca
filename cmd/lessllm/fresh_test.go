package main

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lessllm/lessllm/format/wire/apitest"
)

// TestFreshAnalysisOfARunningCapture: calls made through a running
// capture (default segment_max_age: its segment stays open for an hour)
// are in the database within two seconds; later runs bring the
// provisional rows up to date, and sealing replaces them exactly — the
// table then equals a --full analysis into a new database, column for
// column.
func TestFreshAnalysisOfARunningCapture(t *testing.T) {
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: 5 * time.Millisecond, TPOT: time.Millisecond, OutputTokens: 8}))
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
				datasetEqualsTable(t, db)
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
	datasetEqualsTable(t, db)
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

// TestAnalyzeWhileCaptureWrites: analyze runs in a loop while capture
// serves 16 concurrent streams for 30 s (LESSLLM_FRESH_SOAK overrides):
// every run succeeds with each request once, the writer drops nothing, and
// after sealing every completed call is in the table exactly once.
func TestAnalyzeWhileCaptureWrites(t *testing.T) {
	duration := 30 * time.Second
	if d, err := time.ParseDuration(os.Getenv("LESSLLM_FRESH_SOAK")); err == nil {
		duration = d
	}
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: 2 * time.Millisecond, TPOT: time.Millisecond, OutputTokens: 20}))
	defer sim.Close()
	dir := t.TempDir()
	cmd, url := startCaptureConfig(t, fmt.Sprintf(`listen: 127.0.0.1:0
capture: { dir: %q, node: loaded, flush_interval: 100ms }
providers:
  openai: { type: openai, base_url: "%s/v1", api_key: sk-test }
`, dir, sim.URL))
	db := filepath.Join(t.TempDir(), "live.duckdb")

	var completed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"worker %d call %d"}]}`, w, i)
				resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && strings.HasSuffix(string(b), "data: [DONE]\n\n") {
					completed.Add(1)
				}
			}
		})
	}
	end := time.Now().Add(duration)
	runs := 0
	for time.Now().Before(end) {
		out, stderr, code := runLessllm(t, "analyze", dir, "--db", db, "--no-progress")
		if code != 0 {
			t.Fatalf("analyze run %d while capture writes: exit %d\n%s%s", runs, code, out, stderr)
		}
		if strings.Contains(stderr, "problem") {
			t.Errorf("analyze run %d reported problems:\n%s", runs, stderr)
		}
		if got := queryOK(t, db, "csv", `SELECT count(*) = count(DISTINCT request_id) AS unique FROM api_calls`); got != "unique\ntrue\n" {
			t.Fatalf("run %d: duplicate rows", runs)
		}
		runs++
	}
	close(stop)
	wg.Wait()
	metrics, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	for l := range strings.SplitSeq(string(m), "\n") {
		if strings.HasPrefix(l, "lessllm_records_dropped_total ") && l != "lessllm_records_dropped_total 0" {
			t.Errorf("the writer dropped records: %s", l)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	analyzeOK(t, dir, "--db", db, "--no-progress")
	got := queryOK(t, db, "csv", `SELECT count(*) AS n, count(DISTINCT request_id) AS ids, count(*) FILTER (WHERE stream_complete) AS complete FROM api_calls`)
	n := completed.Load()
	t.Logf("%d analyze runs during %v of load; %d calls completed; table: %s", runs, duration, n, strings.ReplaceAll(got, "\n", " "))
	if want := fmt.Sprintf("n,ids,complete\n%d,%d,%d\n", n, n, n); got != want {
		t.Errorf("after sealing: %q, want %q", got, want)
	}
	if runs < 3 {
		t.Errorf("only %d analyze runs overlapped the load", runs)
	}
}

// datasetEqualsTable checks that the Parquet dataset next to db holds
// exactly api_calls: every row, every column, compared as CSV written by
// DuckDB from both, ordered by request_id.
func datasetEqualsTable(t *testing.T, db string) {
	t.Helper()
	conn, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(fmt.Sprintf(`ATTACH '%s' AS a (READ_ONLY)`, db)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pq := filepath.Join(filepath.Dir(db), "parquet", "api_calls", "*", "*.parquet")
	// The files store columns by name; select them in the table's order.
	var cols string
	if err := conn.QueryRow(`SELECT string_agg('"' || column_name || '"', ', ' ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_catalog = 'a' AND table_name = 'api_calls'`).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	for name, from := range map[string]string{
		"table":   `a.api_calls`,
		"dataset": fmt.Sprintf(`read_parquet('%s', hive_partitioning=false)`, pq),
	} {
		if _, err := conn.Exec(fmt.Sprintf(`COPY (SELECT %s FROM %s ORDER BY request_id) TO '%s/%s.csv'`, cols, from, dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	table, _ := os.ReadFile(filepath.Join(dir, "table.csv"))
	dataset, _ := os.ReadFile(filepath.Join(dir, "dataset.csv"))
	if string(table) != string(dataset) {
		t.Errorf("the Parquet dataset differs from api_calls:\n%s", firstDiff(string(table), string(dataset)))
	}
}
