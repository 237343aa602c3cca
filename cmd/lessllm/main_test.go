package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// lessllmBin is the binary under test, built once by TestMain: commands
// are tested as a user runs them, as a separate process.
var lessllmBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lessllm-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lessllmBin = filepath.Join(dir, "lessllm")
	if out, err := exec.Command("go", "build", "-o", lessllmBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build lessllm: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runLessllm runs the binary and returns stdout, stderr and the exit code.
func runLessllm(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(lessllmBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// TestQueriesWithoutDatabaseSayWhy: the commands that read the analysis
// database name it and say how to make it, rather than create an empty one.
func TestQueriesWithoutDatabaseSayWhy(t *testing.T) {
	db := filepath.Join(t.TempDir(), "none.duckdb")
	for _, args := range [][]string{{"report", "--out", filepath.Join(t.TempDir(), "r.html")}, {"stats"}, {"cache"}} {
		_, stderr, code := runLessllm(t, append(args, "--db", db)...)
		if code != 1 || !bytes.Contains([]byte(stderr), []byte("none.duckdb: no analysis database (run `lessllm analyze DIR` first)")) {
			t.Errorf("%s: exit %d, stderr %q", args[0], code, stderr)
		}
		if _, err := os.Stat(db); err == nil {
			t.Errorf("%s created the database", args[0])
		}
	}
}

// TestCheckNamesEveryUnreachableProvider: when every provider fails,
// `lessllm check` ends with one line per provider, not only the first.
func TestCheckNamesEveryUnreachableProvider(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lessllm.yaml")
	os.WriteFile(cfg, []byte(`proxy: { timeouts: { connect: 2s } }
providers:
  openai:    { type: openai, base_url: "http://127.0.0.1:1/v1", api_key: sk-test }
  anthropic: { type: anthropic, base_url: "http://127.0.0.1:1", api_key: sk-ant-test }
  local:     { type: openai, base_url: "http://127.0.0.1:1/v1" }
`), 0o600)
	_, stderr, code := runLessllm(t, "check", "--config", cfg)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, p := range []string{"anthropic", "local", "openai"} {
		if !bytes.Contains([]byte(stderr), []byte("provider "+p+" is not reachable over any route")) {
			t.Errorf("stderr does not name %s:\n%s", p, stderr)
		}
	}
}

// TestCLIAnswersBriefly: --version works like the version command, a
// mistyped command gets one line with a suggestion (not the whole help),
// and LESSLLM_FORMAT set for the query commands does not break segments ls.
func TestCLIAnswersBriefly(t *testing.T) {
	flag, _, code := runLessllm(t, "--version")
	cmd, _, _ := runLessllm(t, "version")
	if code != 0 || flag != cmd || !strings.HasPrefix(flag, "lessllm ") {
		t.Errorf("--version: exit %d, %q; version: %q", code, flag, cmd)
	}
	out, stderr, code := runLessllm(t, "captur")
	if code != 2 || out != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, `did you mean "capture"?`) {
		t.Errorf("mistyped command: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	cmdLs := exec.Command(lessllmBin, "segments", "ls", t.TempDir())
	cmdLs.Env = append(os.Environ(), "LESSLLM_FORMAT=csv")
	if b, err := cmdLs.CombinedOutput(); err != nil {
		t.Errorf("LESSLLM_FORMAT=csv lessllm segments ls: %v\n%s", err, b)
	}
}
