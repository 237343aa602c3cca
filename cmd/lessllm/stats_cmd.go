//go:build cgo

// The analysis commands need DuckDB, hence cgo: see build.go.

package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lessllm/lessllm/analyze"
)

// StatsCmd prints calls, errors, tokens, cost, latency percentiles and cache
// hit rates per model (or provider, user, day).
type StatsCmd struct {
	Days int    `help:"Only the last N days; 0: everything." default:"7" env:"LESSLLM_DAYS"`
	By   string `help:"One row per model, provider, user or day." enum:"model,provider,user,day" default:"model" env:"LESSLLM_BY"`
	resultFormat
	dbFlags
	freshFlags
}

func (c *StatsCmd) Run(env *Env, cfg *Config) error {
	path, err := c.database(cfg, c.dbFlags)
	if err != nil {
		return err
	}
	db, err := analyze.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	since := analyze.LastDays(c.Days, time.Now())
	res, err := analyze.Stats(ctx, db, c.By, since)
	if err != nil {
		return err
	}
	if err := res.Write(env.Stdout, c.Format); err != nil {
		return err
	}
	// Budgets, other endpoints, unpriced calls and sensitive findings
	// follow in table form only: the machine formats carry one result.
	if c.Format != "table" {
		return nil
	}
	if len(cfg.Budgets.Budgets) > 0 {
		st, err := analyze.CheckBudgets(ctx, db, cfg.Budgets.Budgets, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, "\nBudgets (spend in the current period, projected to its end):")
		if err := analyze.BudgetTable(st).Write(env.Stdout, "table"); err != nil {
			return err
		}
	}
	for _, sec := range []struct {
		title string
		query func(context.Context, *sql.DB, analyze.Filter) (*analyze.Result, error)
	}{
		{"Other endpoints (calls that name no model: not in the table above)", analyze.OtherEndpoints},
		{"Unpriced calls (no price for the model looked up: add it under pricing: in lessllm.yaml)", analyze.UnpricedCalls},
		{"Sensitive data found (masked in sensitive_findings)", analyze.SensitiveCounts},
	} {
		res, err := sec.query(ctx, db, since)
		if err != nil {
			return err
		}
		if len(res.Rows) == 0 {
			continue
		}
		fmt.Fprintf(env.Stdout, "\n%s:\n", sec.title)
		if err := res.Write(env.Stdout, "table"); err != nil {
			return err
		}
	}
	return nil
}
