package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// proxiedHarness is the usual harness whose providers reach the simulator
// only through the given routes.
func proxiedHarness(t *testing.T, routes func(*config.Proxy)) *harness {
	t.Helper()
	return newHarness(t, apitest.Options{TTFT: 30 * time.Millisecond, TPOT: 20 * time.Millisecond, OutputTokens: 10}, func(c *config.File) {
		c.Proxy.Timeouts.Connect = time.Second
		c.Proxy.Timeouts.TLSHandshake = 500 * time.Millisecond
		routes(&c.Proxy)
	})
}

// streamOnce sends one streamed chat call through the proxy with the
// OpenAI SDK and returns the text it received.
func streamOnce(t *testing.T, h *harness) string {
	t.Helper()
	oc := openAIClient(h)
	s := oc.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("through the proxy")}})
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil {
		t.Fatalf("streamed call through the proxy: %v", err)
	}
	return acc.Choices[0].Message.Content
}

// checkUnbuffered fails unless the recorded content chunks arrived spread
// over the stream's 20 ms pacing, not in one burst at the end.
func checkUnbuffered(t *testing.T, ex *format.Exchange) {
	t.Helper()
	// The simulator compresses like the providers when the client accepts
	// it: the decoded pieces keep the times of the reads that carried them.
	var times []int64
	var err error
	chunks := func(yield func(int64, []byte) bool) {
		for _, c := range ex.Response.Chunks {
			if !yield(c.T, c.Data()) {
				return
			}
		}
	}
	for ts, p := range wire.DecodeChunks(strings.Join(ex.Response.Headers["Content-Encoding"], ","), chunks, 1<<20, &err) {
		if bytes.Contains(p, []byte(`"content":"`)) {
			times = append(times, ts)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(times) < 9 {
		t.Fatalf("%d content chunks recorded, want one per token", len(times))
	}
	if spread := time.Duration(times[len(times)-1] - times[0]); spread < 8*15*time.Millisecond {
		t.Errorf("content chunks arrived within %v: the route buffered the stream", spread)
	}
}

func TestThroughRealProxies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (route func(*config.Proxy), want string, proof func(t *testing.T))
	}{{
		name: "http_connect_basic_auth", // squid-like CONNECT proxy: tinyproxy
		setup: func(t *testing.T) (func(*config.Proxy), string, func(*testing.T)) {
			p := startTinyproxy(t)
			return func(c *config.Proxy) {
					c.HTTPProxy = "http://" + p.addr
					c.Auth = config.ProxyAuth{Username: proxyUser, Password: proxyPass}
				}, "http://" + proxyUser + "@" + p.addr, func(t *testing.T) {
					if p.tunnels(t) == 0 {
						t.Errorf("tinyproxy opened no tunnel:\n%s", p.logText(t))
					}
				}
		},
	}, {
		name: "https_proxy_tls_to_the_proxy", // stunnel (TLS) in front of tinyproxy
		setup: func(t *testing.T) (func(*config.Proxy), string, func(*testing.T)) {
			p := startTinyproxy(t)
			addr, ca := startTLSProxy(t, p.addr)
			return func(c *config.Proxy) {
					c.HTTPProxy = "https://" + proxyUser + ":" + proxyPass + "@" + addr
					c.CAFile = ca
				}, "https://" + proxyUser + "@" + addr, func(t *testing.T) {
					if p.tunnels(t) == 0 {
						t.Errorf("no tunnel through the TLS endpoint:\n%s", p.logText(t))
					}
				}
		},
	}, {
		name: "socks5h_username_password", // dante
		setup: func(t *testing.T) (func(*config.Proxy), string, func(*testing.T)) {
			p := startDanted(t, true)
			return func(c *config.Proxy) {
					c.SOCKSProxy = "socks5h://" + proxyUser + ":" + proxyPass + "@" + p.addr
				}, "socks5h://" + proxyUser + "@" + p.addr, func(t *testing.T) {
					if !strings.Contains(p.logText(t), "username%"+proxyUser+"@") {
						t.Errorf("danted did not pass an authenticated session:\n%s", p.logText(t))
					}
				}
		},
	}, {
		name: "socks5_local_resolution",
		setup: func(t *testing.T) (func(*config.Proxy), string, func(*testing.T)) {
			p := startDanted(t, true)
			return func(c *config.Proxy) {
					c.SOCKSProxy = "socks5://" + p.addr
					c.Auth = config.ProxyAuth{Username: proxyUser, Password: proxyPass}
				}, "socks5://" + proxyUser + "@" + p.addr, func(t *testing.T) {
					if p.sessions(t) == 0 {
						t.Errorf("danted passed no session:\n%s", p.logText(t))
					}
				}
		},
	}, {
		name: "socks4",
		setup: func(t *testing.T) (func(*config.Proxy), string, func(*testing.T)) {
			p := startDanted(t, false)
			return func(c *config.Proxy) { c.SOCKSProxy = "socks4://" + p.addr }, "socks4://" + p.addr, func(t *testing.T) {
				if p.sessions(t) == 0 {
					t.Errorf("danted passed no SOCKS4 session:\n%s", p.logText(t))
				}
			}
		},
	}, {
		// dante does not resolve SOCKS4a names (it connects to 0.0.0.1), so
		// this sends an address, which 4a carries as SOCKS4 does.
		name: "socks4a_with_an_address",
		setup: func(t *testing.T) (func(*config.Proxy), string, func(*testing.T)) {
			p := startDanted(t, false)
			return func(c *config.Proxy) { c.SOCKSProxy = "socks4a://" + p.addr }, "socks4a://" + p.addr, func(t *testing.T) {
				if p.sessions(t) == 0 {
					t.Errorf("danted passed no session:\n%s", p.logText(t))
				}
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			route, want, proof := tc.setup(t)
			h := proxiedHarness(t, route)
			if got := streamOnce(t, h); got != apitest.Text(10) {
				t.Errorf("client got %q", got)
			}
			recs := h.records(t)
			ex := byPath(t, recs, "/v1/chat/completions")
			if ex.Route.Proxy != want || len(ex.Route.FailedRoutes) != 0 {
				t.Errorf("record says route %q (failed %q), want %q", ex.Route.Proxy, ex.Route.FailedRoutes, want)
			}
			// The proxy handshake (CONNECT, SOCKS, TLS to the proxy) is
			// timed: analysis reports it as proxy_ms.
			if hs := ex.Timings.ProxyHandshake; hs <= 0 || hs > ex.Timings.FirstByte {
				t.Errorf("proxy handshake %d ns (first byte at %d ns)", hs, ex.Timings.FirstByte)
			} else {
				t.Logf("proxy handshake %.3f ms", float64(hs)/1e6)
			}
			checkUnbuffered(t, ex)
			proof(t)
		})
	}
}

// postError sends a chat call that must fail and returns the status, the
// error message the client got, and how long it took.
func postError(t *testing.T, h *harness) (int, string, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := http.Post(h.inst.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Message string } `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("error body is not the OpenAI error shape: %s", b)
	}
	return resp.StatusCode, body.Error.Message, time.Since(start)
}

func TestProxyFailuresSayWhy(t *testing.T) {
	tiny := startTinyproxy(t)
	for _, tc := range []struct {
		name  string
		route func(*config.Proxy)
		want  string
	}{
		{"wrong_password_http", func(c *config.Proxy) {
			c.HTTPProxy = "http://" + proxyUser + ":wrong-password@" + tiny.addr
		}, fmt.Sprintf("http://%s@%s: rejected the credentials: answered 401 Unauthorized for user %q", proxyUser, tiny.addr, proxyUser)}, // tinyproxy's answer; squid says 407
		{"no_credentials_http", func(c *config.Proxy) { c.HTTPProxy = "http://" + tiny.addr }, "rejected the credentials: answered 407 Proxy Authentication Required and no credentials are configured"},
		{"proxy_down", func(c *config.Proxy) { c.SOCKSProxy = "socks5://" + closedPort(t) }, "connection refused"},
		{"proxy_accepts_but_never_answers", func(c *config.Proxy) { c.HTTPProxy = "http://" + silentProxy(t) }, "accepted the connection but did not complete its handshake within 500ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := proxiedHarness(t, tc.route)
			status, msg, took := postError(t, h)
			if status != http.StatusBadGateway || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "all routes to 127.0.0.1:") {
				t.Errorf("status %d, message %q; want 502 saying %q", status, msg, tc.want)
			}
			if took > 3*time.Second {
				t.Errorf("took %v: the configured timeouts are 1 s connect, 500 ms handshake", took)
			}
			if strings.Contains(msg, proxyPass) || strings.Contains(msg, "wrong-password") {
				t.Errorf("the error shows a password: %q", msg)
			}
			ex := byPath(t, h.records(t), "/v1/chat/completions")
			if ex.Route.Proxy != "none" || len(ex.Route.FailedRoutes) != 1 || ex.Error == nil || ex.Error.Kind != format.ErrUpstreamConnect {
				t.Errorf("record: route %q failed %q error %+v", ex.Route.Proxy, ex.Route.FailedRoutes, ex.Error)
			}
		})
	}
	t.Run("socks5_wrong_password", func(t *testing.T) {
		dante := startDanted(t, true)
		h := proxiedHarness(t, func(c *config.Proxy) { c.SOCKSProxy = "socks5h://" + proxyUser + ":wrong-password@" + dante.addr })
		_, msg, _ := postError(t, h)
		if want := fmt.Sprintf("SOCKS5 proxy rejected username/password for user %q", proxyUser); !strings.Contains(msg, want) {
			t.Errorf("message %q, want %q", msg, want)
		}
	})
}

// TestProxyFallback: a stuck proxy, then a working one: the call is served
// by the second, before any byte went upstream, and the record says why
// the first was skipped. The stuck route is then marked down and skipped
// without waiting.
func TestProxyFallback(t *testing.T) {
	tiny := startTinyproxy(t)
	stuck := "http://" + silentProxy(t)
	good := "http://" + proxyUser + ":" + proxyPass + "@" + tiny.addr
	h := proxiedHarness(t, func(c *config.Proxy) { c.Fallback = []string{stuck, good, "direct"} })
	streamOnce(t, h)
	start := time.Now()
	streamOnce(t, h)
	if took := time.Since(start); took > time.Second {
		t.Errorf("second call took %v: the stuck route was not marked down", took)
	}
	recs := h.records(t)
	first := recs[0]
	if first.Route.Proxy != "http://"+proxyUser+"@"+tiny.addr {
		t.Errorf("served by %q", first.Route.Proxy)
	}
	if len(first.Route.FailedRoutes) != 1 || !strings.Contains(first.Route.FailedRoutes[0], stuck+": accepted the connection but did not complete its handshake") {
		t.Errorf("failed routes %q", first.Route.FailedRoutes)
	}
	if got := len(h.sim.Received()); got != 2 {
		t.Errorf("upstream received %d requests for 2 calls: a failover must never send twice", got)
	}
}

// TestProxyPool: 200 sequential calls through a proxy reuse a handful of
// tunnels (counted at the proxy), and no secret reaches disk, logs or
// /metrics.
func TestProxyPool(t *testing.T) {
	tiny := startTinyproxy(t)
	h := proxiedHarness(t, func(c *config.Proxy) {
		c.HTTPProxy = "http://" + tiny.addr
		c.Auth = config.ProxyAuth{Username: proxyUser, Password: proxyPass}
	})
	for i := range 200 {
		req, _ := http.NewRequest("POST", h.inst.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"pool"}]}`))
		req.Header.Set("X-Sim-TTFT-Ms", "-1")
		req.Header.Set("X-Sim-TPOT-Ms", "-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("call %d: status %d", i, resp.StatusCode)
		}
	}
	n := tiny.tunnels(t)
	if n == 0 || n > 4 {
		t.Errorf("200 sequential calls opened %d tunnels through the proxy, want a handful", n)
	}
	t.Logf("200 sequential calls, %d tunnel(s) at the proxy", n)
	metrics := h.metrics(t)
	h.records(t)
	h.scanForSecrets(t, metrics, proxyPass, configOpenAIKey)
}

// TestCheckRoutes: `lessllm check` reports each route on its own, with
// the reason a route fails and never a password.
func TestCheckRoutes(t *testing.T) {
	tiny := startTinyproxy(t)
	down := closedPort(t)
	h := proxiedHarness(t, func(c *config.Proxy) {
		c.Fallback = []string{"socks5://" + proxyUser + ":" + proxyPass + "@" + down, "http://" + proxyUser + ":" + proxyPass + "@" + tiny.addr}
	})
	results := Check(context.Background(), h.cfg)
	byRoute := map[string]CheckResult{}
	for _, r := range results {
		if r.Provider == config.OpenAI {
			byRoute[r.Route] = r
		}
		if strings.Contains(fmt.Sprintf("%+v", r), proxyPass) || strings.Contains(fmt.Sprintf("%+v", r), configOpenAIKey) {
			t.Errorf("check result shows a secret: %+v", r)
		}
	}
	good := byRoute["http://"+proxyUser+"@"+tiny.addr]
	if !good.OK || good.Status != 200 || good.Connect <= 0 {
		t.Errorf("working route: %+v", good)
	}
	bad := byRoute["socks5://"+proxyUser+"@"+down]
	if bad.OK || !strings.Contains(bad.Detail, "connection refused") {
		t.Errorf("route to a closed port: %+v", bad)
	}
}
