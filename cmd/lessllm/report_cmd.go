//go:build cgo

// The analysis commands need DuckDB, hence cgo: see build.go.

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lessllm/lessllm/analyze"
	"github.com/lessllm/lessllm/analyze/report"
)

// ReportCmd writes the analysis database as one self-contained HTML file.
type ReportCmd struct {
	Out   string `help:"HTML file to write." default:"report.html" env:"LESSLLM_REPORT_OUT" type:"path"`
	Since string `help:"Only calls on or after this date (YYYY-MM-DD, UTC) or time (RFC 3339)." default:"" env:"LESSLLM_SINCE"`
	Until string `help:"Only calls before this date (YYYY-MM-DD, UTC) or time (RFC 3339)." default:"" env:"LESSLLM_UNTIL"`
	dbFlags
}

func (c *ReportCmd) Run(env *Env, cfg *Config) error {
	opts := report.Options{Budgets: cfg.Budgets.Budgets}
	var err error
	if opts.Since, err = parseTime("--since", c.Since); err != nil {
		return err
	}
	if opts.Until, err = parseTime("--until", c.Until); err != nil {
		return err
	}
	db, err := analyze.OpenSandboxed(c.dbFile(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	// Written next to its final name and renamed, so a reader never sees
	// half a report; 0600 like every output that holds analysis results.
	tmp, err := os.CreateTemp(filepath.Dir(c.Out), ".report-*.html")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := report.Write(context.Background(), db, tmp, opts); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.Out); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "report written to %s\n", c.Out)
	return nil
}
