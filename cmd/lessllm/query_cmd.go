package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lessllm/lessllm/analyze"
)

// QueryCmd runs SQL against the analysis database, read-only.
type QueryCmd struct {
	SQL    string   `arg:"" help:"SQL to run (tables: api_calls, analyzed_segments, analysis_problems); '-' reads it from stdin."`
	DB     string   `name:"db" help:"DuckDB file. Default: the config's logging.db_path, else ./lessllm.duckdb." default:"" env:"LESSLLM_DB" type:"path"`
	Format string   `help:"Output format." enum:"table,csv,json,markdown" default:"table" env:"LESSLLM_FORMAT"`
	Config string   `help:"Config file (for logging.db_path). Empty: ./lessllm.yaml if it exists." default:"" env:"LESSLLM_CONFIG" type:"path"`
	Fresh  bool     `help:"First analyse what capture has written since the last analysis — segments still being written included — so the query sees every call up to now." default:"false" env:"LESSLLM_FRESH"`
	From   []string `name:"from" help:"With --fresh: segment files or directories to analyse. Default: the config's capture.dir." type:"path"`
}

func (c *QueryCmd) Run(env *Env) error {
	q := c.SQL
	if q == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		q = string(b)
	}
	if strings.TrimSpace(q) == "" {
		return &exitError{code: 2, msg: "query: empty SQL"}
	}
	if c.Fresh {
		if err := c.analyseNew(); err != nil {
			return err
		}
	}
	db, err := openForQuery(c.DB, c.Config)
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

// analyseNew brings the database up to what capture has written, quietly.
func (c *QueryCmd) analyseNew() error {
	cfg, err := loadConfig(c.Config)
	if err != nil {
		return err
	}
	opts, err := analyzeOptions(cfg, c.From, c.DB)
	if err != nil {
		return err
	}
	// A running capture hands an exchange to the file within
	// capture.flush_interval (plus one frame's compression): wait that
	// long, so every call that ended before this command started is read.
	time.Sleep(cfg.Capture.FlushInterval + 50*time.Millisecond)
	if _, err := analyze.Run(context.Background(), opts); err != nil {
		return fmt.Errorf("--fresh: analysing %s: %w", strings.Join(opts.Inputs, ", "), err)
	}
	return nil
}
