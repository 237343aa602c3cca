package capture

import (
	"fmt"
	"testing"

	"github.com/lessllm/lessllm/capture/config"
)

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
