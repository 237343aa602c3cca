package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// target is one way of reaching the upstream.
type target struct {
	name  string
	url   string
	pid   int    // the process serving it (0: direct — nothing in between)
	model string // "" = gpt-4o-mini; "claude" = the alias translated to Anthropic
	// messages: the target speaks Anthropic Messages (POST /v1/messages)
	// and is sent the request the alias sends upstream — direct, it is the
	// alias's own baseline.
	messages bool
	// header is sent with every request (the Portkey gateway is told the
	// provider and upstream this way).
	header http.Header
	// noStream: the target cannot relay streams here (why is in skipped).
	noStream bool
	dir      string // capture's segment directory
}

func (b *bench) tempDir() string {
	dir, err := os.MkdirTemp("", "lessllm-bench")
	if err != nil {
		log.Fatal(err)
	}
	b.dirs = append(b.dirs, dir)
	return dir
}

// ownCopy copies a binary into a temporary directory and returns the
// copy's path: every server process of the benchmark runs its own copy, so
// no two of them share code pages — and the CPU's caches of them. The bare
// proxy used to run the load generator's binary, whose net/http code had
// just run in the client: its added p50 at c=1 (non-streamed) was 162 µs
// that way and 197 µs from its own copy, in two runs minutes apart; capture
// shared the simulator's. Real clients and upstreams share nothing with
// the proxy.
func (b *bench) ownCopy(bin string) string {
	src, err := os.Open(bin)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(b.tempDir(), filepath.Base(bin))
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o700)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		log.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		log.Fatal(err)
	}
	return path
}

func waitListening(addr string, what string) {
	if !listening(addr, 10*time.Second) {
		log.Fatalf("%s did not listen on %s", what, addr)
	}
}

func listening(addr string, within time.Duration) bool {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return true
		}
	}
	return false
}

// startCapture runs `lessllm capture` in front of upstream; recording off
// is logging.enabled: false (the same proxy, nothing written), which is
// how the writer's share of the CPU is measured.
func (b *bench) startCapture(upstream string, recording bool, flags ...string) *target {
	return b.startCaptureEnv(nil, upstream, recording, flags...)
}

// startCaptureEnv is startCapture with variables added to capture's
// environment (GOGC …).
func (b *bench) startCaptureEnv(env []string, upstream string, recording bool, flags ...string) *target {
	dir := b.tempDir()
	addr := freeAddr()
	cfg := filepath.Join(dir, "lessllm.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: %s
capture: { dir: %q, node: bench, queue_size: 65536 }
logging: { enabled: %t }
proxy: { pool: { max_idle_per_host: 1024, idle_timeout: 90s } }
providers:
  openai:    { type: openai, base_url: "%s/v1", api_key: sk-bench }
  anthropic: { type: anthropic, base_url: %q, api_key: sk-ant-bench }
models:
  claude: { provider: anthropic, model: claude-sonnet-4-5 }
`, addr, filepath.Join(dir, "captures"), recording, upstream, upstream)), 0o600)
	cmd := exec.Command(b.ownCopy(b.bin), append([]string{"capture", "--config", cfg}, flags...)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard // one log line per exchange
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	b.procs = append(b.procs, cmd)
	waitListening(addr, "capture")
	name := "capture"
	if !recording {
		name = "capture, recording off"
	}
	return &target{name: name, url: "http://" + addr, pid: cmd.Process.Pid, dir: filepath.Join(dir, "captures")}
}

// startNginx runs Debian's nginx as a plain reverse proxy — what an
// operator would put in front of the API for connectivity alone: no
// buffering of the response (streams pass through), kept-alive upstream
// connections, no access log, one worker per core.
func (b *bench) startNginx(upstream string) *target {
	path, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/sbin/nginx"} {
			if _, err := os.Stat(p); err == nil {
				path = p
			}
		}
	}
	if path == "" {
		return nil
	}
	dir := b.tempDir()
	addr := freeAddr()
	up := strings.TrimPrefix(upstream, "http://")
	conf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`daemon off;
worker_processes auto;
worker_rlimit_nofile 65536;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  upstream llm { server %[2]s; keepalive 1024; }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://llm;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`, dir, up, addr)), 0o644)
	cmd := exec.Command(path, "-c", conf, "-p", dir)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Printf("nginx: %v", err)
		return nil
	}
	b.procs = append(b.procs, cmd)
	waitListening(addr, "nginx")
	return &target{name: "nginx (plain reverse proxy)", url: "http://" + addr, pid: cmd.Process.Pid}
}

// portkeyVersion is the gateway measured as "what users pick instead".
const portkeyVersion = "1.15.2"

// startPortkey installs (once, into bin/portkey) and runs the Portkey AI
// gateway from the npm registry with the machine's Node.js, pointed at the
// upstream per request (x-portkey-provider, x-portkey-custom-host). It
// returns nil and why when it cannot run here.
func (b *bench) startPortkey(upstream string) (*target, string) {
	if _, err := exec.LookPath("node"); err != nil {
		return nil, "no Node.js on this machine"
	}
	root, _ := filepath.Abs(filepath.Join("bin", "portkey"))
	script := filepath.Join(root, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js")
	if _, err := os.Stat(script); err != nil {
		os.MkdirAll(root, 0o755)
		out, err := exec.Command("npm", "install", "--prefix", root, "--no-audit", "--no-fund", "@portkey-ai/gateway@"+portkeyVersion).CombinedOutput()
		if err != nil {
			return nil, fmt.Sprintf("npm install @portkey-ai/gateway@%s failed: %v %s", portkeyVersion, err, lastLine(out))
		}
	}
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("node", script, "--port="+port)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err.Error()
	}
	b.procs = append(b.procs, cmd)
	if !listening(addr, time.Minute) {
		return nil, "the gateway did not listen within a minute"
	}
	h := http.Header{}
	h.Set("x-portkey-provider", "openai")
	h.Set("x-portkey-custom-host", upstream+"/v1")
	h.Set("Authorization", "Bearer sk-bench")
	t := &target{name: "Portkey gateway " + portkeyVersion + " (Node " + nodeVersion() + ")", url: "http://" + addr, pid: cmd.Process.Pid, header: h}
	// Streams fail in this version on this Node (checked, not assumed).
	if err := call(newClient(1), t, true); err != nil {
		t.noStream = true
	}
	if err := call(newClient(1), t, false); err != nil {
		return nil, "non-streamed calls fail: " + err.Error()
	}
	return t, ""
}

func nodeVersion() string {
	out, _ := exec.Command("node", "--version").Output()
	return strings.TrimSpace(string(out))
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
