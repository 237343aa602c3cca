package capture

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"sort"
	"strings"
	"time"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/capture/egress"
	"github.com/lessllm/lessllm/format/wire"
)

// CheckResult is one route to one provider, tried end to end.
type CheckResult struct {
	Provider, Route string
	OK              bool
	// Connect is TCP plus the proxy handshake; TLS the handshake with the
	// upstream (0 for http upstreams); Total includes GET {base_url}/models.
	Connect, TLS, Total time.Duration
	Status              int    // of GET /models; 0 if it was not reached
	Detail              string // what failed, or the status line
}

// Check tries every configured route to every provider, one at a time, as
// `lessllm check` does: connect (through the proxy), TLS, and a cheap
// authenticated GET of the models list. It never prints or returns a
// password or an API key.
func Check(ctx context.Context, cfg *config.File) []CheckResult {
	names := make([]string, 0, len(cfg.Providers))
	for n := range cfg.Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []CheckResult
	for _, name := range names {
		prov := cfg.Providers[name]
		d, err := NewDialer(cfg, prov)
		if err != nil {
			out = append(out, CheckResult{Provider: name, Route: "?", Detail: err.Error()})
			continue
		}
		routes := d.Routes
		if len(routes) == 0 {
			routes = []egress.Route{egress.Direct}
		}
		for _, r := range routes {
			one := &egress.Dialer{Routes: []egress.Route{r}, Timeout: d.Timeout, Handshake: d.Handshake, TLSConfig: d.TLSConfig}
			out = append(out, checkRoute(ctx, cfg, name, prov, one))
		}
	}
	return out
}

func checkRoute(ctx context.Context, cfg *config.File, name string, prov *config.Provider, d *egress.Dialer) CheckResult {
	res := CheckResult{Provider: name, Route: d.Routes[0].String()}
	tr := NewTransport(cfg.Proxy, d)
	defer tr.CloseIdleConnections()
	var connStart, connDone, tlsStart, tlsDone time.Time
	trace := &httptrace.ClientTrace{
		GetConn:           func(string) { connStart = time.Now() },
		TLSHandshakeStart: func() { tlsStart = time.Now() },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { tlsDone = time.Now() },
		GotConn:           func(httptrace.GotConnInfo) { connDone = time.Now() },
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Proxy.Timeouts.Connect+cfg.Proxy.Timeouts.TLSHandshake+cfg.Proxy.Timeouts.ResponseHeader)
	defer cancel()
	url := strings.TrimSuffix(prov.BaseURL, "/") + "/models"
	switch {
	case prov.Type == config.AzureOpenAI:
		url, _ = azureURL(prov, "/v1/models", "") // base_url was checked when the config loaded
	case prov.Dialect() == wire.Anthropic:
		url = strings.TrimSuffix(prov.BaseURL, "/") + "/v1/models"
	case prov.Type == config.Gemini:
		url = strings.TrimSuffix(prov.BaseURL, "/") + "/v1beta/models"
	case prov.Type == config.Bedrock:
		// Bedrock lists its models on the control plane, not the runtime.
		base := strings.TrimSuffix(prov.BaseURL, "/")
		if base == "https://bedrock-runtime."+prov.Region+".amazonaws.com" {
			base = "https://bedrock." + prov.Region + ".amazonaws.com"
		}
		url = base + "/foundation-models"
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, url, nil)
	if err != nil {
		res.Detail = err.Error()
		return res
	}
	// The credentials an alias call would carry.
	req.Header = upstreamHeader(http.Header{}, &route{provider: prov, upstreamDialect: prov.Dialect()})
	if prov.Type == config.Bedrock {
		s, err := signerFor(ctx, prov)
		if err == nil {
			err = s.sign(ctx, req, nil)
		}
		if err != nil {
			res.Detail = err.Error()
			return res
		}
	}
	start := time.Now()
	resp, err := tr.RoundTrip(req)
	res.Total = time.Since(start)
	if !connDone.IsZero() {
		res.Connect = connDone.Sub(connStart)
	}
	if !tlsDone.IsZero() {
		res.TLS = tlsDone.Sub(tlsStart)
		res.Connect -= res.TLS // GotConn comes after the upstream TLS handshake
	}
	if err != nil {
		res.Detail = strings.TrimPrefix(err.Error(), "Get \""+url+"\": ")
		return res
	}
	resp.Body.Close()
	res.Status = resp.StatusCode
	res.OK = true // the route works; the status says whether the key does
	res.Detail = fmt.Sprintf("GET %s: %s", url, resp.Status)
	switch {
	case prov.Type == config.Bedrock && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
		res.Detail += " (route works; the AWS credentials or their signature were refused)"
	case prov.Type == config.Bedrock:
	case prov.MissingKey() != "":
		res.Detail += fmt.Sprintf(" (no API key configured: %s is not set)", prov.MissingKey())
	case prov.APIKey == "" && prov.EntraToken == "":
		res.Detail += " (no API key configured)"
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		res.Detail += " (route works; the API key was refused)"
	}
	return res
}
