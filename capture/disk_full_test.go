package capture

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/capture/simulator"
	"github.com/lessllm/lessllm/format"
)

// tinyDisk mounts a 64 KiB tmpfs for the capture directory (root only).
func tinyDisk(t *testing.T) string {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root; CI runs as root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return filepath.Join(dir, "captures")
}

func metric(t *testing.T, url, name string) float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("metric %s not exposed", name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestDiskFull: when segments cannot be written, the default keeps serving
// and counts the dropped records; on_write_error: reject refuses requests
// in the client's API format instead.
func TestDiskFull(t *testing.T) {
	for _, mode := range []string{"drop", "reject"} {
		t.Run(mode, func(t *testing.T) {
			dir := tinyDisk(t)
			h := newHarness(t, simulator.Options{TTFT: -1, TPOT: -1, OutputTokens: 200, NoCache: true}, func(c *config.File) {
				c.Capture.Dir = dir
				c.Capture.OnWriteError = mode
			})
			// Random prompts defeat compression, so the 64 KiB fill quickly.
			prompt := func(i int) string {
				return `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat(strconv.Itoa(i*7919), 300) + `"}]}`
			}
			var refused *http.Response
			var refusedBody []byte
			deadline := time.Now().Add(20 * time.Second)
			for i := 0; time.Now().Before(deadline); i++ {
				resp, err := http.Post(h.inst.URL+"/v1/chat/completions", "application/json", strings.NewReader(prompt(i)))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					refused, refusedBody = resp, b
					break
				}
				if mode == "drop" && metric(t, h.inst.URL, "lessllm_records_dropped_total") > 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			switch mode {
			case "drop":
				if refused != nil {
					t.Fatalf("drop mode refused a request: %d %s", refused.StatusCode, refusedBody)
				}
				if metric(t, h.inst.URL, "lessllm_records_dropped_total") == 0 {
					t.Fatal("the disk filled but no dropped record was counted")
				}
			case "reject":
				if refused == nil || refused.StatusCode != 503 || !strings.Contains(string(refusedBody), "capture.on_write_error: reject") {
					t.Fatalf("reject mode: got %v %s", refused, refusedBody)
				}
				if hz, _ := http.Get(h.inst.URL + "/healthz"); hz.StatusCode != 503 {
					t.Fatalf("/healthz says %d while records cannot be written", hz.StatusCode)
				}
			}
			// Shutdown says sealing failed; what was written before the disk
			// filled stays readable (the next start repairs the open file).
			err := h.inst.Shutdown(context.Background())
			h.inst = nil
			if err == nil || !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("shutdown on a full disk: %v", err)
			}
			// The log is written off the request path; shutdown drained it.
			if !strings.Contains(h.logs.String(), "capture write failed") {
				t.Fatal("dropped records were not logged")
			}
			tr, err := format.OpenTree([]string{dir}, true)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for tr.Next() {
				n++
			}
			if n == 0 {
				t.Fatal("nothing readable from before the disk filled")
			}
		})
	}
}
