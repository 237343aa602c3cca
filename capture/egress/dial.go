package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/proxy"
)

// dialRoute opens a connection to addr (host:port) through r. base dials
// TCP; tlsConf is used for https:// proxies; handshake bounds the proxy
// protocol exchange after TCP connected (a proxy that accepts and never
// answers must not hang a request).
// dialRoute connects to addr over r and returns how long the proxy
// handshake took after the TCP connect (0 when direct).
func dialRoute(ctx context.Context, r Route, addr string, base *net.Dialer, tlsConf *tls.Config, handshake time.Duration) (net.Conn, time.Duration, error) {
	if r.Proxy == nil {
		c, err := base.DialContext(ctx, "tcp", addr)
		return c, 0, err
	}
	switch r.Proxy.Scheme {
	case "socks5", "socks5h":
		return dialSOCKS5(ctx, r, addr, base, handshake)
	}
	conn, err := base.DialContext(ctx, "tcp", r.Proxy.Host)
	if err != nil {
		return nil, 0, err
	}
	connected := time.Now()
	if r.Proxy.Scheme == "https" {
		conf := tlsConf.Clone()
		conf.ServerName = r.Proxy.Hostname()
		tc := tls.Client(conn, conf)
		if err := handshakeWithin(ctx, conn, handshake, tc.HandshakeContext); err != nil {
			conn.Close()
			return nil, 0, fmt.Errorf("TLS to the proxy: %w", err)
		}
		conn = tc
	}
	deadline := time.Now().Add(handshake)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	tunnel := conn
	switch r.Proxy.Scheme {
	case "http", "https":
		tunnel, err = connect(conn, r, addr)
	case "socks4", "socks4a":
		err = socks4(ctx, conn, r, addr)
	}
	if err != nil {
		conn.Close()
		return nil, 0, timeoutSays(err, handshake)
	}
	conn.SetDeadline(time.Time{})
	return tunnel, time.Since(connected), nil
}

func handshakeWithin(ctx context.Context, conn net.Conn, d time.Duration, hs func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return hs(ctx)
}

// timeoutSays turns a deadline error into one that says what was waited for.
func timeoutSays(err error, d time.Duration) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("accepted the connection but did not complete its handshake within %v", d)
	}
	return err
}

// connect asks an HTTP proxy for a tunnel (RFC 9110 §9.3.6).
func connect(conn net.Conn, r Route, addr string) (net.Conn, error) {
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n"
	if r.Username != "" {
		cred := base64.StdEncoding.EncodeToString([]byte(r.Username + ":" + r.Password))
		req += "Proxy-Authorization: Basic " + cred + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, fmt.Errorf("no valid answer to CONNECT: %w", err)
	}
	resp.Body.Close()
	// 407 is the standard answer; some proxies (tinyproxy) answer 401.
	authFailed := resp.StatusCode == http.StatusProxyAuthRequired || resp.StatusCode == http.StatusUnauthorized
	switch {
	case authFailed && r.Username == "":
		return nil, fmt.Errorf("%w: answered %s and no credentials are configured", ErrAuth, resp.Status)
	case authFailed:
		return nil, fmt.Errorf("%w: answered %s for user %q", ErrAuth, resp.Status, r.Username)
	case resp.StatusCode/100 != 2:
		return nil, fmt.Errorf("%w: answered %s to CONNECT %s", ErrRefused, resp.Status, addr)
	}
	if br.Buffered() > 0 { // the upstream's first bytes arrived with the answer
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// socks4 performs a SOCKS4 or SOCKS4a CONNECT (the protocols' de facto
// specifications, "SOCKS: A protocol for TCP proxy across firewalls" and
// "SOCKS 4A"). SOCKS4 needs an IPv4 address, resolved here; SOCKS4a sends
// the host name for the proxy to resolve. The user id is the username.
func socks4(ctx context.Context, conn net.Conn, r Route, addr string) error {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return err
	}
	req := []byte{4, 1, 0, 0}
	binary.BigEndian.PutUint16(req[2:], uint16(port))
	var ip net.IP
	if r.Proxy.Scheme == "socks4" {
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip4", host)
		if err != nil || len(ips) == 0 {
			return fmt.Errorf("SOCKS4 needs an IPv4 address for %s: %v", host, err)
		}
		ip = ips[0].To4()
	} else if ip = net.ParseIP(host).To4(); ip == nil {
		ip = net.IPv4(0, 0, 0, 1).To4() // 4a: an invalid address says "resolve the name that follows"
	}
	req = append(req, ip...)
	req = append(append(req, r.Username...), 0)
	if r.Proxy.Scheme == "socks4a" && net.ParseIP(host) == nil {
		req = append(append(req, host...), 0)
	}
	if _, err := conn.Write(req); err != nil {
		return err
	}
	var resp [8]byte
	if _, err := io.ReadFull(conn, resp[:]); err != nil {
		return fmt.Errorf("no valid SOCKS4 answer: %w", err)
	}
	switch resp[1] {
	case 0x5a:
		return nil
	case 0x5c, 0x5d:
		return fmt.Errorf("%w: SOCKS4 proxy rejected user id %q (code %#x)", ErrAuth, r.Username, resp[1])
	default:
		return fmt.Errorf("%w: SOCKS4 proxy would not connect to %s (code %#x)", ErrRefused, addr, resp[1])
	}
}

// dialSOCKS5 uses golang.org/x/net/proxy (RFC 1928, RFC 1929 for
// username/password). socks5h leaves name resolution to the proxy; socks5
// resolves here and sends the address.
func dialSOCKS5(ctx context.Context, r Route, addr string, base *net.Dialer, handshake time.Duration) (net.Conn, time.Duration, error) {
	var auth *proxy.Auth
	if r.Username != "" {
		auth = &proxy.Auth{User: r.Username, Password: r.Password}
	}
	if r.Proxy.Scheme == "socks5" {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, 0, err
		}
		if net.ParseIP(host) == nil {
			ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
			if err != nil || len(ips) == 0 {
				return nil, 0, fmt.Errorf("resolving %s for SOCKS5: %v", host, err)
			}
			addr = net.JoinHostPort(ips[0].String(), port)
		}
	}
	dd := &deadlineDialer{base: base, handshake: handshake}
	d, err := proxy.SOCKS5("tcp", r.Proxy.Host, auth, dd)
	if err != nil {
		return nil, 0, err
	}
	hctx, cancel := context.WithTimeout(ctx, base.Timeout+handshake)
	defer cancel()
	conn, err := d.(proxy.ContextDialer).DialContext(hctx, "tcp", addr)
	if err != nil {
		return nil, 0, socks5Says(err, r, handshake)
	}
	conn.SetDeadline(time.Time{})
	return conn, time.Since(dd.connected), nil
}

// deadlineDialer dials the SOCKS5 proxy and bounds the handshake that
// follows with a deadline, which x/net/proxy clears on success.
type deadlineDialer struct {
	base      *net.Dialer
	handshake time.Duration
	connected time.Time // when the TCP connect to the proxy returned
}

func (d *deadlineDialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

func (d *deadlineDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.base.DialContext(ctx, network, addr)
	if err == nil {
		d.connected = time.Now()
		c.SetDeadline(d.connected.Add(d.handshake))
	}
	return c, err
}

// socks5Says rewords x/net/proxy's errors into what a person can act on.
func socks5Says(err error, r Route, handshake time.Duration) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "username/password authentication failed"), strings.Contains(msg, "no acceptable authentication methods"):
		if r.Username == "" {
			return fmt.Errorf("%w: SOCKS5 proxy requires a username and password and none are configured", ErrAuth)
		}
		return fmt.Errorf("%w: SOCKS5 proxy rejected username/password for user %q", ErrAuth, r.Username)
	case strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "deadline exceeded"):
		return fmt.Errorf("accepted the connection but did not complete its handshake within %v", handshake)
	case strings.Contains(msg, "unknown error "): // the proxy's reply code (RFC 1928 §6)
		return fmt.Errorf("%w: SOCKS5 proxy answered %s", ErrRefused, msg[strings.Index(msg, "unknown error ")+len("unknown error "):])
	}
	return err
}
