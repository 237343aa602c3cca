package capture

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lessllm/lessllm/format/wire/apitest"
)

// TestNotAnOpenProxy: requests that try to use capture as a way into the
// network — CONNECT, absolute-form URIs for another host, path traversal,
// a Host header naming another host — never reach anything but the
// configured upstream, and only a well-formed API call reaches even that.
func TestNotAnOpenProxy(t *testing.T) {
	var decoyHits atomic.Int64
	decoy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { decoyHits.Add(1) }))
	defer decoy.Close()
	decoyHost := strings.TrimPrefix(decoy.URL, "http://")
	h := newHarness(t, apitest.Options{TTFT: time.Millisecond, TPOT: time.Millisecond, OutputTokens: 2}, nil)
	capHost := strings.TrimPrefix(h.inst.URL, "http://")

	raw := func(req string) int {
		t.Helper()
		c, err := net.Dial("tcp", capHost)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, req)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	post := func(target, host string) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", target, host, len(body), body)
	}
	for _, tc := range []struct {
		name, req string
		want      int
	}{
		{"connect", "CONNECT " + decoyHost + " HTTP/1.1\r\nHost: " + decoyHost + "\r\n\r\n", 0}, // 404 from the mux, or our 400
		{"absolute_uri_other_host", post("http://"+decoyHost+"/v1/chat/completions", decoyHost), http.StatusBadRequest},
		{"absolute_uri_get", "GET http://" + decoyHost + "/ HTTP/1.1\r\nHost: " + decoyHost + "\r\nConnection: close\r\n\r\n", http.StatusBadRequest},
		{"path_traversal", "GET /v1/../../etc/passwd HTTP/1.1\r\nHost: " + capHost + "\r\nConnection: close\r\n\r\n", 0},
		{"encoded_traversal", "GET /v1/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: " + capHost + "\r\nConnection: close\r\n\r\n", 0},
		{"non_api_path", "GET /admin HTTP/1.1\r\nHost: " + capHost + "\r\nConnection: close\r\n\r\n", http.StatusNotFound},
	} {
		got := raw(tc.req)
		if (got >= 200 && got < 300) || (tc.want != 0 && got != tc.want) {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := h.sim.Received(); len(got) != 0 {
		t.Errorf("the upstream received %d of the refused requests: %s %s", len(got), got[0].Method, got[0].Path)
	}
	// A Host header naming another host does not pick the destination: the
	// call goes to the configured upstream only.
	if got := raw(post("/v1/chat/completions", decoyHost)); got != http.StatusOK {
		t.Errorf("API call with a foreign Host header: status %d", got)
	}
	if n := len(h.sim.Received()); n != 1 {
		t.Errorf("the configured upstream received %d requests, want the one API call", n)
	}
	if n := decoyHits.Load(); n != 0 {
		t.Errorf("the decoy host was contacted %d times", n)
	}
}
