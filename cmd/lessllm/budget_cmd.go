//go:build cgo

// The analysis commands need DuckDB, hence cgo: see build.go.

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/lessllm/lessllm/analyze"
)

// BudgetCmd groups the budget commands.
type BudgetCmd struct {
	Check BudgetCheckCmd `cmd:"" help:"Compare spend with the config's budgets; exit 1 when one is exceeded or projected to be (for a nightly cron)."`
}

// BudgetCheckCmd prints one line per budget and fails when any is over.
type BudgetCheckCmd struct {
	dbFlags
	Now string `help:"Evaluate as of this time (RFC 3339, e.g. 2026-11-30T23:00:00Z), to re-check a past day. Empty: now." default:"" env:"LESSLLM_NOW"`
}

func (c *BudgetCheckCmd) Run(env *Env, cfg *Config) error {
	if len(cfg.Budgets.Budgets) == 0 {
		return &exitError{code: 2, msg: "no budgets: configured (add a budgets: list to lessllm.yaml)"}
	}
	db, err := analyze.OpenReadOnly(c.dbFile(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now()
	if c.Now != "" {
		if now, err = parseTime("--now", c.Now); err != nil {
			return err
		}
	}
	st, err := analyze.CheckBudgets(context.Background(), db, cfg.Budgets.Budgets, now)
	if err != nil {
		return err
	}
	over := 0
	for _, s := range st {
		fmt.Fprintf(env.Stdout, "%-9s %s\n", s.State, analyze.Printable(s.Reason))
		if s.State != analyze.BudgetOK {
			over++
		}
	}
	if over > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d budgets exceeded or projected to be", over, len(st))}
	}
	return nil
}
