// Package egress dials upstream APIs through the routes a corporate network
// allows: directly, or through HTTP/HTTPS (CONNECT), SOCKS4/4a or SOCKS5/5h
// proxies with credentials, trying an ordered list of routes and skipping
// those that just failed (ARCHITECTURE.md §4).
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Route is one way to reach an upstream: direct, or through one proxy.
type Route struct {
	// Proxy is nil for a direct connection.
	Proxy *url.URL
	// Username and Password authenticate to the proxy (from the URL or
	// the config's proxy.auth). SOCKS4 sends only the user id.
	Username, Password string
}

// Direct is the route without a proxy.
var Direct = Route{}

// Schemes a route may use.
var schemes = map[string]bool{"http": true, "https": true, "socks4": true, "socks4a": true, "socks5": true, "socks5h": true}

// ParseRoute reads "direct" or a proxy URL such as
// socks5h://user:pass@127.0.0.1:1080. Credentials in the URL win over
// username and password given separately.
func ParseRoute(s, username, password string) (Route, error) {
	s = strings.TrimSpace(s)
	if s == "direct" {
		return Direct, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return Route{}, fmt.Errorf("proxy %q is not a URL such as http://proxy:8080 or socks5://127.0.0.1:1080 (or the word direct)", Redact(s))
	}
	if !schemes[u.Scheme] {
		return Route{}, fmt.Errorf("proxy %q: scheme %q, want http, https, socks4, socks4a, socks5 or socks5h", Redact(s), u.Scheme)
	}
	if u.Port() == "" {
		port := map[string]string{"http": "80", "https": "443"}[u.Scheme]
		if port == "" {
			port = "1080"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	r := Route{Username: username, Password: password}
	if u.User != nil {
		r.Username = u.User.Username()
		r.Password, _ = u.User.Password()
	}
	u.User = nil
	r.Proxy = u
	return r, nil
}

// String names the route for records, logs and errors: the proxy URL with
// the user name but never the password, or "direct".
func (r Route) String() string {
	if r.Proxy == nil {
		return "direct"
	}
	u := *r.Proxy
	if r.Username != "" {
		u.User = url.User(r.Username)
	}
	return u.String()
}

// Redact removes a password from a proxy URL given as text — also from
// text that is not a well-formed URL ("user:secret@host" without a
// scheme), where whatever lies between the first ':' and the last '@' is
// taken for one.
func Redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	from := 0 // the userinfo starts after a scheme's "://" before the @, else at the start
	if i := strings.Index(s[:at], "://"); i >= 0 {
		from = i + 3
	}
	colon := strings.Index(s[from:at], ":")
	if colon < 0 {
		return s
	}
	return s[:from+colon+1] + "xxxxx" + s[at:]
}

// Errors a person can act on. Each names the proxy; none holds a password.
var (
	// ErrAuth: the proxy rejected the credentials (407, SOCKS5 auth failure,
	// SOCKS4 ident rejection).
	ErrAuth = errors.New("rejected the credentials")
	// ErrRefused: the proxy answered but would not connect to the target.
	ErrRefused = errors.New("refused the connection")
)

// RouteError is why one route failed.
type RouteError struct {
	Route string // as Route.String
	Err   error
}

func (e *RouteError) Error() string { return e.Route + ": " + e.Err.Error() }
func (e *RouteError) Unwrap() error { return e.Err }

// AllFailedError is returned when no route reached the upstream.
type AllFailedError struct {
	Target string
	Tried  []*RouteError
}

func (e *AllFailedError) Error() string {
	parts := make([]string, len(e.Tried))
	for i, t := range e.Tried {
		parts[i] = t.Error()
	}
	return fmt.Sprintf("all routes to %s failed: %s", e.Target, strings.Join(parts, "; "))
}

func (e *AllFailedError) Unwrap() []error {
	out := make([]error, len(e.Tried))
	for i, t := range e.Tried {
		out[i] = t
	}
	return out
}
