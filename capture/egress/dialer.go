package egress

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"time"
)

// Dialer connects to upstreams over an ordered list of routes. A route
// that fails (refused, timed out, rejected the credentials, failed its
// handshake) is skipped for DownFor, and the next one is tried — all
// before any byte of a request is sent, since the dial precedes the
// request: a failover never sends a request twice.
//
// The zero value dials directly with no timeouts; set Routes to use
// proxies.
type Dialer struct {
	// Routes are tried in order. Empty means direct only. A direct
	// connection is never implicit: list Direct to allow it.
	Routes []Route
	// NoProxy lists hosts reached directly whatever Routes say: a host
	// name (matching it and its subdomains), ".domain" (subdomains only),
	// an IP address, a CIDR block, or "*".
	NoProxy []string
	// Timeout bounds each TCP connect; Handshake each proxy handshake
	// (TLS to an https proxy, CONNECT, SOCKS) after it.
	Timeout, Handshake time.Duration
	// TLSConfig is used for TLS to https:// proxies (nil: system roots).
	TLSConfig *tls.Config
	// DownFor is how long a failed route is skipped; 0 means 30 s.
	DownFor time.Duration

	mu   sync.Mutex
	down map[string]time.Time
}

// Conn is a connection to an upstream with the route that made it and the
// routes that failed before it, for the exchange record.
type Conn struct {
	net.Conn
	Route  string
	Failed []*RouteError
	// Handshake is how long the proxy handshake took after the TCP
	// connect to the proxy (TLS to an https proxy, CONNECT, SOCKS); 0 when
	// direct.
	Handshake time.Duration
}

// NetConn returns the connection under c: the TCP connection, or a proxy's
// tunnel.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// ConnOf finds the *Conn under a connection handed out by an
// http.Transport (which wraps it in TLS for https upstreams).
func ConnOf(c net.Conn) *Conn {
	for c != nil {
		switch x := c.(type) {
		case *Conn:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// DialContext dials addr over the first route that works.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	routes := d.routesFor(addr)
	base := &net.Dialer{Timeout: d.Timeout, KeepAlive: 30 * time.Second}
	tlsConf := d.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	handshake := d.Handshake
	if handshake <= 0 {
		handshake = 30 * time.Second
	}
	var failed []*RouteError
	for _, r := range d.order(routes) {
		c, hs, err := dialRoute(ctx, r, addr, base, tlsConf, handshake)
		if err == nil {
			d.markUp(r)
			return &Conn{Conn: c, Route: r.String(), Failed: failed, Handshake: hs}, nil
		}
		failed = append(failed, &RouteError{Route: r.String(), Err: err})
		if ctx.Err() != nil { // the client went away: trying on helps no one
			break
		}
		d.markDown(r)
	}
	return nil, &AllFailedError{Target: addr, Tried: failed}
}

func (d *Dialer) routesFor(addr string) []Route {
	if len(d.Routes) == 0 || matchNoProxy(d.NoProxy, addr) {
		return []Route{Direct}
	}
	return d.Routes
}

// order puts routes that are not marked down first, keeping the
// configured order within each group: a route that is down is still tried
// when nothing else is left.
func (d *Dialer) order(routes []Route) []Route {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	var up, down []Route
	for _, r := range routes {
		if t, ok := d.down[r.String()]; ok && now.Before(t) {
			down = append(down, r)
		} else {
			up = append(up, r)
		}
	}
	return append(up, down...)
}

func (d *Dialer) markDown(r Route) {
	downFor := d.DownFor
	if downFor <= 0 {
		downFor = 30 * time.Second
	}
	d.mu.Lock()
	if d.down == nil {
		d.down = map[string]time.Time{}
	}
	d.down[r.String()] = time.Now().Add(downFor)
	d.mu.Unlock()
}

func (d *Dialer) markUp(r Route) {
	d.mu.Lock()
	delete(d.down, r.String())
	d.mu.Unlock()
}

// matchNoProxy reports whether addr (host:port, or a bare host) is
// excluded from proxying. An entry with a port ("internal.example:8443",
// "[::1]:80") covers that port only, as in golang.org/x/net/http/httpproxy.
func matchNoProxy(list []string, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, ""
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	ip := net.ParseIP(host)
	for _, e := range list {
		e = strings.ToLower(strings.TrimSpace(e))
		if h, p, err := net.SplitHostPort(e); err == nil && !strings.Contains(e, "/") {
			if p != port {
				continue
			}
			e = h
		}
		e = strings.Trim(e, "[]")
		switch {
		case e == "":
		case e == "*":
			return true
		case strings.Contains(e, "/"):
			if _, n, err := net.ParseCIDR(e); err == nil && ip != nil && n.Contains(ip) {
				return true
			}
		case strings.HasPrefix(e, "."):
			if strings.HasSuffix(host, e) {
				return true
			}
		case host == e || strings.HasSuffix(host, "."+e):
			return true
		}
	}
	return false
}
