// Command lessllm-pkg builds the Debian package of lessllm with nfpm
// (`make deb`): the binary, /etc/lessllm (conffiles, 0640 root:lessllm), a
// lessllm system user, /var/lib/lessllm/captures (0700) and the systemd
// units lessllm-capture.service, lessllm-analyze.service and .timer. The
// packaged files are in debian/, embedded; their paths and modes are listed
// once, in contents, which the package test (deb_test.go) checks against
// an installed system.
package main

import (
	"debug/elf"
	"embed"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
)

//go:embed debian
var debian embed.FS

// entry is one path the package installs.
type entry struct {
	src   string // in debian/; "" for the binary or a directory
	repo  string // or a file of the repository (make deb runs from its root)
	dst   string
	kind  string // "" (a file), files.TypeConfigNoReplace, files.TypeDir
	mode  os.FileMode
	owner string
	group string
}

// contents are what `dpkg -i` puts on the system, besides the scripts.
var contents = []entry{
	{src: "", dst: "/usr/bin/lessllm", mode: 0o755, owner: "root", group: "root"},
	{src: "lessllm.yaml", dst: "/etc/lessllm/lessllm.yaml", kind: files.TypeConfigNoReplace, mode: 0o640, owner: "root", group: "lessllm"},
	{src: "lessllm.env", dst: "/etc/lessllm/lessllm.env", kind: files.TypeConfigNoReplace, mode: 0o640, owner: "root", group: "lessllm"},
	{src: "lessllm-capture.service", dst: "/lib/systemd/system/lessllm-capture.service", mode: 0o644, owner: "root", group: "root"},
	{src: "lessllm-analyze.service", dst: "/lib/systemd/system/lessllm-analyze.service", mode: 0o644, owner: "root", group: "root"},
	{src: "lessllm-analyze.timer", dst: "/lib/systemd/system/lessllm-analyze.timer", mode: 0o644, owner: "root", group: "root"},
	{repo: "README.md", dst: "/usr/share/doc/lessllm/README.md", mode: 0o644, owner: "root", group: "root"},
	{repo: "LICENSE", dst: "/usr/share/doc/lessllm/copyright", mode: 0o644, owner: "root", group: "root"},
	{repo: "NOTICE", dst: "/usr/share/doc/lessllm/NOTICE", mode: 0o644, owner: "root", group: "root"},
	{repo: "docs/lessllm.yaml.example", dst: "/usr/share/doc/lessllm/lessllm.yaml.example", mode: 0o644, owner: "root", group: "root"},
	// Created by postinst (install -d), listed here for the test and so
	// that dpkg -S names the package.
	{dst: "/var/lib/lessllm/captures", kind: files.TypeDir, mode: 0o700, owner: "lessllm", group: "lessllm"},
}

func main() {
	binary := flag.String("binary", "bin/lessllm", "the lessllm binary (full build) to package")
	version := flag.String("version", "", "package version (PEP 440 as make passes it; .devN becomes ~devN)")
	out := flag.String("out", "dist", "directory for the .deb")
	flag.Parse()
	path, err := build(*binary, *version, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lessllm-pkg:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

func build(binary, version, out string) (string, error) {
	if version == "" {
		return "", fmt.Errorf("-version is required")
	}
	arch, glibc, err := inspect(binary)
	if err != nil {
		return "", err
	}
	stage, err := os.MkdirTemp("", "lessllm-pkg-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	// nfpm reads sources from disk: the embedded files are written out.
	source := func(name string) (string, error) {
		b, err := debian.ReadFile("debian/" + name)
		if err != nil {
			return "", err
		}
		p := filepath.Join(stage, name)
		return p, os.WriteFile(p, b, 0o644)
	}
	var cs files.Contents
	for _, e := range contents {
		c := &files.Content{Destination: e.dst, Type: e.kind, FileInfo: &files.ContentFileInfo{Mode: e.mode, Owner: e.owner, Group: e.group}}
		switch {
		case e.kind == files.TypeDir:
		case e.repo != "":
			if _, err := os.Stat(e.repo); err != nil {
				return "", fmt.Errorf("%w (run from the repository root, as make deb does)", err)
			}
			c.Source = e.repo
		case e.src == "":
			c.Source = binary
		default:
			if c.Source, err = source(e.src); err != nil {
				return "", err
			}
		}
		cs = append(cs, c)
	}
	scripts := map[string]string{}
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if scripts[s], err = source(s); err != nil {
			return "", err
		}
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          "lessllm",
		Arch:          arch,
		Platform:      "linux",
		Version:       strings.Replace(version, ".dev", "~dev", 1),
		VersionSchema: "none",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    "lessllm developers <lessllm@users.noreply.github.com>",
		Description: "Lightweight LLM API proxy that captures every exchange, and its analyzer\n" +
			"lessllm capture relays OpenAI, Anthropic and OpenAI-compatible API calls, through corporate\n" +
			"proxies if need be, and records each exchange with per-chunk timings into compressed segment\n" +
			"files; lessllm analyze turns them into latency, token, cost and prompt-cache numbers in DuckDB.",
		Homepage: "https://github.com/lessllm/lessllm",
		License:  "Apache-2.0",
		Overridables: nfpm.Overridables{
			Depends:  []string{fmt.Sprintf("libc6 (>= %s)", glibc), "passwd"},
			Contents: cs,
			Scripts: nfpm.Scripts{PreInstall: scripts["preinst"], PostInstall: scripts["postinst"],
				PreRemove: scripts["prerm"], PostRemove: scripts["postrm"]},
		},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", err
	}
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	target := filepath.Join(out, pkg.ConventionalFileName(info))
	f, err := os.Create(target)
	if err != nil {
		return "", err
	}
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(target)
		return "", err
	}
	return target, f.Close()
}

var glibcVersion = regexp.MustCompile(`^GLIBC_(\d+)\.(\d+)`)

// inspect reads the binary's Debian architecture and the newest glibc
// symbol version it needs (the package's libc6 dependency).
func inspect(binary string) (arch, glibc string, err error) {
	f, err := elf.Open(binary)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", binary, err)
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		arch = "amd64"
	case elf.EM_AARCH64:
		arch = "arm64"
	default:
		return "", "", fmt.Errorf("%s: unsupported machine %s", binary, f.Machine)
	}
	syms, err := f.ImportedSymbols()
	if err != nil {
		return "", "", fmt.Errorf("%s: %w (the capture-node build is not packaged: it needs no package)", binary, err)
	}
	var versions [][2]int
	for _, s := range syms {
		if m := glibcVersion.FindStringSubmatch(s.Version); m != nil {
			major, _ := strconv.Atoi(m[1])
			minor, _ := strconv.Atoi(m[2])
			versions = append(versions, [2]int{major, minor})
		}
	}
	if len(versions) == 0 {
		return "", "", fmt.Errorf("%s: no glibc symbol versions found", binary)
	}
	newest := slices.MaxFunc(versions, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	return arch, fmt.Sprintf("%d.%d", newest[0], newest[1]), nil
}
