package analyze

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/format/wire"
)

// calibrate fills the columns that depend on other calls than their own:
// modeled TTFT/TPOT, the Claude token ratio and the network estimate.
// Each draws a call's value from a window of the calls that began before it
// (README "Metric definitions"): the latest streamed calls of its model,
// the latest new connections over its route, the latest sampled Claude
// calls — and, for a call older than every such call, from the first ones.
// So a value depends only on the calls before it, and a run need only
// recompute the calls at or after the earliest call it loaded (since; nil:
// all of them), and the few that had nothing before them, and writes only
// the rows whose value changed: the result is what one run over everything
// gives (values are rounded to 0.001 ms so that the order rows were summed
// in does not show). The Parquet files of the segments whose rows changed
// are written again afterwards (dataset.go).
func calibrate(ctx context.Context, db *sql.DB, prices *pricing.Table, since *int64) error {
	var form string
	err := db.QueryRowContext(ctx, `SELECT value FROM lessllm_meta WHERE key = 'calibration'`).Scan(&form)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if form != calibrationForm {
		since = nil
	}
	modelable, err := modelableEndpoints(ctx, db)
	if err != nil {
		return err
	}
	for _, step := range calibrationSteps(modelable, since) {
		if _, err := db.ExecContext(ctx, step.sql); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
	}
	if err := priceEstimated(ctx, db, prices); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `INSERT OR REPLACE INTO lessllm_meta VALUES ('calibration', ?)`, calibrationForm)
	return err
}

// calibrationForm names how calibrate draws its values, kept in
// lessllm_meta: a database whose values were drawn another way (by an
// earlier release) is calibrated whole once.
const calibrationForm = "windows-1"

// calibrationSteps are calibrate's UPDATEs, in order.
func calibrationSteps(modelable string, since *int64) []struct{ name, sql string } {
	return []struct{ name, sql string }{
		{"modeled TTFT/TPOT", strings.Replace(modelTTFT.sql(since, modelTTFTUpdate), "$modelable", modelable, 1)},
		{"Claude token calibration", claudeRatio.sql(since, claudeRatioUpdate)},
		{"network estimate", roundTrip.sql(since, roundTripUpdate)},
	}
}

// window draws each candidate call's value from the k source calls of its
// group that began before it (strictly earlier timestamps), or from the
// group's first k when none did.
type window struct {
	source    string // SELECT g, ts (Unix µs), request_id, and the values, FROM api_calls …
	candidate string // SELECT g, ts, request_id, and what the update needs, FROM api_calls …
	k         int
}

// sql returns the statement update completes: update reads "cand" (the
// candidates, with hi: the rank of the last source in their window) and
// "pick" (cid: a candidate's request_id, and each source row of its
// window). since limits the candidates to those at or after it, and those
// with no source before them in a group with a source at or after it.
func (w window) sql(since *int64, update string) string {
	limit := "TRUE"
	if since != nil {
		limit = fmt.Sprintf(`ts >= %[1]d OR n = 0 AND g IN (SELECT g FROM src WHERE ts >= %[1]d)`, *since)
	}
	return fmt.Sprintf(`WITH src AS (
	SELECT *, row_number() OVER (PARTITION BY g ORDER BY ts, request_id) AS rk FROM (%[1]s)
), upto AS (
	SELECT g, ts, max(rk) AS n FROM src GROUP BY g, ts
), cand AS (
	SELECT *, CASE WHEN n = 0 THEN %[3]d ELSE n END AS hi FROM (
		SELECT c.*, coalesce(u.n, 0) AS n FROM (%[2]s) c ASOF LEFT JOIN upto u ON c.g = u.g AND c.ts > u.ts
	) WHERE %[4]s
), pick AS (
	SELECT c.request_id AS cid, s.* FROM cand c JOIN src s ON s.g = c.g AND s.rk > c.hi - %[3]d AND s.rk <= c.hi
)
%[5]s`, w.source, w.candidate, w.k, limit, update)
}

// utcMicros is a call's start as Unix microseconds.
const utcMicros = `epoch_us("timestamp")`

// modelTTFT gives non-streamed calls a TTFT and TPOT from the 100 streamed
// calls of the same upstream model before them (the latest: latency moves
// with the provider's load), and ttft_source 'modeled' to those it could
// give one: a call of a model with no streamed call yet has NULL for all
// three, and gets them on the run that brings the model's first streamed
// call (the candidates are found again by their endpoint, since their
// ttft_source is NULL by then). TTFT: a least-squares line on prompt
// tokens, used when it explains the data (at least 10 streamed calls,
// R² ≥ 0.5, a slope that is not negative) and evaluated inside the prompt
// lengths it was fit on; otherwise the median TTFT of those streamed
// calls, since prefill time then depends on something other than prompt
// length (load, queueing). Capped at the call's own total latency after
// rounding (capped before, the rounding could put TTFT above the latency
// and TPOT at -0). TPOT: the rest of the call's latency spread over its
// output tokens after the first. README "Metric definitions".
var modelTTFT = window{k: 100,
	source: `SELECT coalesce(upstream_model, model) AS g, ` + utcMicros + ` AS ts, request_id, estimated_ttft_ms AS ttft, actual_prompt_tokens AS prompt
		FROM api_calls WHERE ttft_source = 'measured'`,
	candidate: `SELECT coalesce(upstream_model, model) AS g, ` + utcMicros + ` AS ts, request_id, actual_prompt_tokens, total_latency_ms,
		coalesce(actual_completion_tokens, estimated_completion_tokens) AS out
		FROM api_calls WHERE ttft_source = 'modeled' OR (ttft_source IS NULL AND NOT stream AND status < 400 AND endpoint IN ($modelable))`,
}

const modelTTFTUpdate = `, fit AS (
	SELECT cid, count(*) AS n, regr_intercept(ttft, prompt) AS a, regr_slope(ttft, prompt) AS b, regr_r2(ttft, prompt) AS r2,
		min(prompt) AS lo, max(prompt) AS hi, median(ttft) AS med
	FROM pick GROUP BY cid
), modeled AS (
	SELECT c.request_id, c.total_latency_ms, c.out,
		CASE WHEN f.cid IS NOT NULL THEN least(c.total_latency_ms, round(greatest(0,
			CASE WHEN f.n >= 10 AND f.b >= 0 AND f.r2 >= 0.5 AND c.actual_prompt_tokens IS NOT NULL
				THEN f.a + f.b * least(greatest(c.actual_prompt_tokens, f.lo), f.hi) ELSE f.med END), 3)) END AS ttft
	FROM cand c LEFT JOIN fit f ON f.cid = c.request_id
), new AS (
	SELECT request_id, ttft, CASE WHEN ttft IS NOT NULL THEN 'modeled' END AS source,
		CASE WHEN ttft IS NOT NULL AND out > 1 THEN round((total_latency_ms - ttft) / (out - 1), 3) END AS tpot
	FROM modeled
)
UPDATE api_calls SET estimated_ttft_ms = new.ttft, ttft_source = new.source, estimated_tpot_ms = new.tpot
FROM new WHERE api_calls.request_id = new.request_id
	AND (api_calls.estimated_ttft_ms IS DISTINCT FROM new.ttft OR api_calls.ttft_source IS DISTINCT FROM new.source
		OR api_calls.estimated_tpot_ms IS DISTINCT FROM new.tpot)`

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

// claudeRatio scales the cl100k counts of Claude calls without usage by
// the ratio of actual to cl100k prompt tokens over the 1,000 sampled
// Claude calls that reported usage before them (1.0 while there are none).
var claudeRatio = window{k: 1000,
	source: `SELECT 'claude' AS g, ` + utcMicros + ` AS ts, request_id, actual_prompt_tokens AS actual, tokenizer_prompt_tokens AS counted
		FROM api_calls
		WHERE usage_source = 'api' AND tokenizer_prompt_tokens > 0 AND coalesce(upstream_model, response_model) ILIKE '%claude%'`,
	candidate: `SELECT 'claude' AS g, ` + utcMicros + ` AS ts, request_id, tokenizer_prompt_tokens, tokenizer_completion_tokens
		FROM api_calls WHERE usage_source = 'estimated' AND coalesce(upstream_model, response_model) ILIKE '%claude%'`,
}

const claudeRatioUpdate = `, k AS (
	SELECT cid, sum(actual)::DOUBLE / nullif(sum(counted), 0) AS k FROM pick GROUP BY cid
), new AS (
	SELECT c.request_id, CAST(round(c.tokenizer_prompt_tokens * coalesce(k.k, 1.0)) AS BIGINT) AS prompt,
		CAST(round(c.tokenizer_completion_tokens * coalesce(k.k, 1.0)) AS BIGINT) AS completion
	FROM cand c LEFT JOIN k ON k.cid = c.request_id
)
UPDATE api_calls SET estimated_prompt_tokens = new.prompt, estimated_completion_tokens = new.completion
FROM new WHERE api_calls.request_id = new.request_id
	AND (api_calls.estimated_prompt_tokens IS DISTINCT FROM new.prompt OR api_calls.estimated_completion_tokens IS DISTINCT FROM new.completion)`

// roundTrip splits calls whose API sends no processing time: network is
// the connection set-up this call paid (DNS, connect, TLS) plus one round
// trip, taken as the median TCP connect time of the 100 new connections to
// the same provider over the same route before it; compute is the rest.
var roundTrip = window{k: 100,
	source: `SELECT provider || chr(31) || coalesce(proxy, '') AS g, ` + utcMicros + ` AS ts, request_id, connect_ms
		FROM api_calls WHERE connect_ms IS NOT NULL`,
	candidate: `SELECT provider || chr(31) || coalesce(proxy, '') AS g, ` + utcMicros + ` AS ts, request_id,
		coalesce(dns_ms, 0) + coalesce(connect_ms, 0) + coalesce(tls_ms, 0) AS setup, total_latency_ms
		FROM api_calls WHERE server_processing_ms IS NULL AND status IS NOT NULL`,
}

const roundTripUpdate = `, rtt AS (
	SELECT cid, median(connect_ms) AS rtt FROM pick GROUP BY cid
), new AS (
	SELECT c.request_id, round(c.setup + r.rtt, 3) AS network, round(greatest(0, c.total_latency_ms - (c.setup + r.rtt)), 3) AS compute
	FROM cand c JOIN rtt r ON r.cid = c.request_id
)
UPDATE api_calls SET estimated_network_ms = new.network, estimated_compute_ms = new.compute
FROM new WHERE api_calls.request_id = new.request_id
	AND (api_calls.estimated_network_ms IS DISTINCT FROM new.network OR api_calls.estimated_compute_ms IS DISTINCT FROM new.compute)`

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
		// Only the rows whose cost moved are written.
		_, err := db.ExecContext(ctx, `WITH new AS (
				SELECT request_id, estimated_prompt_tokens * $1 + coalesce(estimated_completion_tokens, 0) * $2 AS cost
				FROM api_calls WHERE usage_source = 'estimated' AND coalesce(upstream_model, response_model) ILIKE '%claude%' AND price_source = $4
			)
			UPDATE api_calls SET estimated_cost_usd = new.cost, estimated_cost_without_cache_usd = new.cost, price_version = $3
			FROM new WHERE api_calls.request_id = new.request_id AND (api_calls.estimated_cost_usd IS DISTINCT FROM new.cost
				OR api_calls.estimated_cost_without_cache_usd IS DISTINCT FROM new.cost OR api_calls.price_version IS DISTINCT FROM $3)`,
			p.Input, p.Output, p.Version, source)
		if err != nil {
			return err
		}
	}
	return nil
}
