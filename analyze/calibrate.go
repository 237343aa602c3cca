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
func calibrate(ctx context.Context, db *sql.DB, prices *pricing.Table, since *int64, changed changedSegments) error {
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
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, c := range calibrations {
		if _, err := c.run(ctx, conn, modelable, since, changed); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	if _, err := conn.ExecContext(ctx, `DROP TABLE IF EXISTS calibrated`); err != nil {
		return err
	}
	if err := priceEstimated(ctx, db, prices, changed); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `INSERT OR REPLACE INTO lessllm_meta VALUES ('calibration', ?)`, calibrationForm)
	return err
}

// calibrationForm names how calibrate draws its values, kept in
// lessllm_meta: a database whose values were drawn another way (by an
// earlier release) is calibrated whole once.
const calibrationForm = "windows-1"

// A calibration pass computes, over a window of other calls, new values
// of some api_calls columns ("new": request_id and those columns).
type calibration struct {
	name string
	window
	new  string
	cols []string
}

// calibrations are calibrate's passes, in order.
var calibrations = []calibration{
	{"modeled TTFT/TPOT", modelTTFT, modelTTFTNew, []string{"estimated_ttft_ms", "ttft_source", "estimated_tpot_ms"}},
	{"Claude token calibration", claudeRatio, claudeRatioNew, []string{"estimated_prompt_tokens", "estimated_completion_tokens"}},
	{"network estimate", roundTrip, roundTripNew, []string{"estimated_network_ms", "estimated_compute_ms"}},
}

// run computes the pass's new values into a temporary table of conn — only
// those that differ from what api_calls holds — then writes them, adding
// the segments of the rows it wrote to changed, and returns how many it
// wrote. (One UPDATE … RETURNING over the window's query took twice the
// time of the two.)
func (c calibration) run(ctx context.Context, conn *sql.Conn, modelable string, since *int64, changed changedSegments) (int64, error) {
	differs := make([]string, len(c.cols))
	set := make([]string, len(c.cols))
	for i, col := range c.cols {
		differs[i] = fmt.Sprintf("a.%[1]s IS DISTINCT FROM n.%[1]s", col)
		set[i] = fmt.Sprintf("%[1]s = n.%[1]s", col)
	}
	compute := strings.Replace(c.sql(since, c.new), "$modelable", modelable, 1) +
		"\nSELECT n.* FROM new n JOIN api_calls a USING (request_id) WHERE " + strings.Join(differs, " OR ")
	if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE calibrated AS `+compute); err != nil {
		return 0, err
	}
	var n int64
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM calibrated`).Scan(&n); err != nil || n == 0 {
		return 0, err
	}
	return n, changed.update(ctx, conn, rowUpdate{set: strings.Join(set, ", "), from: "calibrated n", where: "api_calls.request_id = n.request_id"})
}

// window draws each candidate call's value from the k source calls of its
// group that began before it (strictly earlier timestamps), or from the
// group's first k when none did.
type window struct {
	source    string // SELECT g, ts (Unix µs), request_id, and the values, FROM api_calls …
	candidate string // SELECT g, ts, request_id, and what the update needs, FROM api_calls …
	k         int
}

// sql returns the query tail completes: tail reads "cand" (the
// candidates, with hi: the rank of the last source in their window) and
// "pick" (cid: a candidate's request_id, and each source row of its
// window). since limits the candidates to those at or after it, and those
// with no source before them ("lead") in a group with a source at or after
// it. Sources are ranked only where a window can reach: a group's first k
// (for lead candidates) and, for the others, from the k-th source before
// the earliest of them on — found with top-k heaps, not by sorting every
// source — so a run's cost follows the calls it recomputes.
func (w window) sql(since *int64, tail string) string {
	limit := "TRUE"
	if since != nil {
		limit = fmt.Sprintf(`c.ts >= %[1]d OR (f.first_ts IS NULL OR c.ts <= f.first_ts) AND c.g IN (SELECT g FROM src0 WHERE ts >= %[1]d)`, *since)
	}
	return fmt.Sprintf(`WITH src0 AS (%[1]s
), first AS (
	SELECT g, min(ts) AS first_ts FROM src0 GROUP BY g
), cand0 AS (
	SELECT c.*, f.first_ts IS NULL OR c.ts <= f.first_ts AS lead FROM (%[2]s) c LEFT JOIN first f USING (g) WHERE %[4]s
), kth AS (
	SELECT g, list_max(min(ts, %[3]d)) AS t FROM src0 WHERE g IN (SELECT g FROM cand0 WHERE lead) GROUP BY g
), src_first AS (
	SELECT s.*, row_number() OVER (PARTITION BY s.g ORDER BY s.ts, s.request_id) AS rk FROM src0 s JOIN kth k ON s.g = k.g AND s.ts <= k.t
), lower AS (
	SELECT s.g, CASE WHEN count(*) >= %[3]d THEN list_min(max(s.ts, %[3]d)) END AS t
	FROM src0 s JOIN (SELECT g, min(ts) AS m FROM cand0 WHERE NOT lead GROUP BY g) b ON s.g = b.g AND s.ts < b.m GROUP BY s.g
), src_last AS (
	SELECT s.*, row_number() OVER (PARTITION BY s.g ORDER BY s.ts, s.request_id) AS rk FROM src0 s JOIN lower l ON s.g = l.g AND (l.t IS NULL OR s.ts >= l.t)
), upto AS (
	SELECT g, ts, max(rk) AS n FROM src_last GROUP BY g, ts
), cand AS (
	SELECT *, %[3]d AS hi FROM cand0 WHERE lead
	UNION ALL BY NAME
	SELECT c.*, u.n AS hi FROM cand0 c ASOF JOIN upto u ON c.g = u.g AND c.ts > u.ts WHERE NOT c.lead
), pick AS (
	SELECT c.request_id AS cid, s.* FROM cand c JOIN src_first s ON c.lead AND s.g = c.g AND s.rk <= c.hi
	UNION ALL BY NAME
	SELECT c.request_id AS cid, s.* FROM cand c JOIN src_last s ON NOT c.lead AND s.g = c.g AND s.rk > c.hi - %[3]d AND s.rk <= c.hi
)
%[5]s`, w.source, w.candidate, w.k, limit, tail)
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

const modelTTFTNew = `, fit AS (
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
	SELECT request_id, ttft AS estimated_ttft_ms, CASE WHEN ttft IS NOT NULL THEN 'modeled' END AS ttft_source,
		CASE WHEN ttft IS NOT NULL AND out > 1 THEN round((total_latency_ms - ttft) / (out - 1), 3) END AS estimated_tpot_ms
	FROM modeled
)`

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

const claudeRatioNew = `, k AS (
	SELECT cid, sum(actual)::DOUBLE / nullif(sum(counted), 0) AS k FROM pick GROUP BY cid
), new AS (
	SELECT c.request_id, CAST(round(c.tokenizer_prompt_tokens * coalesce(k.k, 1.0)) AS BIGINT) AS estimated_prompt_tokens,
		CAST(round(c.tokenizer_completion_tokens * coalesce(k.k, 1.0)) AS BIGINT) AS estimated_completion_tokens
	FROM cand c LEFT JOIN k ON k.cid = c.request_id
)`

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

const roundTripNew = `, rtt AS (
	SELECT cid, median(connect_ms) AS rtt FROM pick GROUP BY cid
), new AS (
	SELECT c.request_id, round(c.setup + r.rtt, 3) AS estimated_network_ms,
		round(greatest(0, c.total_latency_ms - (c.setup + r.rtt)), 3) AS estimated_compute_ms
	FROM cand c JOIN rtt r ON r.cid = c.request_id
)`

// priceEstimated prices the calls whose tokens were only known after
// calibration (Claude without usage), at the entry their analysis found
// (price_source).
func priceEstimated(ctx context.Context, db *sql.DB, prices *pricing.Table, changed changedSegments) error {
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
		err := changed.update(ctx, db, rowUpdate{
			with: `WITH new AS (
				SELECT request_id, estimated_prompt_tokens * $1 + coalesce(estimated_completion_tokens, 0) * $2 AS cost
				FROM api_calls WHERE usage_source = 'estimated' AND coalesce(upstream_model, response_model) ILIKE '%claude%' AND price_source = $4
			)`,
			set:  `estimated_cost_usd = new.cost, estimated_cost_without_cache_usd = new.cost, price_version = $3`,
			from: `new`,
			where: `api_calls.request_id = new.request_id AND (api_calls.estimated_cost_usd IS DISTINCT FROM new.cost
				OR api_calls.estimated_cost_without_cache_usd IS DISTINCT FROM new.cost OR api_calls.price_version IS DISTINCT FROM $3)`,
		}, p.Input, p.Output, p.Version, source)
		if err != nil {
			return err
		}
	}
	return nil
}
