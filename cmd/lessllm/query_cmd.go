//go:build cgo

// The analysis commands need DuckDB, hence cgo: see build.go.

package main

import (
	"context"
	"io"
	"strings"

	"github.com/lessllm/lessllm/analyze"
)

// QueryCmd runs SQL against the analysis database, read-only.
type QueryCmd struct {
	SQL string `arg:"" help:"SQL to run; '-' reads it from stdin. Tables: api_calls (one row per call; README \"api_calls\"), analyzed_segments, analysis_problems, cache_prompts, cache_predictions, cache_opportunities, cache_family_calls, cache_checkpoints, sensitive_findings, lessllm_meta; views: cache_accuracy, cache_cost."`
	dbFlags
	resultFormat
	freshFlags
}

func (c *QueryCmd) Run(env *Env, cfg *Config) error {
	q := c.SQL
	if q == "-" {
		b, err := io.ReadAll(env.Stdin)
		if err != nil {
			return err
		}
		q = string(b)
	}
	if strings.TrimSpace(q) == "" {
		return &exitError{code: 2, msg: "query: empty SQL"}
	}
	path, err := c.database(cfg, c.dbFlags)
	if err != nil {
		return err
	}
	db, err := analyze.OpenSandboxed(path)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := analyze.Query(context.Background(), db, q)
	if err != nil {
		return analyze.SandboxError(err)
	}
	return res.Write(env.Stdout, c.Format)
}
