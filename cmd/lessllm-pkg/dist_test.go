package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestDist checks the release archives of make dist as a user meets them:
// every archive listed in SHA256SUMS with the right sum and contents, each
// binary for its platform, the full linux/amd64 build needing only glibc,
// the README's install steps run as written, the demo's flow from the
// archive's binary, and a segment written by the capture-node build
// analysed by the full build. Runs when LESSLLM_DIST names the directory
// (make dist-test).
func TestDist(t *testing.T) {
	dist, set := os.LookupEnv("LESSLLM_DIST")
	if !set {
		t.Skip("LESSLLM_DIST is not set (make dist-test)")
	}
	version := os.Getenv("LESSLLM_VERSION")
	if dist == "" || version == "" {
		t.Fatal("make dist-test sets LESSLLM_DIST and LESSLLM_VERSION; one is empty")
	}
	type platform struct {
		archive, exe string
		check        func(path string) error
	}
	full := "lessllm_" + version + "_"
	node := "lessllm-capture_" + version + "_"
	platforms := []platform{
		{full + "linux_amd64", "lessllm", isELF(elf.EM_X86_64)},
		{full + "linux_arm64", "lessllm", isELF(elf.EM_AARCH64)},
		{node + "linux_amd64", "lessllm", isELF(elf.EM_X86_64)},
		{node + "linux_arm64", "lessllm", isELF(elf.EM_AARCH64)},
		{node + "darwin_amd64", "lessllm", isMachO(macho.CpuAmd64)},
		{node + "darwin_arm64", "lessllm", isMachO(macho.CpuArm64)},
		{node + "windows_amd64", "lessllm.exe", isPE(pe.IMAGE_FILE_MACHINE_AMD64)},
	}
	sums := readSums(t, filepath.Join(dist, "SHA256SUMS"))
	if len(sums) != len(platforms) {
		t.Errorf("SHA256SUMS lists %d archives, want %d: %v", len(sums), len(platforms), sums)
	}
	unpacked := t.TempDir()
	for _, p := range platforms {
		t.Run(p.archive, func(t *testing.T) {
			path := filepath.Join(dist, p.archive+".tar.gz")
			if got := fileSum(t, path); got != sums[p.archive+".tar.gz"] {
				t.Fatalf("sha256 %s, SHA256SUMS says %q", got, sums[p.archive+".tar.gz"])
			}
			names := untar(t, path, unpacked)
			for _, f := range []string{p.exe, "LICENSE", "NOTICE", "README.md", "lessllm.yaml.example"} {
				if !names[p.archive+"/"+f] {
					t.Errorf("no %s in the archive (has %v)", f, names)
				}
			}
			bin := filepath.Join(unpacked, p.archive, p.exe)
			if err := p.check(bin); err != nil {
				t.Error(err)
			}
			if out, err := exec.Command("file", bin).Output(); err == nil {
				t.Logf("file: %s", strings.TrimSpace(string(out)))
			}
			fi, _ := os.Stat(bin)
			t.Logf("%s: %.1f MB", p.exe, float64(fi.Size())/1e6)
		})
	}
	fullBin := filepath.Join(unpacked, full+"linux_amd64", "lessllm")
	nodeBin := filepath.Join(unpacked, node+"linux_amd64", "lessllm")

	t.Run("full_build_needs_only_glibc", func(t *testing.T) {
		f, err := elf.Open(fullBin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		libs, _ := f.ImportedLibraries()
		for _, l := range libs {
			if !regexp.MustCompile(`^(libc|libm|libdl|libpthread|ld-linux-x86-64)\.so`).MatchString(l) {
				t.Errorf("the full build needs %s (want glibc only; libstdc++ and libgcc are linked in)", l)
			}
		}
		_, glibc, err := inspect(fullBin)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("needs %v, glibc >= %s", libs, glibc)
	})

	t.Run("version", func(t *testing.T) {
		for _, b := range []string{fullBin, nodeBin} {
			out, err := exec.Command(b, "version").Output()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(out), "lessllm "+version+" (") || !strings.Contains(string(out), "commit ") || !strings.Contains(string(out), "built ") {
				t.Errorf("%s version: %s", b, out)
			}
		}
	})

	t.Run("readme_install", func(t *testing.T) {
		// The README's "Install" steps, run as written in a directory that
		// holds what a release page offers: the archive and SHA256SUMS.
		script := readmeBlock(t, "README-INSTALL-ARCHIVE")
		script = regexp.MustCompile(`(?m)^VERSION=\S+`).ReplaceAllString(script, "VERSION="+version)
		dir := t.TempDir()
		for _, f := range []string{full + "linux_amd64.tar.gz", "SHA256SUMS"} {
			copyFile(t, filepath.Join(dist, f), filepath.Join(dir, f))
		}
		cmd := exec.Command("bash", "-euxo", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+dir, "PATH="+filepath.Join(dir, ".local/bin")+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README install steps: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "lessllm "+version+" (full build") {
			t.Errorf("the installed lessllm did not report %s:\n%s", version, out)
		}
	})

	t.Run("demo_from_the_archive", func(t *testing.T) {
		cmd := exec.Command("go", "run", "./cmd/lessllm-demo", "-lessllm", fullBin, "-dir", t.TempDir())
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make demo's flow with the archive's binary: %v\n%s", err, out)
		}
		t.Logf("demo: %s", lastLine(string(out)))
	})

	t.Run("capture_node_segment_analysed_by_full_build", func(t *testing.T) {
		dir := t.TempDir()
		sim := startProcess(t, nil, fullBin, "simulate", "--listen", "127.0.0.1:0", "--ttft", "5ms", "--tpot", "1ms")
		simURL := firstWord(t, sim, "lessllm simulate on ")
		cfg := filepath.Join(dir, "lessllm.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("providers:\n  openai: {type: openai, base_url: %q, api_key: sk-test}\n", simURL+"/v1")), 0o600)
		capture := startProcess(t, nil, nodeBin, "capture", "--config", cfg, "--listen", freePort(t), "--dir", filepath.Join(dir, "captures"))
		base := firstWord(t, capture, "lessllm capture on ")
		for _, stream := range []string{"false", "true"} {
			run(t, true, "curl", "-sS", "-f", "-o", "/dev/null", base+"/v1/chat/completions", "-H", "Content-Type: application/json",
				"-d", `{"model":"gpt-4o","stream":`+stream+`,"messages":[{"role":"user","content":"hello"}]}`)
		}
		capture.cmd.Process.Signal(syscall.SIGTERM)
		if err := capture.cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		db := filepath.Join(dir, "a.duckdb")
		run(t, true, fullBin, "analyze", "--no-progress", "--db", db, filepath.Join(dir, "captures"))
		out := run(t, true, fullBin, "query", "--db", db, "--format", "csv", "SELECT count(*) AS n, count(estimated_ttft_ms) AS timed, sum(actual_completion_tokens) > 0 AS tokens FROM api_calls")
		if !strings.Contains(out, "2,2,true") {
			t.Errorf("the full build's analysis of the capture-node segment: %s", out)
		}
		if out, err := exec.Command(nodeBin, "analyze").CombinedOutput(); err == nil || !strings.Contains(string(out), "capture-node build") {
			t.Errorf("the capture-node build's analyze: %v %s", err, out)
		}
	})
}

func isELF(m elf.Machine) func(string) error {
	return func(path string) error {
		f, err := elf.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if f.Machine != m {
			return fmt.Errorf("%s: ELF for %s, want %s", path, f.Machine, m)
		}
		return nil
	}
}

func isMachO(c macho.Cpu) func(string) error {
	return func(path string) error {
		f, err := macho.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if f.Cpu != c {
			return fmt.Errorf("%s: Mach-O for %s, want %s", path, f.Cpu, c)
		}
		return nil
	}
}

func isPE(m uint16) func(string) error {
	return func(path string) error {
		f, err := pe.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if f.Machine != m {
			return fmt.Errorf("%s: PE for machine %#x, want %#x", path, f.Machine, m)
		}
		return nil
	}
}

func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			out[f[1]] = f[0]
		}
	}
	return out
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// untar unpacks a .tar.gz into dir and returns the names it held.
func untar(t *testing.T, path, dir string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[strings.TrimSuffix(h.Name, "/")] = true
		target := filepath.Join(dir, h.Name)
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(os.PathSeparator)) {
			t.Fatalf("%s: entry %q leaves the directory", path, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(target), 0o755)
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(out, tr)
			out.Close()
		}
	}
}

// readmeBlock returns the code block after <!-- marker --> in README.md.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<!-- ` + marker + `[^>]*-->\n` + "```" + `\w*\n(.*?)` + "```").FindSubmatch(b)
	if m == nil {
		t.Fatalf("README.md has no block after <!-- %s -->", marker)
	}
	return string(m[1])
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
