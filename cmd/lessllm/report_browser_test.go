package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// artifactsDir is where the browser test leaves its screenshots (a CI
// artifact; README "HTML report"): $LESSLLM_ARTIFACTS, else artifacts/ at
// the repository root.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("LESSLLM_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromium finds Debian's browser; CI installs it (.ci/run).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("LESSLLM_NO_BROWSER") == "1" {
		t.Skip("LESSLLM_NO_BROWSER=1: the report's browser test is skipped")
	}
	t.Fatal("no chromium on PATH: install it (apt-get install chromium; .ci/run does) or set LESSLLM_NO_BROWSER=1")
	return ""
}

// headless runs the browser on a file and returns its stdout and stderr.
func headless(t *testing.T, browser string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", browser, args, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// TestReportInBrowser runs `make demo`'s program (capture → analyze →
// report) and opens the report it wrote in headless Chromium: no console
// message, every chart drew marks, screenshots at desktop and phone width,
// and none of the secrets the demo planted in a prompt appears in the
// report or the database.
func TestReportInBrowser(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	demo := exec.Command("go", "run", "../lessllm-demo", "-lessllm", lessllmBin, "-dir", dir)
	out, err := demo.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	report := filepath.Join(dir, "report.html")
	if !strings.Contains(string(out), "The report: "+report) {
		t.Fatalf("the demo does not end by naming the report:\n%s", out)
	}
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).Find(html); m != nil {
		t.Errorf("the report fetches from the network: %s", m)
	}

	// The period flags: the demo's day, and a day without calls.
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	for _, period := range [][2]string{{today, tomorrow}, {"2000-01-01", "2000-01-02"}} {
		out := filepath.Join(dir, "period.html")
		if _, stderr, code := runLessllm(t, "report", "--config", filepath.Join(dir, "lessllm.yaml"), "--out", out,
			"--since", period[0], "--until", period[1]); code != 0 {
			t.Fatalf("report --since %s --until %s: exit %d: %s", period[0], period[1], code, stderr)
		}
		b, _ := os.ReadFile(out)
		if empty := strings.Contains(string(b), "no calls"); empty != (period[0] == "2000-01-01") {
			t.Errorf("report of %v: says no calls = %v", period, empty)
		}
	}

	url := "file://" + report
	dom, stderr := headless(t, browser, "--dump-dom", url)
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") {
			t.Errorf("browser console: %s", line)
		}
	}
	attr := func(name string) string {
		m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("the page's self-check did not run (no %s in the DOM)", name)
		}
		return m[1]
	}
	charts, _ := strconv.Atoi(attr("data-charts"))
	drawn, _ := strconv.Atoi(attr("data-charts-drawn"))
	t.Logf("charts: %d, with marks: %d", charts, drawn)
	if charts < 8 || drawn != charts { // cost, calls, TTFT, TPOT, streamed vs not, tokens per user, cache, network share
		t.Errorf("%d of %d charts drew data; empty: %q", drawn, charts, attr("data-charts-empty"))
	}
	for _, section := range []string{`id="budgets"`, `id="cache-opportunities"`, `id="slowest"`, `id="most-expensive"`, `id="sensitive"`, "dynamic_prefix", "aws_access_key", "credit_card", "exceeded"} {
		if !strings.Contains(dom, section) {
			t.Errorf("the report lacks %s", section)
		}
	}

	art := artifactsDir(t)
	for _, shot := range []struct{ name, size string }{{"report-1280.png", "1280,3600"}, {"report-phone.png", "390,6000"}} {
		path, _ := filepath.Abs(filepath.Join(art, shot.name))
		headless(t, browser, "--screenshot="+path, "--window-size="+shot.size, "--hide-scrollbars", url)
		if st, err := os.Stat(path); err != nil || st.Size() < 10_000 {
			t.Errorf("screenshot %s: %v", path, err)
		}
		t.Logf("screenshot: %s", path)
	}

	// The planted values, in full, are nowhere in the outputs: not in the
	// report, not in the database file or any of its tables (request_json
	// carries masked excerpts in their place), not in the Parquet files.
	dbPath := filepath.Join(dir, "lessllm.duckdb")
	findings := queryOK(t, dbPath, "csv", `SELECT kind, excerpt FROM sensitive_findings ORDER BY kind`)
	outputs := map[string][]byte{"report": html, "dom": []byte(dom), "demo output and logs": out}
	for _, table := range []string{"api_calls", "sensitive_findings", "cache_opportunities"} {
		outputs["table "+table] = []byte(queryOK(t, dbPath, "csv", "SELECT * FROM "+table))
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (strings.HasSuffix(path, ".duckdb") || strings.HasSuffix(path, ".parquet")) {
			b, _ := os.ReadFile(path)
			outputs[path] = b
		}
		return nil
	})
	// The demo's API keys (clients' and upstream's) must not be there either.
	for _, secret := range []string{"4111 1111 1111 1111", "jane.doe@example.com", "AKIAIOSFODNN7EXAMPLE",
		"sk-demo-client", "sk-demo-openai", "sk-ant-demo"} { // sk-ant-demo also covers sk-ant-demo-client
		for name, content := range outputs {
			if bytes.Contains(content, []byte(secret)) {
				t.Errorf("%s contains the planted %q", name, secret)
			}
		}
	}
	if !strings.Contains(string(outputs["table api_calls"]), "[aws_access_key AKIA…MPLE]") {
		t.Error("request_json does not carry the masked excerpt where the key was")
	}
	t.Logf("sensitive_findings:\n%s", findings)
}
