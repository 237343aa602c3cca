package capture

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// The in-process benchmarks profile the hot path (go test -bench
// -cpuprofile). The side-by-side comparison with a direct connection and a
// bare proxy, each in its own process, is cmd/lessllm-bench.
func benchProxy(b *testing.B, stream bool, viaCapture bool) {
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: -1, TPOT: -1, OutputTokens: 20, NoCache: true}))
	defer sim.Close()
	url := sim.URL
	if viaCapture {
		cfg := config.Default()
		cfg.Listen = "127.0.0.1:0"
		cfg.Capture.Dir = b.TempDir()
		cfg.Capture.Node = "bench"
		cfg.Providers[config.OpenAI].BaseURL = sim.URL + "/v1"
		inst, err := Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		defer inst.Shutdown(b.Context())
		url = inst.URL
	}
	body := `{"model":"gpt-4o-mini","stream":false,"messages":[{"role":"user","content":"Say hello in twenty words."}]}`
	if stream {
		body = strings.Replace(body, `"stream":false`, `"stream":true`, 1)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func BenchmarkDirectNonStreamed(b *testing.B)  { benchProxy(b, false, false) }
func BenchmarkCaptureNonStreamed(b *testing.B) { benchProxy(b, false, true) }
func BenchmarkDirectStreamed(b *testing.B)     { benchProxy(b, true, false) }
func BenchmarkCaptureStreamed(b *testing.B)    { benchProxy(b, true, true) }

// BenchmarkRoute is the routing decision of one request: dialect, model
// alias, provider and upstream URL.
func BenchmarkRoute(b *testing.B) {
	cfg := config.Default()
	cfg.Models["fast"] = config.ModelAlias{Provider: config.Anthropic, Model: "claude-haiku-4-5"}
	body := []byte(`{"model":"fast","stream":true,"messages":[{"role":"user","content":"hello"}]}`)
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	r.Header.Set("Authorization", "Bearer sk-client")
	b.ReportAllocs()
	for b.Loop() {
		rt, err := resolve(cfg, dialectOf(r), r, body)
		if err != nil || !rt.alias {
			b.Fatal(rt, err)
		}
		if _, err := upstreamURL(rt.provider.BaseURL, r.URL); err != nil {
			b.Fatal(err)
		}
	}
}
