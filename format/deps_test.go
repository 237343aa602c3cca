package format

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces ARCHITECTURE.md §2, package by package. The
// segment format and the wire formats depend on the standard library and
// two pure-Go compression modules only — klauspost/compress (segment
// frames; gzip, deflate and zstd content codings) and andybalholm/brotli
// (the br content coding, format/wire) — so any program can read shipped
// segments without pulling in the rest of lessllm. The wire formats add
// AWS's event-stream codec (Bedrock's streams) and its one dependency; the
// simulator (format/wire/apitest) AWS's SigV4 signer, to check signatures. The
// config file format (format/configfile) depends on a YAML parser and
// nothing else.
func TestDependencies(t *testing.T) {
	base := []string{"github.com/lessllm/lessllm/format", "github.com/klauspost/compress", "github.com/andybalholm/brotli"}
	wire := append(base, "github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream", "github.com/aws/smithy-go")
	allowed := map[string][]string{
		"github.com/lessllm/lessllm/format/configfile":   {"go.yaml.in/yaml/v3"},
		"github.com/lessllm/lessllm/format/wire":         wire,
		"github.com/lessllm/lessllm/format/wire/apitest": append(wire, "github.com/aws/aws-sdk-go-v2"),
		"github.com/lessllm/lessllm/format/formattest":   wire,
		"": base,
	}
	pkgs, err := exec.Command("go", "list", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(pkgs)) {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		rules, ok := allowed[pkg]
		if !ok {
			rules = allowed[""]
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == pkg || hasAnyPrefix(dep, rules) {
				continue
			}
			t.Errorf("%s depends on %s", pkg, dep)
		}
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
