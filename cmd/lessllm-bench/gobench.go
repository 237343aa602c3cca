package main

import (
	"fmt"
	"log"
	"os"
	"regexp"
	"strings"
)

// benchLine is one result line of `go test -bench -benchmem`.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+([\d.]+) ns/op(?:\s+([\d.]+) MB/s)?(.*?)(?:\s+(\d+) B/op\s+(\d+) allocs/op)?$`)

// goBenchTable renders the hot-path Go benchmarks (and the compression
// test's lines) from a saved `go test` output as a Markdown table.
func goBenchTable(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	var out strings.Builder
	out.WriteString("| benchmark | ns/op | MB/s | other | B/op | allocs/op |\n|---|---:|---:|---|---:|---:|\n")
	var pkg string
	var extra []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "pkg: ") {
			pkg = strings.TrimPrefix(strings.TrimPrefix(line, "pkg: "), "github.com/lessllm/lessllm/")
		}
		if strings.Contains(line, "record(s) per frame") {
			extra = append(extra, strings.TrimSpace(line))
		}
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		other := strings.Join(strings.Fields(m[6]), " ")
		fmt.Fprintf(&out, "| `%s` %s | %s | %s | %s | %s | %s |\n", pkg, m[1], m[4], dash(m[5]), dash(other), dash(m[7]), dash(m[8]))
	}
	if len(extra) > 0 {
		out.WriteString("\n`TestCompressionRatio`:\n\n```\n" + strings.Join(extra, "\n") + "\n```\n")
	}
	return out.String() + "\n"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
