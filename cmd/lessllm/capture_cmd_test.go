package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// startCapture runs `lessllm capture` as a process with a config whose
// providers point at upstream, and waits until it listens.
func startCapture(t *testing.T, upstream, dir string, args ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "lessllm.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: 127.0.0.1:0
capture: { dir: %q, node: sigterm-test, flush_interval: 50ms, shutdown_grace: 20s }
providers:
  openai:    { type: openai, base_url: "%s/v1", api_key: sk-test }
  anthropic: { type: anthropic, base_url: %q, api_key: sk-ant-test }
models:
  claude: { provider: anthropic, model: claude-sonnet-4-5 }   # OpenAI SDK calls translated
`, dir, upstream, upstream)), 0o600)
	cmd := exec.Command(lessllmBin, append([]string{"capture", "--config", cfg}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("capture did not start: %v\n%s", err, stderr.String())
	}
	url := strings.Fields(line)[3] // "lessllm capture on http://127.0.0.1:PORT (...)"
	go io.Copy(io.Discard, stdout)
	return cmd, url, &stderr
}

// TestAccessLogIsOptIn: by default capture logs no line per exchange (80
// MB a day at 400,000 calls); --access-log, logging.access_log or the
// debug level turn it on.
func TestAccessLogIsOptIn(t *testing.T) {
	sim := httptest.NewServer(apitest.New(apitest.Options{OutputTokens: 5}))
	defer sim.Close()
	for _, tc := range []struct {
		args []string
		want bool
	}{{nil, false}, {[]string{"--access-log"}, true}, {[]string{"--log-level", "debug"}, true}, {[]string{"--log-level", "warn", "--access-log"}, false}} {
		cmd, url, stderr := startCapture(t, sim.URL, t.TempDir(), tc.args...)
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if got := strings.Contains(stderr.String(), "msg=exchange"); got != tc.want {
			t.Errorf("capture %v: access line logged %v, want %v\n%s", tc.args, got, tc.want, stderr)
		}
	}
}

// TestSIGTERMDrainsStreams: SIGTERM with 50 streams in flight lets all 50
// finish, then seals the segments holding all 50 and exits 0.
func TestSIGTERMDrainsStreams(t *testing.T) {
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: 100 * time.Millisecond, TPOT: 20 * time.Millisecond, OutputTokens: 50}))
	defer sim.Close()
	dir := t.TempDir()
	cmd, url, stderr := startCapture(t, sim.URL, dir)

	const n = 50
	var started, wg sync.WaitGroup
	started.Add(n)
	complete := make(chan bool, n)
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"stream %d"}]}`, i)
			resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
			started.Done()
			if err != nil {
				complete <- false
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			complete <- err == nil && bytes.HasSuffix(b, []byte("data: [DONE]\n\n"))
		})
	}
	started.Wait() // every stream has its response headers: all are in flight
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(complete)
	ok := 0
	for c := range complete {
		if c {
			ok++
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture exited with %v after SIGTERM\n%s", err, stderr)
	}
	if ok != n {
		t.Fatalf("%d of %d in-flight streams completed after SIGTERM", ok, n)
	}
	segs, _ := format.ListSegments([]string{dir}, true)
	records := 0
	for _, s := range segs {
		if !s.Sealed {
			t.Fatalf("%s left open after a graceful shutdown", s.Path)
		}
		ft, err := format.ReadFooter(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		records += int(ft.Records)
	}
	if records != n {
		t.Fatalf("%d records sealed for %d streams", records, n)
	}
}

// contextSwitches is the number of times a process's threads were
// switched out (voluntarily or not): each is a wake-up that came before.
func contextSwitches(t *testing.T, pid int) int {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	n := 0
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that just exited
		}
		for _, l := range strings.Split(string(b), "\n") {
			for _, k := range []string{"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"} {
				if v, ok := strings.CutPrefix(l, k); ok {
					var c int
					fmt.Sscan(strings.TrimSpace(v), &c)
					n += c
				}
			}
		}
	}
	return n
}

// TestIdleCaptureSleeps: a capture with nothing to do costs (almost) no
// CPU: fewer than 40 wake-ups a second over 5 s with the default settings,
// counted from the kernel's context switches of all its threads. (The
// writer's queue and the access log used to poll every 5 ms: ~1,300
// wake-ups a second. What is left is the segment writer's flush tick,
// every flush_interval.)
func TestIdleCaptureSleeps(t *testing.T) {
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: time.Millisecond, TPOT: time.Millisecond, OutputTokens: 3}))
	defer sim.Close()
	cmd, url := startCaptureConfig(t, fmt.Sprintf("listen: 127.0.0.1:0\ncapture: { dir: %q }\nproviders:\n  openai: { type: openai, base_url: \"%s/v1\", api_key: sk-test }\n", t.TempDir(), sim.URL))
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	time.Sleep(time.Second) // the call's record written, the flush done
	before := contextSwitches(t, cmd.Process.Pid)
	time.Sleep(5 * time.Second)
	rate := float64(contextSwitches(t, cmd.Process.Pid)-before) / 5
	t.Logf("idle capture: %.1f wake-ups a second", rate)
	if rate >= 40 {
		t.Errorf("idle capture wakes %.0f times a second", rate)
	}
}
