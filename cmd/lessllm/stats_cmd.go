package main

import (
	"context"
	"time"

	"github.com/lessllm/lessllm/analyze"
)

// StatsCmd prints calls, errors, tokens, cost, latency percentiles and cache
// hit rates per model (or provider, user, day).
type StatsCmd struct {
	Days   int    `help:"Only the last N days; 0: everything." default:"7" env:"LESSLLM_DAYS"`
	By     string `help:"One row per model, provider, user or day." enum:"model,provider,user,day" default:"model" env:"LESSLLM_BY"`
	Format string `help:"Output format." enum:"table,csv,json,markdown" default:"table" env:"LESSLLM_FORMAT"`
	DB     string `name:"db" help:"DuckDB file. Default: the config's logging.db_path, else ./lessllm.duckdb." default:"" env:"LESSLLM_DB" type:"path"`
	Config string `help:"Config file (for logging.db_path). Empty: ./lessllm.yaml if it exists." default:"" env:"LESSLLM_CONFIG" type:"path"`
}

func (c *StatsCmd) Run(env *Env) error {
	db, err := openForQuery(c.DB, c.Config)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := analyze.Stats(context.Background(), db, c.By, analyze.LastDays(c.Days, time.Now()))
	if err != nil {
		return err
	}
	return res.Write(env.Stdout, c.Format)
}
