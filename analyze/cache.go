package analyze

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/analyze/promptcache"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire"
)

// Prompt-cache analysis (README "Prompt cache analysis").
//
// Each call's prompt is fingerprinted while its segment is analysed (in
// parallel, like every other column) and the fingerprint is kept in table
// cache_prompts: hashes of its prefixes every 16 tokens and at every block
// end, never its text. After each run the cache is replayed, in time order
// per scope, over the scopes the run touched (replayCache), so a segment
// that arrives late (another node, a re-shipped copy) still lands in order
// and an incremental run gives exactly what one full run gives. The replay
// fills api_calls.estimated_cached_tokens / estimated_cache_hit_rate,
// table cache_predictions (writes, reasons, cost if every predicted hit
// happened) and table cache_opportunities.

const cacheDDL = `
CREATE TABLE IF NOT EXISTS cache_prompts (
	request_id VARCHAR, segment VARCHAR, kind VARCHAR, scope VARCHAR, provider VARCHAR, model VARCHAR,
	key_fingerprint VARCHAR, at_us BIGINT, usable_us BIGINT, retention VARCHAR, explicit_only BOOLEAN,
	tokens INTEGER, family UBIGINT, cuts BLOB, hashes BLOB, block_ends BLOB, breakpoints BLOB);`

// cacheAccuracyDDL makes the model's quality visible: per provider and
// model, predicted vs actual hit rate, the mean absolute error, and the
// share of calls where prediction and API disagree by more than 128 tokens.
const cacheAccuracyDDL = `
CREATE OR REPLACE VIEW cache_accuracy AS
SELECT provider, coalesce(upstream_model, model) AS model, count(*) AS calls,
	avg(estimated_cache_hit_rate) AS predicted_hit_rate,
	avg(actual_cache_hit_rate) AS actual_hit_rate,
	avg(abs(estimated_cached_tokens - actual_cached_tokens)) AS mean_abs_error_tokens,
	avg(abs(estimated_cache_hit_rate - actual_cache_hit_rate)) AS mean_abs_error_hit_rate,
	avg(CASE WHEN abs(estimated_cached_tokens - actual_cached_tokens) > 128 THEN 1.0 ELSE 0.0 END) AS share_off_by_more_than_128
FROM api_calls
WHERE estimated_cached_tokens IS NOT NULL AND actual_cached_tokens IS NOT NULL
GROUP BY 1, 2;`

// cacheViewsDDL needs cache_predictions, which the first replay creates.
const cacheViewsDDL = `
CREATE OR REPLACE VIEW cache_cost AS
SELECT c.provider, coalesce(c.upstream_model, c.model) AS model, count(*) AS calls,
	sum(c.estimated_cost_usd) AS cost_paid_usd,
	sum(c.estimated_cost_without_cache_usd) AS cost_without_cache_usd,
	sum(p.estimated_cost_predicted_cache_usd) AS cost_if_predicted_hits_usd
FROM api_calls c LEFT JOIN cache_predictions p USING (request_id)
WHERE c.estimated_cost_usd IS NOT NULL
GROUP BY 1, 2;`

// promptRow is one row of cache_prompts.
type promptRow struct {
	RequestID      string `parquet:"request_id"`
	Segment        string `parquet:"segment,dict"`
	Kind           string `parquet:"kind,dict"`
	Scope          string `parquet:"scope,dict"`
	Provider       string `parquet:"provider,dict"`
	Model          string `parquet:"model,dict"`
	KeyFingerprint string `parquet:"key_fingerprint,dict"`
	AtUS           int64  `parquet:"at_us"`
	UsableUS       int64  `parquet:"usable_us"`
	Retention      string `parquet:"retention,dict"`
	ExplicitOnly   bool   `parquet:"explicit_only"`
	Tokens         int32  `parquet:"tokens"`
	Family         uint64 `parquet:"family"`
	Cuts           []byte `parquet:"cuts"`
	Hashes         []byte `parquet:"hashes"`
	BlockEnds      []byte `parquet:"block_ends"`
	Breakpoints    []byte `parquet:"breakpoints"`
}

// cacheKinds are the endpoints the cache model reads.
var cacheKinds = map[wire.Kind]bool{wire.KindOpenAIChat: true, wire.KindOpenAIResponses: true, wire.KindAnthropicMessages: true,
	wire.KindGeminiGenerate: true, // only with rules from cache: providers: (params.json has none)
	wire.KindBedrockInvoke:  true, wire.KindBedrockConverse: true}

// encoders are the offline tokenizers wrapped for fingerprinting, by BPE name.
var encoders sync.Map

func encoderFor(model string) *promptcache.Encoder {
	name := encodingFor(model)
	if e, ok := encoders.Load(name); ok {
		return e.(*promptcache.Encoder)
	}
	enc := encoding(name)
	e, _ := encoders.LoadOrStore(name, promptcache.NewEncoder(func(s string) []int { return encodeBounded(enc, s) }))
	return e.(*promptcache.Encoder)
}

// fingerprint returns the cache_prompts row of a call, or false when the
// cache model does not apply (no provider rules, not a prompt, refused).
func (x *extractor) fingerprint(ex *format.Exchange, c *Call) (promptRow, bool) {
	kind := wire.KindOf(upstreamPath(ex))
	if !cacheKinds[kind] || c.Status == nil || *c.Status >= 400 || ex.Request.JSON == nil {
		return promptRow{}, false
	}
	model := deref(c.UpstreamModel)
	provider := c.Provider
	rules, ok := x.cache.Lookup(provider, model)
	if !ok && ex.Route != nil {
		// A provider configured under a name of the user's whose API the
		// rules know by its host (an Azure OpenAI resource: "azure"),
		// modelled with those rules — unless cache: providers: names it.
		if p := pricing.ProviderOf(ex.Route.URL); p != "" {
			provider = p
			rules, ok = x.cache.Lookup(provider, model)
		}
	}
	if !ok && kind.Dialect() == wire.Bedrock {
		// Bedrock Runtime, whatever the provider's name: "bedrock"'s rules.
		provider = string(wire.Bedrock)
		rules, ok = x.cache.Lookup(provider, model)
	}
	if !ok {
		return promptRow{}, false
	}
	usable := ex.StartNS
	if c.EstimatedTTFTMs != nil && deref(c.TTFTSource) == "measured" {
		usable += int64(*c.EstimatedTTFTMs * 1e6)
	} else if c.TTFBMs != nil {
		usable += int64(*c.TTFBMs * 1e6)
	}
	key := deref(c.APIKeyFingerprint)
	row := promptRow{
		RequestID: c.RequestID, Segment: c.Segment, Kind: kind.String(), Provider: provider, Model: model, KeyFingerprint: key,
		Scope: strings.Join([]string{provider, key, model, ""}, "\x1f"),
		AtUS:  ex.StartNS / 1e3, UsableUS: usable / 1e3,
	}
	// A BPE token is at least one byte, so a body with fewer bytes than the
	// model's minimum cacheable tokens cannot be cached: predicted 0
	// without parsing or tokenising it.
	body := upstreamBody(ex)
	if len(body) < rules.MinTokens {
		return row, true
	}
	req, ok := promptcache.Parse(kind, body)
	if !ok {
		return promptRow{}, false
	}
	row.Scope = strings.Join([]string{provider, key, model, req.CacheKey}, "\x1f")
	row.Retention, row.ExplicitOnly = req.Retention, req.ExplicitOnly
	fp := encoderFor(model).Fingerprint(req)
	row.Tokens, row.Family = fp.Tokens, fp.Family
	row.Cuts = appendInt32s(nil, fp.Cuts)
	row.Hashes = make([]byte, 0, 8*len(fp.Hashes))
	for _, h := range fp.Hashes {
		row.Hashes = binary.LittleEndian.AppendUint64(row.Hashes, h)
	}
	row.BlockEnds = appendInt32s(nil, fp.BlockEnds)
	for _, b := range fp.Breakpoints {
		row.Breakpoints = binary.LittleEndian.AppendUint32(row.Breakpoints, uint32(b.Token))
		row.Breakpoints = binary.LittleEndian.AppendUint32(row.Breakpoints, uint32(b.TTL/time.Second))
	}
	return row, true
}

func upstreamPath(ex *format.Exchange) string {
	if ex.Upstream != nil {
		return ex.Upstream.Path
	}
	return ex.Request.Path
}

func appendInt32s(dst []byte, v []int32) []byte {
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(x))
	}
	return dst
}

func int32s(b []byte) []int32 {
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// fingerprintOf decodes a cache_prompts row's prefix hashes.
func fingerprintOf(tokens int32, family uint64, cuts, hashes, blockEnds, bps []byte) *promptcache.Fingerprint {
	if tokens == 0 {
		return nil
	}
	fp := &promptcache.Fingerprint{Tokens: tokens, Family: family, Cuts: int32s(cuts), BlockEnds: int32s(blockEnds)}
	fp.Hashes = make([]uint64, len(hashes)/8)
	for i := range fp.Hashes {
		fp.Hashes[i] = binary.LittleEndian.Uint64(hashes[8*i:])
	}
	for i := 0; i+8 <= len(bps); i += 8 {
		fp.Breakpoints = append(fp.Breakpoints, promptcache.Breakpoint{
			Token: int32(binary.LittleEndian.Uint32(bps[i:])), TTL: time.Duration(binary.LittleEndian.Uint32(bps[i+4:])) * time.Second})
	}
	return fp
}

// writeTemp writes rows to a Parquet file for DuckDB to load, returning
// its path (the caller removes it).
func writeTemp[T any](dir, pattern string, rows []T) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	w := parquet.NewGenericWriter[T](f)
	if _, err := w.Write(rows); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := w.Close(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

// predictionRow is one row of cache_predictions.
type predictionRow struct {
	RequestID                      string   `parquet:"request_id"`
	EstimatedCachedTokens          int64    `parquet:"estimated_cached_tokens"`
	EstimatedCacheWriteTokens      int64    `parquet:"estimated_cache_write_tokens"`
	EstimatedCacheHitRate          *float64 `parquet:"estimated_cache_hit_rate,optional"`
	MissReason                     *string  `parquet:"miss_reason,optional"`
	Family                         *string  `parquet:"family,optional"`
	EstimatedCostPredictedCacheUSD *float64 `parquet:"estimated_cost_predicted_cache_usd,optional"`
}

// opportunityRow is one row of cache_opportunities.
type opportunityRow struct {
	Family               string   `parquet:"family"`
	Provider             string   `parquet:"provider"`
	Model                string   `parquet:"model"`
	APIKeyFingerprint    string   `parquet:"api_key_fingerprint"`
	Calls                int64    `parquet:"calls"`
	Days                 int64    `parquet:"days"`
	FirstSeen            int64    `parquet:"first_seen,timestamp(microsecond:utc)"`
	LastSeen             int64    `parquet:"last_seen,timestamp(microsecond:utc)"`
	AvgPromptTokens      float64  `parquet:"avg_prompt_tokens"`
	RepeatedPrefixTokens int64    `parquet:"repeated_prefix_tokens"`
	SharedPrefixTokens   int64    `parquet:"shared_prefix_tokens"`
	ActualHitRate        *float64 `parquet:"actual_hit_rate,optional"`
	PredictedHitRate     float64  `parquet:"predicted_hit_rate"`
	Reason               string   `parquet:"reason"`
	DivergenceToken      *int64   `parquet:"divergence_token,optional"`
	DivergenceExcerpt    *string  `parquet:"divergence_excerpt,optional"`
	LostTokens           int64    `parquet:"lost_tokens"`
	SavingUSD            *float64 `parquet:"saving_usd,optional"`
	SavingUSDPerDay      *float64 `parquet:"saving_usd_per_day,optional"`
	Advice               string   `parquet:"advice"`
	ExampleRequestID     string   `parquet:"example_request_id"`
}

// replayCache runs the cache model, writes its results and returns how
// many calls it replayed. A prediction depends only on the calls of its own
// scope and on the Params learned from the whole database
// (promptcache.Params), so after a run that added segments only the scopes
// those segments touch are replayed — and every scope of a model whose
// Params moved — with the Params of the whole database: exactly what a
// replay of everything gives, for a fraction of the work (BENCHMARKS.md
// 5b). Everything is replayed when asked (full), when the rules or prices
// differ from the last replay's, on the first replay of a database, and
// when calls have left the database (a segment replaced by a shorter copy).
func replayCache(ctx context.Context, db *sql.DB, rules *promptcache.Table, prices *pricing.Table, scratch string, segments []string, full bool) (int, error) {
	params, err := cacheParams(ctx, db, rules)
	if err != nil {
		return 0, err
	}
	state := cacheState{Digest: rules.Digest() + "|" + prices.Digest(), Params: params}
	where := "" // which cache_prompts rows p to replay; "": all
	if !full {
		if scopes, ok := touchedScopes(ctx, db, state, segments); ok {
			where = scopes
		}
	}
	selected := where
	if selected == "" {
		selected = "TRUE"
	}
	rows, err := db.QueryContext(ctx, `SELECT p.request_id, p.scope, p.provider, p.model, p.key_fingerprint, p.kind, p.at_us, p.usable_us,
		p.retention, p.explicit_only, p.tokens, p.family, p.cuts, p.hashes, p.block_ends, p.breakpoints,
		coalesce(c.actual_prompt_tokens, 0), coalesce(c.actual_cached_tokens, -1),
		coalesce(c.actual_completion_tokens, c.estimated_completion_tokens, 0), coalesce(c.price_source, '')
		FROM cache_prompts p JOIN api_calls c USING (request_id) WHERE `+selected)
	if err != nil {
		return 0, err
	}
	var calls []promptcache.Call
	var keys, kinds, sources []string
	var completions []int64
	for rows.Next() {
		var c promptcache.Call
		var key, kind, source string
		var at, usable, completion int64
		var tokens int32
		var family uint64
		var cuts, hashes, blockEnds, bps []byte
		if err := rows.Scan(&c.ID, &c.Scope, &c.Provider, &c.Model, &key, &kind, &at, &usable, &c.Retention, &c.ExplicitOnly,
			&tokens, &family, &cuts, &hashes, &blockEnds, &bps, &c.ActualPrompt, &c.ActualCached, &completion, &source); err != nil {
			rows.Close()
			return 0, err
		}
		c.At, c.Usable = time.UnixMicro(at), time.UnixMicro(usable)
		c.FP = fingerprintOf(tokens, family, cuts, hashes, blockEnds, bps)
		calls = append(calls, c)
		keys, kinds, completions, sources = append(keys, key), append(kinds, kind), append(completions, completion), append(sources, source)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	preds := promptcache.ReplayWith(rules, calls, params)

	// A call is priced at the entry its analysis found (price_source), so
	// that one call has one price everywhere; one lookup per entry, not per
	// call (a million of them cost a second).
	type priced struct {
		pricing.Match
		ok bool
	}
	priceOf := map[string]priced{}
	lookup := func(source string) (pricing.Match, bool) {
		p, seen := priceOf[source]
		if !seen {
			p.Match, p.ok = prices.Entry(source)
			priceOf[source] = p
		}
		return p.Match, p.ok
	}
	sourceOfModel := map[string]string{} // a family's model → its calls' entry, for the advice's savings
	for i := range calls {
		if _, seen := sourceOfModel[calls[i].Model]; !seen && sources[i] != "" {
			sourceOfModel[calls[i].Model] = sources[i]
		}
	}
	out := make([]predictionRow, 0, len(calls))
	for i, p := range preds {
		if !p.Modelled {
			continue
		}
		r := predictionRow{RequestID: calls[i].ID, EstimatedCachedTokens: p.Cached, EstimatedCacheWriteTokens: p.Written5m + p.Written1h}
		if hr := p.HitRate(); !math.IsNaN(hr) {
			r.EstimatedCacheHitRate = &hr
		}
		if p.Miss != "" {
			r.MissReason = &p.Miss
		}
		if fp := calls[i].FP; fp != nil {
			r.Family = ptr(promptcache.FamilyID(calls[i].Scope, fp.Family))
		}
		if price, ok := lookup(sources[i]); ok {
			cost, _ := price.Cost(pricing.Tokens{Prompt: p.Prompt, Completion: completions[i], CachedRead: p.Cached,
				CacheWrite5m: p.Written5m, CacheWrite1h: p.Written1h})
			r.EstimatedCostPredictedCacheUSD = &cost
		}
		out = append(out, r)
	}
	keyOf := map[string]string{}
	kindOf := map[string]wire.Kind{}
	for i := range calls {
		keyOf[calls[i].ID], kindOf[calls[i].ID] = keys[i], wire.KindNamed(kinds[i])
	}
	opps := promptcache.Opportunities(rules, calls, preds, promptcache.Sources{
		Requests: func(ids []string) map[string]*promptcache.Request { return requestsByID(ctx, db, ids, kindOf) },
		Tokens:   func(model, s string) int { return int(countText(encoding(encodingFor(model)), s)) },
		Price: func(model string) (pricing.Price, bool) {
			m, ok := lookup(sourceOfModel[model])
			return m.Price, ok
		},
		KeyOf: func(c *promptcache.Call) string { return keyOf[c.ID] },
	})
	oppRows := make([]opportunityRow, len(opps))
	for i, o := range opps {
		oppRows[i] = opportunityRow{Family: o.Family, Provider: o.Provider, Model: o.Model, APIKeyFingerprint: o.KeyFingerprint,
			Calls: int64(o.Calls), Days: int64(o.Days), FirstSeen: o.FirstSeen.UnixMicro(), LastSeen: o.LastSeen.UnixMicro(),
			AvgPromptTokens: math.Round(o.AvgPromptTokens*10) / 10, RepeatedPrefixTokens: o.RepeatedPrefixTokens,
			SharedPrefixTokens: o.SharedPrefixTokens, ActualHitRate: o.ActualHitRate, PredictedHitRate: o.PredictedHitRate,
			Reason: o.Reason, DivergenceToken: o.DivergenceToken, LostTokens: o.LostTokens, SavingUSD: o.SavingUSD,
			SavingUSDPerDay: o.SavingUSDPerDay, Advice: o.Advice, ExampleRequestID: o.ExampleRequestID}
		if o.DivergenceExcerpt != "" {
			oppRows[i].DivergenceExcerpt = &o.DivergenceExcerpt
		}
	}
	if err := writeCacheResults(ctx, db, scratch, where, out, oppRows); err != nil {
		return 0, err
	}
	b, err := json.Marshal(state)
	if err != nil {
		return 0, err
	}
	_, err = db.ExecContext(ctx, `INSERT OR REPLACE INTO lessllm_meta VALUES ('cache_state', ?)`, string(b))
	return len(calls), err
}

// cacheState is what a replay depended on beyond the calls, kept in
// lessllm_meta so that the next run can tell what it must replay again.
type cacheState struct {
	Digest string // the rules and prices
	Params promptcache.Params
}

// cacheParams learns promptcache.Params from the whole database in SQL,
// as promptcache.ParamsOf does from the calls (the same filters, the same
// arithmetic: the median is the element at len/2 of the sorted ratios),
// without reading a million fingerprints into Go.
func cacheParams(ctx context.Context, db *sql.DB, rules *promptcache.Table) (promptcache.Params, error) {
	p := promptcache.Params{Steps: map[string]int{}, Scales: map[string]float64{}}
	rows, err := db.QueryContext(ctx, `SELECT p.provider, p.model,
			list(DISTINCT c.actual_cached_tokens) FILTER (WHERE c.actual_cached_tokens > 0),
			list_extract(list_sort(list(c.actual_prompt_tokens::DOUBLE / p.tokens::DOUBLE) FILTER (WHERE p.tokens > 0 AND c.actual_prompt_tokens > 0)),
				count(*) FILTER (WHERE p.tokens > 0 AND c.actual_prompt_tokens > 0) // 2 + 1)
		FROM cache_prompts p JOIN api_calls c USING (request_id) GROUP BY 1, 2`)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	for rows.Next() {
		var provider, model string
		var cached any
		var scale sql.NullFloat64
		if err := rows.Scan(&provider, &model, &cached, &scale); err != nil {
			return p, err
		}
		var counts []int64
		if list, ok := cached.([]any); ok {
			for _, v := range list {
				if n, ok := v.(int64); ok {
					counts = append(counts, n)
				}
			}
		}
		k := provider + "\x00" + model
		p.Steps[k] = promptcache.LearnStep(rules, provider, model, counts)
		if scale.Valid {
			p.Scales[k] = scale.Float64
		}
	}
	return p, rows.Err()
}

// touchedScopes is the SQL condition on cache_prompts p that selects what
// an incremental replay must cover: the scopes of the segments loaded in
// this run, and every scope of a model whose Params moved. It is false
// when everything must be replayed.
func touchedScopes(ctx context.Context, db *sql.DB, now cacheState, segments []string) (string, bool) {
	var raw string
	if db.QueryRowContext(ctx, `SELECT value FROM lessllm_meta WHERE key = 'cache_state'`).Scan(&raw) != nil {
		return "", false
	}
	var last cacheState
	if json.Unmarshal([]byte(raw), &last) != nil || last.Digest != now.Digest {
		return "", false
	}
	// Calls whose prediction outlived them: their families' rows cannot be
	// found by scope any more.
	var vanished int64
	if db.QueryRowContext(ctx, `SELECT count(*) FROM cache_predictions WHERE request_id NOT IN (SELECT request_id FROM cache_prompts)`).Scan(&vanished) != nil || vanished > 0 {
		return "", false
	}
	var conds []string
	if len(segments) > 0 {
		list := make([]string, len(segments))
		for i, s := range segments {
			list[i] = quote(s)
		}
		conds = append(conds, `p.scope IN (SELECT scope FROM cache_prompts WHERE segment IN (`+strings.Join(list, ", ")+`))`)
	}
	for _, k := range slices.Sorted(maps.Keys(now.Params.Steps)) {
		ls, lok := last.Params.Steps[k]
		lsc, lscok := last.Params.Scales[k]
		sc, scok := now.Params.Scales[k]
		if !lok || ls != now.Params.Steps[k] || lscok != scok || lsc != sc {
			provider, model, _ := strings.Cut(k, "\x00")
			conds = append(conds, fmt.Sprintf(`(p.provider = %s AND p.model = %s)`, quote(provider), quote(model)))
		}
	}
	if len(conds) == 0 {
		return "FALSE", true
	}
	return "(" + strings.Join(conds, " OR ") + ")", true
}

// writeCacheResults stores a replay's results in one transaction. With
// where "" (a replay of everything) it replaces cache_predictions and
// cache_opportunities; otherwise it replaces the results of the replayed
// calls (those where selects in cache_prompts p) and of their families,
// and the rest stays as the last replay wrote it. Either way it copies the
// new predictions into api_calls.
func writeCacheResults(ctx context.Context, db *sql.DB, scratch, where string, preds []predictionRow, opps []opportunityRow) error {
	predFile, err := writeTemp(scratch, ".cache_predictions-*.parquet", preds)
	if err != nil {
		return err
	}
	defer os.Remove(predFile)
	oppFile, err := writeTemp(scratch, ".cache_opportunities-*.parquet", opps)
	if err != nil {
		return err
	}
	defer os.Remove(oppFile)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	const ordered = ` ORDER BY saving_usd_per_day DESC NULLS LAST, family`
	copyToCalls := `UPDATE api_calls SET estimated_cached_tokens = p.estimated_cached_tokens, estimated_cache_hit_rate = round(p.estimated_cache_hit_rate, 6)
		FROM read_parquet(` + quote(predFile) + `) p WHERE api_calls.request_id = p.request_id`
	steps := []string{
		`CREATE OR REPLACE TABLE cache_predictions AS SELECT * FROM read_parquet(` + quote(predFile) + `)`,
		`CREATE OR REPLACE TABLE cache_opportunities AS SELECT * FROM read_parquet(` + quote(oppFile) + `)` + ordered,
		copyToCalls,
		cacheViewsDDL,
	}
	if where != "" {
		replayed := `(SELECT request_id FROM cache_prompts p WHERE ` + where + `)`
		steps = []string{
			// A family lives in one scope: the replayed scopes' families
			// are replaced whole (new ones are in the file; none vanish).
			`DELETE FROM cache_opportunities WHERE family IN (SELECT family FROM cache_predictions WHERE request_id IN ` + replayed + `)`,
			`DELETE FROM cache_predictions WHERE request_id IN ` + replayed,
			`INSERT INTO cache_predictions SELECT * FROM read_parquet(` + quote(predFile) + `)`,
			`INSERT INTO cache_opportunities SELECT * FROM read_parquet(` + quote(oppFile) + `)`,
			`CREATE OR REPLACE TABLE cache_opportunities AS SELECT * FROM cache_opportunities` + ordered,
			copyToCalls,
		}
	}
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("cache results: %w", err)
		}
	}
	return tx.Commit()
}

// clearCacheResults empties what the cache model wrote, for a run with
// the model off.
func clearCacheResults(ctx context.Context, db *sql.DB, scratch string) error {
	if err := writeCacheResults(ctx, db, scratch, "", nil, nil); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, `UPDATE api_calls SET estimated_cached_tokens = NULL, estimated_cache_hit_rate = NULL
		WHERE estimated_cached_tokens IS NOT NULL OR estimated_cache_hit_rate IS NOT NULL`)
	return err
}

// switchCacheModel records whether the cache model is on for this
// database and reports whether that changed since the last run (then the
// whole-database passes run even with no new segment, so turning the
// model off or on takes effect at once). A new database counts as on.
func switchCacheModel(ctx context.Context, db *sql.DB, on bool) (bool, error) {
	want := "on"
	if !on {
		want = "off"
	}
	var was string
	err := db.QueryRowContext(ctx, `SELECT value FROM lessllm_meta WHERE key = 'cache_model'`).Scan(&was)
	if errors.Is(err, sql.ErrNoRows) {
		was = "on"
	} else if err != nil {
		return false, err
	}
	if _, err := db.ExecContext(ctx, `INSERT OR REPLACE INTO lessllm_meta VALUES ('cache_model', ?)`, want); err != nil {
		return false, err
	}
	return was != want, nil
}

// requestsByID reads and canonicalises the request bodies of a few calls.
func requestsByID(ctx context.Context, db *sql.DB, ids []string, kindOf map[string]wire.Kind) map[string]*promptcache.Request {
	out := map[string]*promptcache.Request{}
	if len(ids) == 0 {
		return out
	}
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = quote(id)
	}
	// request_json is the client's body; for a translated call that is the
	// other dialect's shape, read as the upstream's: the texts and their
	// order, which is all an excerpt shows, are the same.
	rows, err := db.QueryContext(ctx, `SELECT request_id, CAST(request_json AS VARCHAR) FROM api_calls WHERE request_id IN (`+strings.Join(list, ",")+`)`)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var body sql.NullString
		if rows.Scan(&id, &body) != nil || !body.Valid {
			continue
		}
		if r, ok := promptcache.Parse(kindOf[id], []byte(body.String)); ok {
			out[id] = r
		}
	}
	return out
}
