package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lessllm/lessllm/format/wire/apitest"
)

// TestRetiredAndUnpricedModels: a call to a model that has left the public
// price table (claude-3-5-haiku-20241022, through an alias) is priced from
// the archive and dated by the last table that listed it; a call to a model
// no table knows is listed by `lessllm stats` under the name looked up,
// with its alias and count; a pricing: entry prices it. A call that names
// no model (GET /v1/models) is listed apart, not as a "(none)" model.
func TestRetiredAndUnpricedModels(t *testing.T) {
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: time.Millisecond, OutputTokens: 6}))
	defer sim.Close()
	dir := t.TempDir()
	cmd, url := startCaptureConfig(t, fmt.Sprintf(`listen: 127.0.0.1:0
capture: { dir: %q, node: prices }
providers:
  openai:    { type: openai, base_url: "%s/v1", api_key: sk-test }
  anthropic: { type: anthropic, base_url: %q, api_key: sk-ant-test }
models:
  haiku: { provider: anthropic, model: claude-3-5-haiku-20241022 }
  tuned: { provider: openai, model: acme-finetune-7b }
`, dir, sim.URL, sim.URL))
	for i, model := range []string{"haiku", "haiku", "tuned", "tuned", "tuned", "gpt-4o"} {
		body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"call %d"}]}`, model, i)
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s", model, resp.Status)
		}
	}
	if resp, err := http.Get(url + "/v1/models"); err == nil { // names no model: listed apart
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	db := filepath.Join(t.TempDir(), "a.duckdb")
	analyzeOK(t, dir, "--db", db)

	got := queryOK(t, db, "csv", `SELECT upstream_model, count(*) AS n, count(estimated_cost_usd) AS priced, any_value(price_version) AS v
		FROM api_calls WHERE upstream_model IS NOT NULL GROUP BY 1 ORDER BY 1`)
	want := "upstream_model,n,priced,v\nacme-finetune-7b,3,0,\nclaude-3-5-haiku-20241022,2,2,litellm-2026-03-12\ngpt-4o,1,1,litellm-2026-07-24\n"
	if got != want {
		t.Errorf("prices:\n%s\nwant\n%s", got, want)
	}
	stats, stderr, code := runLessllm(t, "stats", "--db", db, "--days", "0")
	if code != 0 {
		t.Fatalf("stats: %s", stderr)
	}
	main, rest, _ := strings.Cut(stats, "Other endpoints")
	if strings.Contains(main, "(none)") || !strings.Contains(rest, "/v1/models") {
		t.Errorf("the call that names no model is not listed apart:\n%s", stats)
	}
	_, unpriced, ok := strings.Cut(stats, "Unpriced calls")
	if !ok {
		t.Fatalf("stats lists no unpriced calls:\n%s", stats)
	}
	lines := strings.Split(strings.TrimSpace(unpriced), "\n")
	if len(lines) != 5 || !strings.Contains(lines[3], "acme-finetune-7b") || !strings.Contains(lines[3], "tuned") ||
		!strings.Contains(lines[3], " 3 ") || !strings.Contains(lines[0], "pricing:") {
		t.Errorf("unpriced section:\n%s", unpriced)
	}

	// A pricing: entry prices it: no unpriced section any more.
	cfg := filepath.Join(t.TempDir(), "lessllm.yaml")
	os.WriteFile(cfg, []byte("pricing:\n  acme-finetune-7b: { input: 1, output: 2 }\n"), 0o600)
	db2 := filepath.Join(t.TempDir(), "b.duckdb")
	analyzeOK(t, dir, "--db", db2, "--config", cfg)
	if v := queryOK(t, db2, "csv", `SELECT DISTINCT price_version FROM api_calls WHERE upstream_model = 'acme-finetune-7b'`); v != "price_version\nconfig\n" {
		t.Errorf("override: %q", v)
	}
	if stats, _, _ := runLessllm(t, "stats", "--db", db2, "--days", "0"); strings.Contains(stats, "Unpriced") {
		t.Errorf("priced by config, still listed:\n%s", stats)
	}
}
