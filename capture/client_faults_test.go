package capture

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// rawExchange writes req on a fresh connection and reads the responses
// that follow (several when pipelined).
func rawExchange(t *testing.T, addr, req string, responses int) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*http.Response
	for range responses {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading response %d: %v", len(out)+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		out = append(out, resp)
	}
	return out
}

func bodyOf(r *http.Response) string { b, _ := io.ReadAll(r.Body); return string(b) }

// TestClientFaults: what clients get wrong or do unusually is handled in
// their API's terms and recorded.
func TestClientFaults(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: time.Millisecond, TPOT: time.Millisecond, OutputTokens: 3}, func(c *config.File) {
		c.Capture.MaxRequestBytes = 64 << 10
	})
	addr := strings.TrimPrefix(h.inst.URL, "http://")
	chat := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`

	t.Run("body_over_the_limit", func(t *testing.T) {
		big := `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", 70<<10) + `"}]}`
		for _, c := range []struct{ path, shape string }{{"/v1/chat/completions", `"error":{`}, {"/v1/messages", `"type":"error"`}} {
			resp, err := http.Post(h.inst.URL+c.path, "application/json", strings.NewReader(big))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), c.shape) {
				t.Errorf("%s: %d %s", c.path, resp.StatusCode, b)
			}
		}
	})
	t.Run("http_1_0", func(t *testing.T) {
		r := rawExchange(t, addr, fmt.Sprintf("POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(chat), chat), 1)[0]
		if r.StatusCode != 200 || !strings.Contains(bodyOf(r), `"chat.completion"`) {
			t.Errorf("HTTP/1.0: %d", r.StatusCode)
		}
	})
	t.Run("expect_100_continue", func(t *testing.T) {
		rs := rawExchange(t, addr, fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(chat), chat), 2)
		if rs[0].StatusCode != http.StatusContinue || rs[1].StatusCode != 200 {
			t.Errorf("Expect: 100-continue: %d then %d, want 100 then 200", rs[0].StatusCode, rs[1].StatusCode)
		}
	})
	t.Run("pipelining", func(t *testing.T) {
		one := fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(chat), chat)
		last := fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(chat), chat)
		rs := rawExchange(t, addr, one+one+last, 3)
		for i, r := range rs {
			if r.StatusCode != 200 {
				t.Errorf("pipelined request %d: %d", i, r.StatusCode)
			}
		}
	})
	t.Run("huge_headers", func(t *testing.T) {
		r := rawExchange(t, addr, "GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 2<<20)+"\r\n\r\n", 1)[0]
		if r.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("2 MiB of headers: %d", r.StatusCode)
		}
	})
	for _, c := range []struct{ name, ctype, body string }{
		{"malformed_json", "application/json", `{"model":"gpt-4o","messages":[`},
		{"not_json", "text/plain", "hello, model"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Post(h.inst.URL+"/v1/chat/completions", c.ctype, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Error struct{ Type string } }
			json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			// Passed through: the upstream's own answer, in its format.
			if resp.StatusCode != http.StatusBadRequest || e.Error.Type != "invalid_request_error" {
				t.Errorf("status %d, error type %q", resp.StatusCode, e.Error.Type)
			}
		})
	}
	got := h.sim.Received()
	var passed int
	for _, r := range got {
		if string(r.Body) == `{"model":"gpt-4o","messages":[` || string(r.Body) == "hello, model" {
			passed++
		}
	}
	if passed != 2 {
		t.Errorf("%d of the 2 malformed bodies reached the upstream unchanged", passed)
	}
	recs := h.records(t)
	var asText int
	for _, ex := range recs {
		if ex.Request.Text == `{"model":"gpt-4o","messages":[` || ex.Request.Text == "hello, model" {
			asText++
		}
	}
	if asText != 2 {
		t.Errorf("%d of the 2 malformed bodies recorded as text", asText)
	}
}

// TestDisconnectsLeakNothing: 50 clients that hang up mid-stream leave no
// goroutine behind once their upstream requests are cancelled, and each is
// recorded as a client disconnect with the chunks that did arrive.
func TestDisconnectsLeakNothing(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: 5 * time.Millisecond, TPOT: 20 * time.Millisecond, OutputTokens: 200}, nil)
	settle := func() int {
		var n int
		for range 50 {
			runtime.GC()
			n = runtime.NumGoroutine()
			time.Sleep(20 * time.Millisecond)
		}
		return n
	}
	before := runtime.NumGoroutine()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", h.inst.URL+"/v1/chat/completions",
				strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			br := bufio.NewReader(resp.Body)
			for range 6 {
				br.ReadString('\n')
			}
			cancel() // hang up mid-stream
			resp.Body.Close()
		})
	}
	wg.Wait()
	client.CloseIdleConnections()
	after := settle()
	if after > before+5 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Errorf("%d goroutines before, %d after 50 disconnects:\n%s", before, after, buf[:n])
	}
	disconnects := 0
	for _, ex := range h.records(t) {
		if ex.Error != nil && ex.Error.Kind == format.ErrClientDisconnect && ex.Response != nil && len(ex.Response.Chunks) > 0 {
			disconnects++
		}
	}
	if disconnects != 50 {
		t.Errorf("%d of 50 disconnects recorded as such with their chunks", disconnects)
	}
	t.Logf("goroutines: %d before, %d after 50 mid-stream disconnects", before, after)
}

// TestSlowlorisIsCutOff: a client that trickles its headers is
// disconnected after read_header_timeout, and the proxy keeps serving.
func TestSlowlorisIsCutOff(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: time.Millisecond, TPOT: time.Millisecond, OutputTokens: 2}, func(c *config.File) {
		c.Capture.ReadHeaderTimeout = 300 * time.Millisecond
	})
	c, err := net.Dial("tcp", strings.TrimPrefix(h.inst.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\n")
	for i := 0; ; i++ {
		select {
		case took := <-closed:
			if took > 2*time.Second {
				t.Errorf("a header trickle kept the connection %v (read_header_timeout 300 ms)", took)
			}
			resp, err := http.Get(h.inst.URL + "/v1/models")
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("the proxy stopped serving: %v", err)
			} else {
				resp.Body.Close()
			}
			return
		case <-time.After(100 * time.Millisecond):
			fmt.Fprintf(c, "X-Trickle-%d: a\r\n", i) // one header every 100 ms, never the end
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("the connection was never closed")
		}
	}
}
