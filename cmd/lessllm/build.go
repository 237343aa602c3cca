package main

// Two builds of one CLI, from the same source:
//
//   - the full build (cgo, DuckDB linked in): every command;
//   - the capture-node build (CGO_ENABLED=0): capture, server, simulate,
//     segments, check, config, hash-key, version. A small static binary for
//     the many machines that only capture and ship segments; the segment
//     format (format/SPEC.md) is the contract between the two.
//
// The analysis commands' files carry `//go:build cgo`; build_nocgo.go
// stands in for them with commands that say which build has them. Go
// itself picks the capture-node build where no C compiler is found
// (CGO_ENABLED defaults to 0 then), so `go install` without gcc gives a
// working proxy rather than a cgo error.

// Set at build time with -ldflags "-X main.version=… -X main.commit=… -X main.date=…".
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// buildInfo describes this binary for `lessllm version`.
func buildInfo() string {
	s := buildKind
	if commit != "" {
		s += ", commit " + commit
	}
	if date != "" {
		s += ", built " + date
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
