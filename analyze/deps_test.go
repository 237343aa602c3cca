package analyze

import (
	"os/exec"
	"strings"
	"testing"
)

// TestReadsSegmentsOnly enforces ARCHITECTURE.md §2: analyze reads segments
// (format/) and never links the capture side.
func TestReadsSegmentsOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/lessllm/lessllm/capture") {
			t.Errorf("analyze depends on %s", pkg)
		}
	}
}
