package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/formattest"
)

// analysedDB analyses a few generated exchanges — one with a model name
// and user carrying terminal escape sequences — and returns the database.
func analysedDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	w, err := format.NewWriter(format.WriterOptions{Dir: dir, Node: "n", FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	start := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for i := range 4 {
		ex := formattest.StreamedChat(r, start.Add(time.Duration(i)*time.Minute), 10)
		if i == 0 {
			ex.Route.Model, ex.Route.UpstreamModel = "gpt-4o\x1b]0;owned\x07\x1b[2J", "gpt-4o\x1b[31m"
			ex.Request.Headers["X-Lessllm-User"] = []string{"eve\x1b[1A\x1b[2K"}
		}
		w.Append(ex)
	}
	w.Close()
	db := filepath.Join(t.TempDir(), "a.duckdb")
	analyzeOK(t, dir, "--db", db, "--parquet", filepath.Join(filepath.Dir(db), "parquet"))
	return db
}

// TestQueryIsConfined: lessllm query reads the analysis database and
// nothing else — statements that write files, attach or change databases,
// install or load extensions, or change settings are refused with a clear
// error and leave no trace.
func TestQueryIsConfined(t *testing.T) {
	db := analysedDB(t)
	victim := filepath.Join(t.TempDir(), "written")
	for _, sql := range []string{
		fmt.Sprintf(`COPY api_calls TO '%s.csv'`, victim),
		fmt.Sprintf(`COPY (SELECT 1) TO '%s.parquet' (FORMAT parquet)`, victim),
		fmt.Sprintf(`EXPORT DATABASE '%s'`, victim),
		fmt.Sprintf(`ATTACH '%s.duckdb' AS other (READ_WRITE)`, victim),
		`INSTALL httpfs`,
		`LOAD httpfs`,
		`SET custom_extension_repository = 'http://127.0.0.1:9/'`,
		`SET enable_external_access = true`,
		`SELECT * FROM read_csv('/etc/passwd')`,
		`CREATE TABLE x AS SELECT 1`,
	} {
		out, stderr, code := runLessllm(t, "query", "--db", db, sql)
		if code != 1 || !strings.Contains(stderr, "refused: queries are read-only") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", sql, code, out, stderr)
		}
	}
	if m, _ := filepath.Glob(victim + "*"); len(m) > 0 {
		t.Errorf("a query wrote %v", m)
	}
	if out := queryOK(t, db, "csv", `SELECT count(*) AS n, count(DISTINCT model) AS models FROM api_calls`); out != "n,models\n4,2\n" {
		t.Errorf("reading the database: %q", out)
	}
	// export writes files — its own, to the path it was given.
	out := filepath.Join(t.TempDir(), "calls.parquet")
	if _, stderr, code := runLessllm(t, "export", "--db", db, "--out", out); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
}

// TestOutputsAreOwnerOnly: every file the commands write — the database
// and its write-ahead log, Parquet, exports, the report — is 0600, whatever
// the caller's umask.
func TestOutputsAreOwnerOnly(t *testing.T) {
	db := analysedDB(t)
	dir := filepath.Dir(db)
	exp := filepath.Join(dir, "calls.csv")
	report := filepath.Join(dir, "report.html")
	runLessllm(t, "export", "--db", db, "--out", exp)
	runLessllm(t, "report", "--db", db, "--out", report)
	// A write that stops before its checkpoint leaves the WAL behind.
	cmd := exec.Command(lessllmBin, "analyze", "--full", "--db", db, "--parquet", filepath.Join(dir, "parquet"), t.TempDir())
	cmd.Run()
	files := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", p, st.Mode().Perm())
		}
		return nil
	})
	if files < 4 {
		t.Errorf("only %d files written", files)
	}
}

// TestTerminalEscapesShownEscaped: names a client or upstream chose are
// printed with their control characters escaped, never sent raw to the
// reader's terminal.
func TestTerminalEscapesShownEscaped(t *testing.T) {
	db := analysedDB(t)
	for _, args := range [][]string{
		{"query", "--db", db, "SELECT model, upstream_model, user_id FROM api_calls"},
		{"query", "--db", db, "--format", "markdown", "SELECT model, user_id FROM api_calls"},
		{"stats", "--db", db},
	} {
		out, stderr, code := runLessllm(t, args...)
		if code != 0 {
			t.Fatalf("%v: %s", args, stderr)
		}
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%v printed a raw control character:\n%q", args, out)
		}
		if args[0] == "query" && !strings.Contains(out, `gpt-4o\x1b]0;owned\x07\x1b[2J`) {
			t.Errorf("%v: the name is not shown escaped:\n%s", args, out)
		}
	}
}

// TestLongPromptAnalysedInLinearTime: a prompt of 2 MB of one letter —
// one piece for the tokenizer's BPE merge, which is quadratic in a piece's
// length — is analysed in seconds (it took over ten minutes before the
// tokenizer worked in bounded windows).
func TestLongPromptAnalysedInLinearTime(t *testing.T) {
	dir := t.TempDir()
	w, _ := format.NewWriter(format.WriterOptions{Dir: dir, Node: "n", FlushInterval: time.Hour})
	ex := formattest.StreamedChat(rand.New(rand.NewPCG(1, 1)), time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), 10)
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("a", 2<<20) + `"}]}`
	ex.Request.SetBody([]byte(body), int64(len(body)))
	// No usage in the answer: the prompt's tokens are counted here.
	answer := []byte(`{"id":"c","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
	ex.Response = &format.Response{Status: 200, Headers: format.Header{"Content-Type": {"application/json"}},
		Chunks: []format.Chunk{format.NewChunk(3e8, answer)}, Bytes: int64(len(answer))}
	w.Append(ex)
	w.Close()
	db := filepath.Join(t.TempDir(), "a.duckdb")
	start := time.Now()
	analyzeOK(t, dir, "--db", db)
	elapsed := time.Since(start)
	t.Logf("2 MB single-letter prompt analysed in %v", elapsed.Round(time.Millisecond))
	// A generous bound: the point is linear against quadratic (10+ minutes).
	if elapsed > 30*time.Second {
		t.Errorf("analysis took %v", elapsed)
	}
	if out := queryOK(t, db, "csv", `SELECT estimated_prompt_tokens > 200000 AS counted FROM api_calls`); out != "counted\ntrue\n" {
		t.Errorf("prompt tokens: %q", out)
	}
}

// rssKB is a process's resident set size from /proc.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// startCaptureConfig runs `lessllm capture` with the given config text
// and returns the process and its URL.
func startCaptureConfig(t *testing.T, yaml string) (*exec.Cmd, string) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "lessllm.yaml")
	os.WriteFile(cfg, []byte(yaml), 0o600)
	cmd := exec.Command(lessllmBin, "capture", "--config", cfg)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("capture did not start: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	return cmd, strings.Fields(line)[3]
}

// TestCaptureMemoryUnderHostileTraffic: what one client or upstream can
// make the proxy hold is bounded. Twenty connections announcing 64 MiB
// bodies and sending one byte hold a few kilobytes each (before, each
// allocated the announced 64 MiB at once); an upstream that never ends its
// answer, on the alias path that reads answers whole, is cut at
// max_body_bytes.
func TestCaptureMemoryUnderHostileTraffic(t *testing.T) {
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"content":[{"type":"text","text":"`)
		chunk := []byte(strings.Repeat("a", 64<<10))
		for i := 0; i < 1<<15 && r.Context().Err() == nil; i++ { // at most 2 GiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer endless.Close()
	cmd, url := startCaptureConfig(t, fmt.Sprintf(`listen: 127.0.0.1:0
capture: { dir: %q, max_body_bytes: 8MiB }
providers:
  anthropic: { type: anthropic, base_url: %q, api_key: sk-ant-test }
models:
  claude: { provider: anthropic, model: claude-sonnet-4-5 }
`, t.TempDir(), endless.URL))
	pid := cmd.Process.Pid
	base := rssKB(t, pid)

	var conns []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", 64<<20)
		conns = append(conns, c)
	}
	time.Sleep(time.Second)
	held := rssKB(t, pid) - base
	t.Logf("RSS: %d kB at start, +%d kB with 20 connections announcing 64 MiB bodies", base, held)
	if held > 50<<10 {
		t.Errorf("20 announced 64 MiB bodies hold %d MB", held>>10)
	}
	for _, c := range conns {
		c.Close()
	}

	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"claude","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	peak := rssKB(t, pid) - base
	t.Logf("RSS after an endless upstream answer on the alias path: +%d kB (status %d)", peak, resp.StatusCode)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), "max_body_bytes") {
		t.Errorf("endless upstream body: %d %.200s", resp.StatusCode, b)
	}
	if peak > 100<<10 {
		t.Errorf("an endless upstream body grew the proxy by %d MB (cap 8 MiB)", peak>>10)
	}
}
