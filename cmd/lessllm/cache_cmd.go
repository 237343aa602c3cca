//go:build cgo

// The analysis commands need DuckDB, hence cgo: see build.go.

package main

import (
	"context"
	"fmt"

	"github.com/lessllm/lessllm/analyze"
)

// CacheCmd prints the prompt families that miss the provider's prompt
// cache, the reason, where their prompts diverge, and what a fix saves
// (table cache_opportunities), and the model's accuracy.
type CacheCmd struct {
	Limit    int  `help:"Show the N families with the largest daily saving; 0: all." default:"20" env:"LESSLLM_LIMIT"`
	All      bool `help:"Include families where the cache already does what it can (reason none)." default:"false" env:"LESSLLM_CACHE_ALL"`
	Accuracy bool `help:"Print the cache_accuracy view (predicted vs actual hit rate per model) instead." default:"false" env:"LESSLLM_CACHE_ACCURACY"`
	resultFormat
	dbFlags
}

func (c *CacheCmd) Run(env *Env, cfg *Config) error {
	if !cfg.CacheModel.Enabled() {
		fmt.Fprintf(env.Stderr, "note: the prompt-cache model is off (cache.enabled: false in %s): analyze builds no cache advice\n", cfg.Path)
	}
	db, err := analyze.OpenSandboxed(c.dbFile(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	q := `SELECT reason, provider, model, calls, days, repeated_prefix_tokens, shared_prefix_tokens,
		round(actual_hit_rate, 3) AS actual_hit_rate, round(predicted_hit_rate, 3) AS predicted_hit_rate,
		divergence_token, divergence_excerpt, lost_tokens, round(saving_usd_per_day, 4) AS saving_usd_per_day, advice, family
		FROM cache_opportunities`
	if !c.All {
		q += ` WHERE reason <> 'none'`
	}
	q += ` ORDER BY saving_usd_per_day DESC NULLS LAST, calls DESC, family`
	if c.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", c.Limit)
	}
	if c.Accuracy {
		q = `SELECT provider, model, calls, round(predicted_hit_rate, 3) AS predicted_hit_rate, round(actual_hit_rate, 3) AS actual_hit_rate,
			round(mean_abs_error_tokens, 1) AS mean_abs_error_tokens, round(share_off_by_more_than_128, 3) AS share_off_by_more_than_128
			FROM cache_accuracy ORDER BY provider, model`
	}
	res, err := analyze.Query(context.Background(), db, q)
	if err != nil {
		return fmt.Errorf("%w (run `lessllm analyze` first: it builds the cache tables)", err)
	}
	return res.Write(env.Stdout, c.Format)
}
