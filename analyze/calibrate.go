package analyze

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/format/wire"
)

// calibrate fills the columns that depend on the whole dataset rather than
// on one exchange. It runs over all of api_calls after every load, so the
// result is the same whether the data came in one run or in many (values
// are rounded to 0.001 ms so that the order rows were summed in does not
// show). The Parquet files of the segments whose rows change are written
// again afterwards (dataset.go).
func calibrate(ctx context.Context, db *sql.DB, prices *pricing.Table) error {
	modelable, err := modelableEndpoints(ctx, db)
	if err != nil {
		return err
	}
	for _, step := range []struct{ name, sql string }{
		{"modeled TTFT/TPOT", strings.Replace(modelTTFT, "$modelable", modelable, 1)},
		{"Claude token calibration", calibrateClaude},
		{"network estimate", estimateNetwork},
	} {
		if _, err := db.ExecContext(ctx, step.sql); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
	}
	return priceEstimated(ctx, db, prices)
}

// modelTTFT gives non-streamed calls a TTFT and TPOT from the streamed calls
// of the same upstream model, and ttft_source 'modeled' to those it could
// give one: a call of a model with no streamed call yet has NULL for all
// three, and gets them on the run that brings the model's first streamed
// call (the candidates are found again by their endpoint, since their
// ttft_source is NULL by then). TTFT: a least-squares line on prompt tokens,
// used when it explains the data (at least 10 streamed calls, R² ≥ 0.5, a
// slope that is not negative) and evaluated inside the prompt lengths it
// was fit on; otherwise the median TTFT of those streamed calls, since
// prefill time then depends on something other than prompt length (load,
// queueing). Capped at the call's own total latency after rounding (capped
// before, the rounding could put TTFT above the latency and TPOT at -0).
// TPOT: the rest of the call's latency spread over its output tokens
// after the first. README "Metric definitions".
const modelTTFT = `
WITH fit AS (
	SELECT coalesce(upstream_model, model) AS m, count(*) AS n,
		regr_intercept(estimated_ttft_ms, actual_prompt_tokens) AS a,
		regr_slope(estimated_ttft_ms, actual_prompt_tokens) AS b,
		regr_r2(estimated_ttft_ms, actual_prompt_tokens) AS r2,
		min(actual_prompt_tokens) AS lo, max(actual_prompt_tokens) AS hi,
		median(estimated_ttft_ms) AS med
	FROM api_calls WHERE ttft_source = 'measured'
	GROUP BY 1
), modeled AS (
	SELECT c.request_id,
		CASE WHEN f.m IS NOT NULL THEN least(c.total_latency_ms, round(greatest(0,
			CASE WHEN f.n >= 10 AND f.b >= 0 AND f.r2 >= 0.5 AND c.actual_prompt_tokens IS NOT NULL
				THEN f.a + f.b * least(greatest(c.actual_prompt_tokens, f.lo), f.hi) ELSE f.med END), 3)) END AS ttft,
		c.total_latency_ms, coalesce(c.actual_completion_tokens, c.estimated_completion_tokens) AS out
	FROM api_calls c LEFT JOIN fit f ON coalesce(c.upstream_model, c.model) = f.m
	WHERE c.ttft_source = 'modeled' OR (c.ttft_source IS NULL AND NOT c.stream AND c.status < 400 AND c.endpoint IN ($modelable))
)
UPDATE api_calls SET
	estimated_ttft_ms = modeled.ttft,
	ttft_source = CASE WHEN modeled.ttft IS NOT NULL THEN 'modeled' END,
	estimated_tpot_ms = CASE WHEN modeled.ttft IS NOT NULL AND modeled.out > 1 THEN round((modeled.total_latency_ms - modeled.ttft) / (modeled.out - 1), 3) END
FROM modeled WHERE api_calls.request_id = modeled.request_id`

// modelableEndpoints lists, as SQL literals, the endpoints of non-streamed
// calls that generate output (what extract.go gives ttft_source 'modeled'):
// wire.KindOf stays the one definition of what an endpoint is.
func modelableEndpoints(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT endpoint FROM api_calls WHERE NOT stream`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lits []string
	for rows.Next() {
		var ep string
		if err := rows.Scan(&ep); err != nil {
			return "", err
		}
		if generates(wire.KindOf(ep)) {
			lits = append(lits, quote(ep))
		}
	}
	if len(lits) == 0 {
		return "NULL", rows.Err() // IN (NULL) selects nothing
	}
	sort.Strings(lits)
	return strings.Join(lits, ", "), rows.Err()
}

// calibrateClaude scales the cl100k counts of Claude calls without usage by
// the ratio of actual to cl100k prompt tokens over the sampled Claude calls
// that report usage (1.0 while there are none).
const calibrateClaude = `
WITH k AS (
	SELECT coalesce(sum(actual_prompt_tokens)::DOUBLE / nullif(sum(tokenizer_prompt_tokens), 0), 1.0) AS k
	FROM api_calls
	WHERE usage_source = 'api' AND tokenizer_prompt_tokens > 0 AND coalesce(upstream_model, response_model) ILIKE '%claude%'
)
UPDATE api_calls SET
	estimated_prompt_tokens = CAST(round(tokenizer_prompt_tokens * k.k) AS BIGINT),
	estimated_completion_tokens = CAST(round(tokenizer_completion_tokens * k.k) AS BIGINT)
FROM k
WHERE usage_source = 'estimated' AND coalesce(upstream_model, response_model) ILIKE '%claude%'`

// estimateNetwork splits calls whose API sends no processing time: network
// is the connection set-up this call paid (DNS, connect, TLS) plus one
// round trip, taken as the median TCP connect time of new connections to
// the same provider over the same route; compute is the rest.
const estimateNetwork = `
WITH rtt AS (
	SELECT provider, coalesce(proxy, '') AS route, median(connect_ms) AS rtt
	FROM api_calls WHERE connect_ms IS NOT NULL
	GROUP BY 1, 2
)
UPDATE api_calls SET
	estimated_network_ms = round(coalesce(dns_ms, 0) + coalesce(connect_ms, 0) + coalesce(tls_ms, 0) + rtt.rtt, 3),
	estimated_compute_ms = round(greatest(0, total_latency_ms - (coalesce(dns_ms, 0) + coalesce(connect_ms, 0) + coalesce(tls_ms, 0) + rtt.rtt)), 3)
FROM rtt
WHERE api_calls.server_processing_ms IS NULL AND api_calls.status IS NOT NULL
	AND api_calls.provider = rtt.provider AND coalesce(api_calls.proxy, '') = rtt.route`

// priceEstimated prices the calls whose tokens were only known after
// calibration (Claude without usage), at the entry their analysis found
// (price_source).
func priceEstimated(ctx context.Context, db *sql.DB, prices *pricing.Table) error {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT price_source FROM api_calls
		WHERE usage_source = 'estimated' AND estimated_prompt_tokens IS NOT NULL AND coalesce(upstream_model, response_model) ILIKE '%claude%'
		AND price_source IS NOT NULL`)
	if err != nil {
		return err
	}
	var sources []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		sources = append(sources, s)
	}
	rows.Close()
	for _, source := range sources {
		p, ok := prices.Entry(source)
		if !ok {
			continue
		}
		_, err := db.ExecContext(ctx, `UPDATE api_calls SET
			estimated_cost_usd = estimated_prompt_tokens * ? + coalesce(estimated_completion_tokens, 0) * ?,
			estimated_cost_without_cache_usd = estimated_prompt_tokens * ? + coalesce(estimated_completion_tokens, 0) * ?,
			price_version = ?
			WHERE usage_source = 'estimated' AND coalesce(upstream_model, response_model) ILIKE '%claude%' AND price_source = ?`,
			p.Input, p.Output, p.Input, p.Output, p.Version, source)
		if err != nil {
			return err
		}
	}
	return nil
}
