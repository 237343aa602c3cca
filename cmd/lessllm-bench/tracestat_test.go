package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/trace"
	"sync"
	"testing"
	"time"
)

// TestSummarizeTrace traces a real HTTP server holding 20 slow requests,
// with a garbage collection while they are open, and checks what the
// summary makes of it: the window is the time they were open, the waits
// are those of net/http's connection goroutines, the collection is seen.
func TestSummarizeTrace(t *testing.T) {
	const n = 20
	path := filepath.Join(t.TempDir(), "trace")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var arrived sync.WaitGroup
	arrived.Add(n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release
		for range 5 { // a few writes, each a wake-up of this goroutine
			w.Write([]byte("data: x\n\n"))
			w.(http.Flusher).Flush()
			time.Sleep(time.Millisecond)
		}
	}))
	defer srv.Close()
	if err := trace.Start(f); err != nil {
		t.Fatal(err)
	}
	var done sync.WaitGroup
	for range n {
		done.Go(func() {
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	arrived.Wait()
	runtime.GC()
	close(release)
	done.Wait()
	trace.Stop()
	f.Close()

	s, err := summarizeTrace(path, n)
	if err != nil {
		t.Fatal(err)
	}
	if s.window <= 0 || s.window > 10*time.Second {
		t.Errorf("window %v", s.window)
	}
	if !(0 <= s.wait50 && s.wait50 <= s.wait99 && s.wait99 <= s.waitMax) {
		t.Errorf("waits p50 %v, p99 %v, max %v: not ordered", s.wait50, s.wait99, s.waitMax)
	}
	if s.gcCycles < 1 || s.stw <= 0 || s.stwMax > s.stw {
		t.Errorf("the collection in the window: %d cycles, stop-the-world %v (max %v)", s.gcCycles, s.stw, s.stwMax)
	}
	if s.busy <= 0 || s.busy > float64(runtime.GOMAXPROCS(0)) {
		t.Errorf("cores busy %.2f", s.busy)
	}
	// With fewer goroutines than that ever alive there is no window.
	if _, err := summarizeTrace(path, 100*n); err == nil {
		t.Error("a window was found with more goroutines than ever ran")
	}
}
