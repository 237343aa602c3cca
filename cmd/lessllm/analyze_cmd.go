//go:build cgo

// The analysis commands need DuckDB, hence cgo: see build.go.

package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/lessllm/lessllm/analyze"
)

// AnalyzeCmd replays sealed segments into the DuckDB file and the Parquet
// dataset. Re-running adds only segments not analysed before.
type AnalyzeCmd struct {
	Inputs []string `arg:"" optional:"" name:"path" help:"Segment files or directories (walked recursively; many nodes' segments may sit side by side). Default: the config's capture.dir." type:"path"`
	dbFlags
	Parquet    string       `help:"Root of the Hive-partitioned Parquet dataset. Default: 'parquet' next to the DB file." default:"" env:"LESSLLM_PARQUET" type:"path"`
	Full       bool         `help:"Re-analyse every segment, also those the ledger has (after an upgrade or a price change)." default:"false" env:"LESSLLM_FULL"`
	Workers    int          `help:"Parallel parsers; 0: one per CPU." default:"0" env:"LESSLLM_WORKERS"`
	NoProgress bool         `help:"No progress bar, even on a terminal." default:"false" env:"LESSLLM_NO_PROGRESS"`
	Profile    profileFlags `embed:""`
}

func (c *AnalyzeCmd) Run(env *Env, cfg *Config) error {
	stopProfile, err := c.Profile.start()
	if err != nil {
		return err
	}
	defer stopProfile()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := analyzeOptions(cfg, c.Inputs, c.dbFile(cfg))
	if err != nil {
		return err
	}
	opts.Parquet, opts.Full, opts.Workers = c.Parquet, c.Full, c.Workers
	bar := newProgressBar(env.Stderr, !c.NoProgress)
	opts.Progress = bar.update
	sum, err := analyze.Run(ctx, opts)
	bar.finish()
	if err != nil {
		return err
	}
	printSummary(env, sum)
	return nil
}

// analyzeOptions are the options of an analysis run as the config sets
// them: inputs (default: the config's capture.dir), database, prices, cache
// rules and the sensitive-data scan.
func analyzeOptions(cfg *Config, inputs []string, db string) (analyze.Options, error) {
	if len(inputs) == 0 {
		inputs = []string{cfg.Capture.Dir}
	}
	rules, err := cfg.CacheModel.Table()
	if err != nil {
		return analyze.Options{}, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	scanner, err := cfg.Sensitive.Scanner()
	if err != nil {
		return analyze.Options{}, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	return analyze.Options{Inputs: inputs, DB: db, Prices: cfg.Prices.Table(), CacheRules: rules,
		NoCacheModel: !cfg.CacheModel.Enabled(), Sensitive: scanner, KeepSensitive: cfg.Sensitive.Sensitive.Keep}, nil
}

func printSummary(env *Env, s *analyze.Summary) {
	secs := s.Elapsed.Seconds()
	fmt.Fprintf(env.Stdout, "analysed %d segment%s (%.1f MB, %.1f MB of NDJSON): %d records in %.2fs (%.0f records/s, %.0f MB/s of NDJSON) → %s, %s\n",
		s.Segments, plural(s.Segments), float64(s.Bytes)/1e6, float64(s.NDJSONBytes)/1e6, s.Records, secs,
		float64(s.Records)/secs, float64(s.NDJSONBytes)/1e6/secs, s.DB, s.Parquet)
	if s.AlreadyDone > 0 {
		fmt.Fprintf(env.Stdout, "skipped %d segment%s already analysed (--full re-analyses them)\n", s.AlreadyDone, plural(s.AlreadyDone))
	}
	if n := s.Provisional; n > 0 {
		fmt.Fprintf(env.Stdout, "read %d segment%s still being written: their rows are provisional until the segment is sealed, and the next run brings them up to date\n",
			n, plural(n))
	}
	if n := len(s.Problems); n > 0 {
		fmt.Fprintf(env.Stderr, "warning: %d problem%s in the input (everything readable was analysed; details in table analysis_problems):\n", n, plural(n))
		for i, p := range s.Problems {
			if i == 20 {
				fmt.Fprintf(env.Stderr, "  … and %d more\n", len(s.Problems)-i)
				break
			}
			fmt.Fprintln(env.Stderr, "  "+analyze.Printable(p))
		}
	}
	if len(s.UnknownModels) > 0 {
		var parts []string
		for _, m := range slices.Sorted(maps.Keys(s.UnknownModels)) {
			parts = append(parts, fmt.Sprintf("%s (%d calls)", analyze.Printable(m), s.UnknownModels[m]))
		}
		fmt.Fprintf(env.Stderr, "warning: no price for %s: their cost is NULL; add them under pricing: in lessllm.yaml\n", strings.Join(parts, ", "))
	}
}
