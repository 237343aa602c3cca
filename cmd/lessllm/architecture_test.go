package main

import (
	"flag"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/ARCHITECTURE.md's import graph from go list")

// TestArchitectureImportGraph keeps the import graph in
// docs/ARCHITECTURE.md §2 true: it is generated from `go list` here and
// compared with the page (-update rewrites the page's block).
func TestArchitectureImportGraph(t *testing.T) {
	const module = "github.com/lessllm/lessllm/"
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(l, "|")
		var own []string
		for i := range strings.FieldsSeq(imports) {
			if p, ok := strings.CutPrefix(i, module); ok {
				own = append(own, p)
			}
		}
		slices.Sort(own)
		deps := "(none)"
		if len(own) > 0 {
			deps = strings.Join(own, " ")
		}
		lines = append(lines, strings.TrimPrefix(pkg, module)+" → "+deps)
	}
	slices.Sort(lines)
	want := "```\n" + strings.Join(lines, "\n") + "\n```"
	doc, err := os.ReadFile("../../docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(doc), "<!-- imports:start -->\n")
	got, _, ok2 := strings.Cut(rest, "\n<!-- imports:end -->")
	if !ok1 || !ok2 {
		t.Fatal("docs/ARCHITECTURE.md has no <!-- imports:start/end --> block")
	}
	if got != want && *updateDocs {
		if err := os.WriteFile("../../docs/ARCHITECTURE.md", []byte(strings.Replace(string(doc), got, want, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("docs/ARCHITECTURE.md's import graph is out of date; the packages now import:\n%s", want)
	}
}
