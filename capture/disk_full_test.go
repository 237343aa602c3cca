package capture

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// tinyDisk mounts a 64 KiB tmpfs for the capture directory (root only)
// and returns the capture directory and the mount point.
func tinyDisk(t *testing.T) (captures, mount string) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root; CI runs as root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return filepath.Join(dir, "captures"), dir
}

// remount changes the tmpfs's size.
func remount(t *testing.T, mount string, data string) {
	t.Helper()
	if err := syscall.Mount("tmpfs", mount, "tmpfs", syscall.MS_REMOUNT, data); err != nil {
		t.Fatalf("remount %s %q: %v", mount, data, err)
	}
}

// countRecords counts the records readable under dir, sealed or not.
func countRecords(t *testing.T, dir string) int {
	t.Helper()
	tr, err := format.OpenTree([]string{dir}, true)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for tr.Next() {
		n++
	}
	return n
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
			dir, _ := tinyDisk(t)
			h := newHarness(t, apitest.Options{TTFT: -1, TPOT: -1, OutputTokens: 200, NoCache: true}, func(c *config.File) {
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
			if n := countRecords(t, dir); n == 0 {
				t.Fatal("nothing readable from before the disk filled")
			}
		})
	}
}

// TestDiskRecovers: requests keep flowing while segments cannot be written
// (disk full, file system read-only, directory deleted), every lost record
// is counted, and capture writes again as soon as it can — without a
// restart. Afterwards every record written before and after is readable.
func TestDiskRecovers(t *testing.T) {
	dir, mount := tinyDisk(t)
	h := newHarness(t, apitest.Options{TTFT: -1, TPOT: -1, OutputTokens: 20, NoCache: true}, func(c *config.File) {
		c.Capture.Dir = dir
		c.Capture.SegmentMaxBytes = 16 << 10 // rotate often, so new files are created while the disk misbehaves
	})
	call := func(i int, filler int) {
		t.Helper()
		body := `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat(strconv.Itoa(i*7919), filler) + `"}]}`
		resp, err := http.Post(h.inst.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("call %d: status %d while the disk misbehaves (on_write_error: drop keeps serving)", i, resp.StatusCode)
		}
	}
	written := func() float64 { return metric(t, h.inst.URL, "lessllm_records_written_total") }
	dropped := func() float64 { return metric(t, h.inst.URL, "lessllm_records_dropped_total") }
	// waitWritten waits until n more records are on disk than before.
	waitWritten := func(before, n float64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); written() < before+n; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("written %v, want %v: capture did not resume", written(), before+n)
			}
		}
	}
	i := 0
	next := func(filler int) { call(i, filler); i++ }

	// 1. Disk full, then space returns.
	for deadline := time.Now().Add(20 * time.Second); dropped() == 0; next(300) {
		if time.Now().After(deadline) {
			t.Fatal("the 64 KiB disk never filled")
		}
	}
	lostFull := dropped()
	remount(t, mount, "size=8m")
	w := written()
	for range 5 {
		next(10)
	}
	waitWritten(w, 5)
	t.Logf("disk full: %v records dropped and counted; after space returned 5 of 5 written", lostFull)

	// 2. Read-only, then writable again. Linux refuses to remount a file
	// system read-only while a file on it is open for writing (EBUSY), so
	// a read-only tmpfs is mounted over the capture directory instead —
	// what the writer then sees is what it sees when its directory turns
	// read-only: EROFS on every create.
	time.Sleep(100 * time.Millisecond) // let the last frame land
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_RDONLY, "size=1m"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); dropped() == lostFull; next(10) {
		if time.Now().After(deadline) {
			t.Fatal("a read-only file system lost no record: the test did not exercise it")
		}
		time.Sleep(30 * time.Millisecond)
	}
	lostRO := dropped() - lostFull
	if err := syscall.Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}
	w = written()
	for range 5 {
		next(10)
	}
	waitWritten(w, 5)
	t.Logf("read-only: %v records dropped and counted; writable again: 5 of 5 written", lostRO)

	// 3. The capture directory deleted: recreated with what was written.
	time.Sleep(100 * time.Millisecond)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	d := dropped()
	w = written()
	for range 5 {
		next(10)
	}
	waitWritten(w, 5)
	if dropped() != d {
		t.Errorf("a deleted directory lost %v records", dropped()-d)
	}
	if !strings.Contains(h.logs.String(), "capture write failed") {
		t.Error("the lost records were not logged")
	}
	total := written()
	metricAfter := metric(t, h.inst.URL, "lessllm_segments_relinked_total")
	if err := h.inst.Shutdown(context.Background()); err != nil {
		t.Logf("shutdown: %v", err) // segments abandoned while read-only are sealed by the next start's repair
	}
	h.inst = nil
	n := countRecords(t, dir)
	// What was sealed before the deletion went with the directory; the
	// segment open at the time was recreated with its records.
	relinked := metricAfter
	t.Logf("deleted directory: recreated (%v segment relinked), 5 of 5 written; %d records readable in it afterwards (%v written in all)", relinked, n, total)
	if relinked != 1 || n < 5 {
		t.Errorf("after the deletion: %v segments relinked, %d records readable", relinked, n)
	}
}
