package capture

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Real proxy servers from Debian's packages, started per test (.ci/run
// installs them; a missing binary skips with the package to install).

const (
	proxyUser = "lessllmproxy"
	proxyPass = "proxy-pass-7c1e9a2f5b" // also grepped for by the secret scans
)

// proxyServer is a running proxy and the log it writes.
type proxyServer struct {
	addr string
	log  string
}

func (p *proxyServer) logText(t *testing.T) string {
	t.Helper()
	b, _ := os.ReadFile(p.log)
	return string(b)
}

func need(t *testing.T, bin, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s; .ci/run does)", bin, pkg)
	}
	return path
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// run starts a server process and waits until addr accepts connections.
func run(t *testing.T, addr string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, _ := os.Create(filepath.Join(t.TempDir(), "stdout"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 200 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, _ := os.ReadFile(out.Name())
	t.Fatalf("%s did not listen on %s:\n%s", name, addr, b)
}

// startTinyproxy runs tinyproxy (HTTP CONNECT) with Basic auth.
func startTinyproxy(t *testing.T) *proxyServer {
	t.Helper()
	bin := need(t, "tinyproxy", "tinyproxy-bin")
	dir := t.TempDir()
	p := &proxyServer{addr: freePort(t), log: filepath.Join(dir, "tinyproxy.log")}
	_, port, _ := net.SplitHostPort(p.addr)
	conf := filepath.Join(dir, "tinyproxy.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("Port %s\nListen 127.0.0.1\nTimeout 600\nLogLevel Connect\nLogFile %q\nMaxClients 200\nBasicAuth %s %s\n",
		port, p.log, proxyUser, proxyPass)), 0o600)
	run(t, p.addr, bin, "-d", "-c", conf)
	return p
}

// tunnels counts the CONNECT tunnels tinyproxy opened.
func (p *proxyServer) tunnels(t *testing.T) int {
	return strings.Count(p.logText(t), ": CONNECT ")
}

// startDanted runs dante's SOCKS server: SOCKS5 with username/password
// (checked against system accounts, so the test creates one) when auth,
// else no authentication (which SOCKS4 clients need).
func startDanted(t *testing.T, auth bool) *proxyServer {
	t.Helper()
	bin := need(t, "danted", "dante-server")
	if os.Geteuid() != 0 {
		t.Skip("danted's username method checks system accounts: the test creates one, which needs root")
	}
	if auth {
		ensureSystemUser(t)
	}
	dir := t.TempDir()
	p := &proxyServer{addr: freePort(t), log: filepath.Join(dir, "danted.log")}
	host, port, _ := net.SplitHostPort(p.addr)
	method := "none"
	if auth {
		method = "username"
	}
	conf := filepath.Join(dir, "danted.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`logoutput: %s
internal: %s port = %s
external: 127.0.0.1
clientmethod: none
socksmethod: %s
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: error
}
socks pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  command: connect
  log: connect error
}
`, p.log, host, port, method)), 0o644)
	run(t, p.addr, bin, "-f", conf, "-p", filepath.Join(dir, "danted.pid"))
	return p
}

// sessions counts the connections danted passed.
func (p *proxyServer) sessions(t *testing.T) int {
	return strings.Count(p.logText(t), "pass(1): tcp/connect")
}

func ensureSystemUser(t *testing.T) {
	t.Helper()
	if exec.Command("id", proxyUser).Run() != nil {
		if out, err := exec.Command("useradd", "-M", "-s", "/usr/sbin/nologin", proxyUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v\n%s", err, out)
		}
	}
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(proxyUser + ":" + proxyPass + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v\n%s", err, out)
	}
}

// startTLSProxy puts stunnel (TLS) in front of an HTTP proxy: an https://
// proxy endpoint. It returns the address and a CA file that trusts it.
func startTLSProxy(t *testing.T, backend string) (addr, caFile string) {
	t.Helper()
	bin := need(t, "stunnel4", "stunnel4")
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	pemFile := filepath.Join(dir, "proxy.pem")
	os.WriteFile(pemFile, append(certPEM, keyPEM...), 0o600)
	caFile = filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, certPEM, 0o644)
	addr = freePort(t)
	conf := filepath.Join(dir, "stunnel.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("foreground = yes\npid =\n[https-proxy]\naccept = %s\nconnect = %s\ncert = %s\n", addr, backend, pemFile)), 0o600)
	run(t, addr, bin, conf)
	return addr, caFile
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lessllm test proxy"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// silentProxy accepts TCP connections and never answers: a proxy that is
// up but stuck.
func silentProxy(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().String()
}
