package format

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces ARCHITECTURE.md §2: the segment format depends on the
// standard library and two pure-Go compression modules only —
// klauspost/compress (segment frames; gzip, deflate and zstd content
// codings) and andybalholm/brotli (the br content coding, format/wire) — so
// any program can read shipped segments without pulling in the rest of
// lessllm.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, "github.com/lessllm/lessllm/format") && !strings.HasPrefix(pkg, "github.com/klauspost/compress") &&
			!strings.HasPrefix(pkg, "github.com/andybalholm/brotli") {
			t.Errorf("format depends on %s", pkg)
		}
	}
}
