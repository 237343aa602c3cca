package analyze

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ModelName is the one rule by which stats and the report name a call's
// model: as the client asked (an alias stays the alias it configured),
// else as sent upstream, else as the API answered.
const ModelName = "coalesce(model, upstream_model, response_model)"

// HasModel selects the calls that name a model. The others — GET
// /v1/models, files, batches — cost nothing and have no tokens or latency
// worth comparing: stats and the report list them apart (OtherEndpoints).
const HasModel = ModelName + " IS NOT NULL"

// Stats groupings.
var statsKeys = map[string]string{
	"model":    ModelName,
	"provider": "provider",
	"user":     "coalesce(user_id, '(none)')",
	"day":      "CAST(timezone('UTC', timestamp) AS DATE)",
}

// Stats summarises the calls f selects that name a model (HasModel), one
// row per value of by (model, provider, user or day) and a total row: calls, errors, tokens, cost,
// p50/p95 TTFT and TPOT (over calls that have one, measured or modeled),
// and cache hit rates (token-weighted: cached ÷ prompt tokens).
func Stats(ctx context.Context, db *sql.DB, by string, f Filter) (*Result, error) {
	key, ok := statsKeys[by]
	if !ok {
		return nil, fmt.Errorf("unknown grouping %q (want model, provider, user or day)", by)
	}
	cond, args := f.where()
	q := fmt.Sprintf(`
SELECT CASE WHEN GROUPING(k) = 1 THEN 'TOTAL' ELSE CAST(k AS VARCHAR) END AS %s,
	count(*) AS calls,
	count(*) FILTER (WHERE error_type IS NOT NULL) AS errors,
	sum(coalesce(actual_prompt_tokens, estimated_prompt_tokens)) AS prompt_tokens,
	sum(coalesce(actual_completion_tokens, estimated_completion_tokens)) AS completion_tokens,
	round(sum(estimated_cost_usd), 6) AS cost_usd,
	round(quantile_cont(estimated_ttft_ms, 0.5), 1) AS ttft_p50_ms,
	round(quantile_cont(estimated_ttft_ms, 0.95), 1) AS ttft_p95_ms,
	round(quantile_cont(estimated_tpot_ms, 0.5), 2) AS tpot_p50_ms,
	round(quantile_cont(estimated_tpot_ms, 0.95), 2) AS tpot_p95_ms,
	round(sum(actual_cached_tokens)::DOUBLE / nullif(sum(actual_prompt_tokens) FILTER (WHERE actual_cached_tokens IS NOT NULL), 0), 4) AS actual_cache_hit_rate,
	round(sum(estimated_cached_tokens)::DOUBLE / nullif(sum(coalesce(actual_prompt_tokens, estimated_prompt_tokens)) FILTER (WHERE estimated_cached_tokens IS NOT NULL), 0), 4) AS estimated_cache_hit_rate
FROM (SELECT %s AS k, * FROM api_calls WHERE %s AND `+HasModel+`)
GROUP BY ROLLUP (k)
ORDER BY GROUPING(k), cost_usd DESC NULLS LAST, calls DESC, k`, by, key, cond)
	return Query(ctx, db, q, args...)
}

// OtherEndpoints counts, per endpoint, the calls f selects that name no
// model (HasModel).
func OtherEndpoints(ctx context.Context, db *sql.DB, f Filter) (*Result, error) {
	cond, args := f.where()
	return Query(ctx, db, `
SELECT endpoint, provider, count(*) AS calls,
	count(*) FILTER (WHERE error_type IS NOT NULL) AS errors,
	round(quantile_cont(total_latency_ms, 0.5), 1) AS latency_p50_ms
FROM api_calls WHERE NOT (`+HasModel+`) AND `+cond+`
GROUP BY ALL ORDER BY calls DESC, endpoint, provider`, args...)
}

// UnpricedCalls lists, per key looked up in the price table (price_source's
// "missing:azure/prod-custom"; else the upstream's model, else the
// response's), the calls f selects that have token counts but no cost: the
// names to add under pricing: in lessllm.yaml. Calls the API refused are
// not billed and not listed.
func UnpricedCalls(ctx context.Context, db *sql.DB, f Filter) (*Result, error) {
	cond, args := f.where()
	return Query(ctx, db, `
SELECT `+lookedUp+` AS looked_up,
	string_agg(DISTINCT model, ', ' ORDER BY model) FILTER (WHERE model IS DISTINCT FROM coalesce(upstream_model, response_model)) AS alias,
	count(*) AS calls,
	sum(coalesce(actual_prompt_tokens, estimated_prompt_tokens)) AS prompt_tokens,
	sum(coalesce(actual_completion_tokens, estimated_completion_tokens)) AS completion_tokens,
	min(timestamp) AS first_call,
	max(timestamp) AS last_call
FROM api_calls WHERE estimated_cost_usd IS NULL AND usage_source <> 'none' AND `+cond+`
GROUP BY 1 ORDER BY calls DESC, looked_up`, args...)
}

// lookedUp is the price table key an unpriced call was looked up by.
const lookedUp = `coalesce(CASE WHEN price_source LIKE 'missing:%' THEN substr(price_source, 9) END, upstream_model, response_model, '(none)')`

// LastDays is the filter of the last n days up to now (n ≤ 0: no limit).
func LastDays(n int, now time.Time) Filter {
	if n <= 0 {
		return Filter{}
	}
	return Filter{Since: now.Add(-time.Duration(n) * 24 * time.Hour)}
}
