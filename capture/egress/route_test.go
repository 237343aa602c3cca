package egress

import (
	"strings"
	"testing"
)

func TestParseRoute(t *testing.T) {
	for _, tc := range []struct {
		in, user, pass string
		want           string // String(); "" = error
		wantUser       string
		wantPass       string
	}{
		{in: "direct", want: "direct"},
		{in: "http://proxy.company.com:8080", want: "http://proxy.company.com:8080"},
		{in: "http://proxy.company.com", want: "http://proxy.company.com:80"},
		{in: "https://proxy.company.com", want: "https://proxy.company.com:443"},
		{in: "socks5://127.0.0.1", want: "socks5://127.0.0.1:1080"},
		{in: "socks5h://bob:s3cret@127.0.0.1:1080", want: "socks5h://bob@127.0.0.1:1080", wantUser: "bob", wantPass: "s3cret"},
		{in: "socks4a://10.0.0.1:1080", user: "ann", pass: "pw", want: "socks4a://ann@10.0.0.1:1080", wantUser: "ann", wantPass: "pw"},
		{in: "http://url-user:url-pass@p:3128", user: "cfg", pass: "cfg-pass", want: "http://url-user@p:3128", wantUser: "url-user", wantPass: "url-pass"},
		{in: "ftp://p:21"},
		{in: "proxy.company.com:8080"},
		{in: ""},
	} {
		r, err := ParseRoute(tc.in, tc.user, tc.pass)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseRoute(%q) accepted", tc.in)
			}
			continue
		}
		if err != nil || r.String() != tc.want || r.Username != tc.wantUser || r.Password != tc.wantPass {
			t.Errorf("ParseRoute(%q) = %q (%q/%q), %v; want %q (%q/%q)", tc.in, r.String(), r.Username, r.Password, err, tc.want, tc.wantUser, tc.wantPass)
		}
		if strings.Contains(r.String(), "s3cret") || strings.Contains(r.String(), "pass") {
			t.Errorf("%q: String() shows a password: %s", tc.in, r.String())
		}
	}
}

func TestParseRouteErrorHidesPassword(t *testing.T) {
	_, err := ParseRoute("ftp://bob:hunter2@p:21", "", "")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v", err)
	}
}

func TestNoProxy(t *testing.T) {
	list := []string{"localhost", ".internal.example", "10.0.0.0/8", "192.168.1.5", "api.corp"}
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "a.internal.example": true, "internal.example": false,
		"10.1.2.3": true, "11.1.2.3": false, "192.168.1.5": true, "api.corp": true, "eu.api.corp": true,
		"myapi.corp": false, "api.openai.com": false, "127.0.0.1": false,
	} {
		if got := matchNoProxy(list, host); got != want {
			t.Errorf("matchNoProxy(%q) = %v, want %v", host, got, want)
		}
	}
	if !matchNoProxy([]string{"*"}, "anything") {
		t.Error(`"*" does not match everything`)
	}
	// Entries with a port cover that port only (httpproxy semantics);
	// addresses come as the dialer sees them, host:port.
	ported := []string{"internal.example:8443", "10.0.0.1:80", "[::1]:9000", "plain.example", "::2"}
	for addr, want := range map[string]bool{
		"internal.example:8443": true, "internal.example:443": false, "a.internal.example:8443": true,
		"10.0.0.1:80": true, "10.0.0.1:443": false, "[::1]:9000": true, "[::1]:9001": false,
		"plain.example:443": true, "plain.example:8443": true, "[::2]:443": true,
	} {
		if got := matchNoProxy(ported, addr); got != want {
			t.Errorf("matchNoProxy(%v, %q) = %v, want %v", ported, addr, got, want)
		}
	}
}

// TestDirectNeverImplicit: with proxies configured, the only way around
// them is to list direct (or no_proxy).
func TestDirectNeverImplicit(t *testing.T) {
	r, _ := ParseRoute("socks5://127.0.0.1:1", "", "")
	d := &Dialer{Routes: []Route{r}, NoProxy: []string{"internal"}}
	if got := d.routesFor("api.openai.com:443"); len(got) != 1 || got[0].String() != r.String() {
		t.Errorf("routes %v", got)
	}
	if got := d.routesFor("internal:80"); len(got) != 1 || got[0].Proxy != nil {
		t.Errorf("no_proxy host: routes %v", got)
	}
	if got := d.routesFor("127.0.0.1:8080"); got[0].Proxy == nil {
		t.Error("loopback went around the configured proxy")
	}
}
