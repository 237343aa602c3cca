package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDeb installs the package on this machine, checks what it put where,
// runs the capture service's ExecStart by hand as its user, and removes it.
// It changes the system, so it runs only when LESSLLM_DEB names the .deb
// (make deb-test, as root on Debian; CI does).
func TestDeb(t *testing.T) {
	deb, set := os.LookupEnv("LESSLLM_DEB")
	if !set {
		t.Skip("LESSLLM_DEB is not set (make deb-test installs the package on this machine)")
	}
	if deb == "" {
		t.Fatal("LESSLLM_DEB is set but empty: make deb found no package")
	}
	if os.Geteuid() != 0 {
		t.Fatal("make deb-test needs root (dpkg -i)")
	}
	t.Cleanup(func() { // leave the machine as it was, whatever failed
		run(t, false, "dpkg", "--purge", "lessllm")
		os.RemoveAll("/var/lib/lessllm")
		run(t, false, "userdel", "lessllm")
		run(t, false, "groupdel", "lessllm")
	})
	run(t, true, "dpkg", "-i", deb)

	t.Run("files_and_modes", func(t *testing.T) {
		for _, e := range contents {
			checkPath(t, e.dst, e.mode, e.owner, e.group, e.kind == "dir")
		}
		u, err := user.Lookup("lessllm")
		if err != nil {
			t.Fatal(err)
		}
		if uid, _ := strconv.Atoi(u.Uid); uid >= 1000 {
			t.Errorf("lessllm is uid %d, not a system user", uid)
		}
		if out := run(t, true, "getent", "passwd", "lessllm"); !strings.HasSuffix(strings.TrimSpace(out), ":/usr/sbin/nologin") {
			t.Errorf("lessllm can log in: %s", out)
		}
		out := run(t, true, "dpkg-query", "-W", "-f", "${Conffiles}", "lessllm")
		for _, f := range []string{"/etc/lessllm/lessllm.yaml", "/etc/lessllm/lessllm.env"} {
			if !strings.Contains(out, f) {
				t.Errorf("%s is not a conffile: %q", f, out)
			}
		}
	})

	t.Run("systemd_analyze_verify", func(t *testing.T) {
		for _, u := range []string{"lessllm-capture.service", "lessllm-analyze.service", "lessllm-analyze.timer"} {
			cmd := exec.Command("systemd-analyze", "verify", "/lib/systemd/system/"+u)
			out, err := cmd.CombinedOutput()
			if err != nil || strings.Contains(string(out), u) { // verify names the unit in every complaint
				t.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out)
			}
		}
	})

	t.Run("capture_service_serves_as_its_user", func(t *testing.T) {
		argv := execStart(t, "/lib/systemd/system/lessllm-capture.service")
		sim := startProcess(t, nil, "/usr/bin/lessllm", "simulate", "--listen", "127.0.0.1:0", "--ttft", "5ms", "--tpot", "1ms")
		simURL := firstWord(t, sim, "lessllm simulate on ")
		listen := freePort(t)
		// As the unit runs it, but by hand: its user, its configuration
		// file, its ExecStart; the upstream is the simulator (the packaged
		// config reads OPENAI_BASE_URL, as lessllm.env may set it).
		cmd := append([]string{"setpriv", "--reuid=lessllm", "--regid=lessllm", "--init-groups", "--"}, argv...)
		env := []string{"PATH=/usr/bin:/bin", "OPENAI_BASE_URL=" + simURL + "/v1", "OPENAI_API_KEY=sk-test", "LESSLLM_LISTEN=" + listen}
		capture := startProcess(t, env, cmd[0], cmd[1:]...)
		base := firstWord(t, capture, "lessllm capture on ")
		out := run(t, true, "curl", "-sS", "-f", base+"/v1/chat/completions", "-H", "Content-Type: application/json",
			"-d", `{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}`)
		if !strings.Contains(out, `"chat.completion"`) {
			t.Fatalf("answer through the packaged capture: %s", out)
		}
		capture.cmd.Process.Signal(syscall.SIGTERM)
		if err := capture.cmd.Wait(); err != nil {
			t.Fatalf("capture did not stop cleanly: %v", err)
		}
		segs, _ := filepath.Glob("/var/lib/lessllm/captures/*.ndjson.zst")
		if len(segs) != 1 {
			t.Fatalf("segments in /var/lib/lessllm/captures: %v", segs)
		}
		checkPath(t, segs[0], 0o600, "lessllm", "lessllm", false)
		run(t, true, "/usr/bin/lessllm", "segments", "verify", segs[0])
	})

	run(t, true, "dpkg", "-r", "lessllm")
	t.Run("removed_cleanly", func(t *testing.T) {
		for _, p := range []string{"/usr/bin/lessllm", "/lib/systemd/system/lessllm-capture.service", "/usr/share/doc/lessllm"} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s is still there after dpkg -r", p)
			}
		}
		if _, err := os.Stat("/etc/lessllm/lessllm.yaml"); err != nil {
			t.Errorf("dpkg -r removed a conffile (only --purge should): %v", err)
		}
		if segs, _ := filepath.Glob("/var/lib/lessllm/captures/*.ndjson.zst"); len(segs) != 1 {
			t.Errorf("dpkg -r lost the captures: %v", segs)
		}
		run(t, true, "dpkg", "--purge", "lessllm")
		if _, err := os.Stat("/etc/lessllm"); err == nil {
			t.Error("/etc/lessllm survived --purge")
		}
		if segs, _ := filepath.Glob("/var/lib/lessllm/captures/*.ndjson.zst"); len(segs) != 1 {
			t.Errorf("purge removed the captures without LESSLLM_PURGE_DATA=yes: %v", segs)
		}
	})

	t.Run("purge_with_data_when_asked", func(t *testing.T) {
		run(t, true, "dpkg", "-i", deb) // the kept captures and user are taken over again
		if segs, _ := filepath.Glob("/var/lib/lessllm/captures/*.ndjson.zst"); len(segs) != 1 {
			t.Errorf("reinstalling lost the kept captures: %v", segs)
		}
		cmd := exec.Command("dpkg", "--purge", "lessllm")
		cmd.Env = append(os.Environ(), "LESSLLM_PURGE_DATA=yes")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("LESSLLM_PURGE_DATA=yes dpkg --purge: %v\n%s", err, out)
		}
		if _, err := os.Stat("/var/lib/lessllm"); err == nil {
			t.Error("/var/lib/lessllm survived LESSLLM_PURGE_DATA=yes")
		}
		if _, err := user.Lookup("lessllm"); err == nil {
			t.Error("the lessllm user survived LESSLLM_PURGE_DATA=yes")
		}
	})
}

func checkPath(t *testing.T, path string, mode os.FileMode, owner, group string, dir bool) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if fi.Mode().Perm() != mode || fi.IsDir() != dir {
		t.Errorf("%s: mode %v, want %v (directory: %v)", path, fi.Mode(), mode, dir)
	}
	st := fi.Sys().(*syscall.Stat_t)
	u, _ := user.LookupId(strconv.Itoa(int(st.Uid)))
	g, _ := user.LookupGroupId(strconv.Itoa(int(st.Gid)))
	if u == nil || g == nil || u.Username != owner || g.Name != group {
		t.Errorf("%s: owned by %d:%d, want %s:%s", path, st.Uid, st.Gid, owner, group)
	}
}

// execStart reads a unit's ExecStart as arguments.
func execStart(t *testing.T, unit string) []string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatalf("%s has no ExecStart", unit)
	return nil
}

type process struct {
	cmd   *exec.Cmd
	lines *bufio.Scanner
}

// startProcess starts a program (env nil: this process's) and stops it at
// the end of the test.
func startProcess(t *testing.T, env []string, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return &process{cmd: cmd, lines: bufio.NewScanner(out)}
}

// firstWord waits for the line starting with prefix and returns the word after it.
func firstWord(t *testing.T, p *process, prefix string) string {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		for p.lines.Scan() {
			if rest, ok := strings.CutPrefix(p.lines.Text(), prefix); ok {
				done <- strings.Fields(rest)[0]
				break
			}
		}
		for p.lines.Scan() { // keep the pipe drained
		}
		close(done)
	}()
	select {
	case w, ok := <-done:
		if !ok {
			t.Fatalf("%s exited before printing %q", p.cmd.Path, prefix)
		}
		return w
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not print %q within 15 s", p.cmd.Path, prefix)
	}
	return ""
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

// run runs a command; with must, a failure ends the test.
func run(t *testing.T, must bool, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && must {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
