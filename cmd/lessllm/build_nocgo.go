//go:build !cgo

package main

import (
	"fmt"

	"github.com/alecthomas/kong"
)

const buildKind = "capture-node build, no analysis commands"

// The analysis commands of the full build, here as commands that say where
// they are. They take any arguments, so `lessllm analyze --db x` gets this
// answer rather than a complaint about --db.
type (
	AnalyzeCmd struct{ analysisElsewhere }
	QueryCmd   struct{ analysisElsewhere }
	ExportCmd  struct{ analysisElsewhere }
	StatsCmd   struct{ analysisElsewhere }
	CacheCmd   struct{ analysisElsewhere }
	BudgetCmd  struct{ analysisElsewhere }
	ReportCmd  struct{ analysisElsewhere }
)

type analysisElsewhere struct {
	Args []string `arg:"" optional:"" passthrough:"" help:"(not in this build)"`
}

func (analysisElsewhere) Run(ctx *kong.Context) error {
	return &exitError{code: 2, msg: fmt.Sprintf("`%s` is not in this lessllm: this is the capture-node build (no DuckDB, built without cgo), "+
		"which captures and ships segments. Analyse them with the full build: the lessllm_<version>_linux_<arch>.tar.gz "+
		"archive, the Debian package, or `make build` / `go install` with gcc (CGO_ENABLED=1).", ctx.Selected().Name)}
}
