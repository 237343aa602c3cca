package capture

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/capture/egress"
)

// TestUpstreamTransportByScheme: http:// goes over capture/h1, https://
// over net/http's Transport with HTTP/2.
func TestUpstreamTransportByScheme(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) })
	plain := httptest.NewServer(ok)
	defer plain.Close()
	secure := httptest.NewUnstartedServer(ok)
	secure.EnableHTTP2 = true
	secure.StartTLS()
	defer secure.Close()

	tr := NewTransport(config.Default().Proxy, &egress.Dialer{})
	defer tr.CloseIdleConnections()
	roots := x509.NewCertPool()
	roots.AddCert(secure.Certificate())
	tr.tls.TLSClientConfig.RootCAs = roots
	for _, c := range []struct{ url, body, proto string }{
		{plain.URL, "*h1.body", "HTTP/1.1"},
		{secure.URL, "", "HTTP/2.0"},
	} {
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body := fmt.Sprintf("%T", resp.Body); string(b) != c.proto || (c.body != "") != (body == "*h1.body") {
			t.Errorf("%s: the server saw %s, the body is a %s; want %s over %s", c.url, b, body, c.proto, map[bool]string{true: "h1", false: "net/http"}[c.body != ""])
		}
	}
}

func routeNames(t *testing.T, cfg *config.File, prov *config.Provider) string {
	t.Helper()
	d, err := NewDialer(cfg, prov)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range d.Routes {
		names = append(names, r.String())
	}
	return fmt.Sprint(names, d.NoProxy)
}

// TestRouteSelection: which routes a provider gets from the config, its
// own proxy block, or the environment.
func TestRouteSelection(t *testing.T) {
	https := &config.Provider{Type: config.OpenAI, BaseURL: "https://api.openai.com/v1"}
	plain := &config.Provider{Type: config.OpenAI, BaseURL: "http://10.0.0.7:8000/v1"}
	for _, tc := range []struct {
		name   string
		env    map[string]string
		routes config.Routes
		prov   *config.Provider
		want   string
	}{
		{name: "nothing_anywhere_is_direct", prov: https, want: "[] []"},
		{name: "https_upstream_uses_https_proxy_then_socks", prov: https,
			routes: config.Routes{HTTPProxy: "http://h:1", HTTPSProxy: "http://s:2", SOCKSProxy: "socks5://k:3", Auth: config.ProxyAuth{Username: "bob", Password: "pw"}},
			want:   "[http://bob@s:2 socks5://bob@k:3] []"},
		{name: "http_upstream_uses_http_proxy", prov: plain, routes: config.Routes{HTTPProxy: "http://h:1", HTTPSProxy: "http://s:2"}, want: "[http://h:1] []"},
		{name: "fallback_is_the_whole_list", prov: https, routes: config.Routes{HTTPSProxy: "http://s:2", Fallback: []string{"socks5h://k:3", "http://s:2", "direct"}, NoProxy: []string{"localhost"}},
			want: "[socks5h://k:3 http://s:2 direct] [localhost]"},
		{name: "environment_when_the_config_says_nothing", prov: https, env: map[string]string{"HTTPS_PROXY": "http://envuser:envpass@e:8080", "NO_PROXY": "localhost,.corp"},
			want: "[http://envuser@e:8080] [localhost .corp]"},
		{name: "all_proxy_from_the_environment", prov: plain, env: map[string]string{"all_proxy": "socks5h://a:1080"}, want: "[socks5h://a:1080] []"},
		{name: "config_wins_over_environment", prov: https, env: map[string]string{"HTTPS_PROXY": "http://e:1"}, routes: config.Routes{HTTPSProxy: "http://c:2"}, want: "[http://c:2] []"},
		{name: "provider_block_wins", prov: &config.Provider{Type: config.OpenAI, BaseURL: "https://x/v1", Proxy: &config.Routes{SOCKSProxy: "socks4://p:1"}},
			routes: config.Routes{HTTPSProxy: "http://c:2"}, want: "[socks4://p:1] []"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"} {
				t.Setenv(k, tc.env[k])
			}
			cfg := config.Default()
			cfg.Proxy.Routes = tc.routes
			if got := routeNames(t, cfg, tc.prov); got != tc.want {
				t.Errorf("routes %s, want %s", got, tc.want)
			}
		})
	}
}
