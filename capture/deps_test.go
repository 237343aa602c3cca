package capture

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHotPathDependencies enforces ARCHITECTURE.md §2: a capture process never
// links analyze, DuckDB or Parquet (no cgo-heavy code on the hot path).
func TestHotPathDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "duckdb") || strings.Contains(pkg, "parquet") || strings.Contains(pkg, "lessllm/analyze") {
			t.Errorf("capture depends on %s", pkg)
		}
	}
}
