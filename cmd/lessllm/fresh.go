//go:build cgo

// The analysis commands need DuckDB, hence cgo: see build.go.

package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lessllm/lessllm/analyze"
)

// freshFlags are shared by the commands that read the analysis database
// (query, stats, export): --fresh brings the database up to what capture
// has written before the command reads it (README "See your calls now").
type freshFlags struct {
	Fresh bool     `help:"First analyse what capture has written since the last analysis — segments still being written included — so the answer has every call up to now." default:"false" env:"LESSLLM_FRESH"`
	From  []string `name:"from" help:"With --fresh: segment files or directories to analyse. Default: the config's capture.dir." type:"path"`
}

// database is the analysis database's path (the --db flag, else the
// config's logging.db_path), brought up to date first with --fresh.
func (f freshFlags) database(cfg *Config, db dbFlags) (string, error) {
	path := db.dbFile(cfg)
	return path, f.bringUpToDate(cfg, path)
}

// bringUpToDate analyses what is new when --fresh is set, quietly. A
// capture directory that does not exist yet (no call made so far) is not
// an error: the database is created empty, so the command answers with no
// rows instead of failing on a missing file.
func (f freshFlags) bringUpToDate(cfg *Config, db string) error {
	if !f.Fresh {
		return nil
	}
	inputs := f.From
	if len(inputs) == 0 {
		if _, err := os.Stat(cfg.Capture.Dir); err == nil {
			inputs = []string{cfg.Capture.Dir}
		}
	}
	// A running capture hands an exchange to the file within
	// capture.flush_interval (plus one frame's compression): wait that
	// long, so every call that ended before this command started is read.
	time.Sleep(cfg.Capture.FlushInterval + 50*time.Millisecond)
	opts, err := analyzeOptions(cfg, inputs, db)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		opts.Inputs = nil // analyzeOptions' default is the directory that is not there
	}
	if _, err := analyze.Run(context.Background(), opts); err != nil {
		return fmt.Errorf("--fresh: analysing %s: %w", strings.Join(opts.Inputs, ", "), err)
	}
	return nil
}
