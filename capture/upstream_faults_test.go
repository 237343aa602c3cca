package capture

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// TestUpstreamFaultsMore: a TLS upstream that cannot be verified, one that
// is slow to send headers, and a 429 with Retry-After — each reaches the
// client in its API's terms, within the configured timeouts, and is
// recorded with its kind.
func TestUpstreamFaultsMore(t *testing.T) {
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer untrusted.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(time.Second): // well past the 300 ms response_header timeout
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
	}))
	defer limited.Close()

	for _, tc := range []struct {
		name, base string
		status     int
		kind, want string
	}{
		{"tls_unverifiable", untrusted.URL + "/v1", http.StatusBadGateway, format.ErrUpstreamBroken, "certificate"},
		{"slow_headers", slow.URL + "/v1", http.StatusGatewayTimeout, format.ErrUpstreamTimeout, "timeout"},
		{"rate_limited", limited.URL + "/v1", http.StatusTooManyRequests, "", "Rate limit reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, apitest.Options{}, func(c *config.File) {
				c.Providers[config.OpenAI].BaseURL = tc.base
				c.Proxy.Timeouts.ResponseHeader = 300 * time.Millisecond
			})
			start := time.Now()
			resp, err := http.Post(h.inst.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o","messages":[]}`))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) || !strings.Contains(string(b), `"error":{`) {
				t.Errorf("status %d body %s; want %d mentioning %q in the OpenAI error shape", resp.StatusCode, b, tc.status, tc.want)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v", took)
			}
			if tc.name == "rate_limited" && resp.Header.Get("Retry-After") != "7" {
				t.Errorf("Retry-After %q did not reach the client", resp.Header.Get("Retry-After"))
			}
			ex := byPath(t, h.records(t), "/v1/chat/completions")
			switch {
			case tc.kind != "" && (ex.Error == nil || ex.Error.Kind != tc.kind):
				t.Errorf("recorded error %+v, want kind %s", ex.Error, tc.kind)
			case tc.kind == "" && (ex.Response == nil || ex.Response.Status != 429 || ex.Response.Headers["Retry-After"][0] != "7"):
				t.Errorf("recorded response %+v", ex.Response)
			}
		})
	}
}
