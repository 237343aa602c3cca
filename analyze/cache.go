package analyze

import (
	"cmp"
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
	tokens INTEGER, family UBIGINT, cuts BLOB, hashes BLOB, block_ends BLOB, breakpoints BLOB);
CREATE TABLE IF NOT EXISTS cache_predictions (
	request_id VARCHAR, estimated_cached_tokens BIGINT, estimated_cache_write_tokens BIGINT, estimated_cache_hit_rate DOUBLE,
	miss_reason VARCHAR, family VARCHAR, estimated_cost_predicted_cache_usd DOUBLE);
CREATE TABLE IF NOT EXISTS cache_opportunities (
	family VARCHAR, provider VARCHAR, model VARCHAR, api_key_fingerprint VARCHAR, calls BIGINT, days BIGINT,
	first_seen TIMESTAMP WITH TIME ZONE, last_seen TIMESTAMP WITH TIME ZONE, avg_prompt_tokens DOUBLE,
	repeated_prefix_tokens BIGINT, shared_prefix_tokens BIGINT, actual_hit_rate DOUBLE, predicted_hit_rate DOUBLE,
	reason VARCHAR, divergence_token BIGINT, divergence_excerpt VARCHAR, lost_tokens BIGINT, saving_usd DOUBLE,
	saving_usd_per_day DOUBLE, advice VARCHAR, example_request_id VARCHAR);
CREATE TABLE IF NOT EXISTS cache_family_calls (
	family VARCHAR, provider VARCHAR, model VARCHAR, key_fingerprint VARCHAR, request_id VARCHAR, at_us BIGINT,
	tokens INTEGER, api_prompt BIGINT, prompt BIGINT, cached BIGINT, expired BOOLEAN, reported BOOLEAN,
	actual_prompt BIGINT, actual_cached BIGINT, follows BOOLEAN, gap_us BIGINT, shared BIGINT,
	breakpoints BOOLEAN, breakpoint_early BOOLEAN);
CREATE TABLE IF NOT EXISTS cache_checkpoints (
	scope VARCHAR, at_us BIGINT, request_id VARCHAR, calls BIGINT, state BLOB);`

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

// cacheCostDDL is the view of what the cache saves and could save.
const cacheCostDDL = `
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
	w, err := newTempWriter[T](dir, pattern)
	if err != nil {
		return "", err
	}
	if _, err := w.w.Write(rows); err != nil {
		w.remove()
		return "", err
	}
	return w.close()
}

// tempWriter streams rows into a temporary Parquet file for DuckDB to load.
type tempWriter[T any] struct {
	f   *os.File
	w   *parquet.GenericWriter[T]
	buf []T
}

func newTempWriter[T any](dir, pattern string, opts ...parquet.WriterOption) (*tempWriter[T], error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &tempWriter[T]{f: f, w: parquet.NewGenericWriter[T](f, opts...)}, nil
}

// Write adds a row (written in batches).
func (t *tempWriter[T]) Write(row T) error {
	if t.buf = append(t.buf, row); len(t.buf) < 4096 {
		return nil
	}
	return t.flush()
}

// WriteRows adds rows at once, in the writer's batch (not mixed with Write).
func (t *tempWriter[T]) WriteRows(rows []T) error {
	_, err := t.w.Write(rows)
	return err
}

func (t *tempWriter[T]) flush() error {
	_, err := t.w.Write(t.buf)
	t.buf = t.buf[:0]
	return err
}

// close finishes the file and returns its path.
func (t *tempWriter[T]) close() (string, error) {
	if err := t.flush(); err != nil {
		return "", err
	}
	if err := t.w.Close(); err != nil {
		return "", err
	}
	return t.f.Name(), t.f.Close()
}

// remove deletes the file (after close, or instead of it).
func (t *tempWriter[T]) remove() {
	t.f.Close()
	os.Remove(t.f.Name())
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
// 5b). A large scope is not replayed from its start either: each replay
// leaves a checkpoint of its cache (table cache_checkpoints) a while
// before its last call (checkpointLag), and the next replay starts there
// when the calls before it are still exactly the ones it held. Everything
// is replayed when asked (full), when the rules or prices differ from the
// last replay's, on the first replay of a database, and when calls have
// left the database (a segment replaced by a shorter copy).
//
// The calls stream from DuckDB in replay order and their results stream
// to temporary Parquet files: a replay holds one scope's cache and each
// family's latest call, never every fingerprint (a million calls with a
// long system prompt are gigabytes of them).
func replayCache(ctx context.Context, db *sql.DB, rules *promptcache.Table, prices *pricing.Table, scratch string, segments []string, full bool, changed changedSegments) (int, error) {
	digest := replayFormat + "|" + rules.Digest() + "|" + prices.Digest()
	last := lastCacheState(ctx, db)
	if full || last == nil || last.Digest != digest {
		last = nil
	}
	var lastParams *promptcache.Params
	if last != nil {
		lastParams = &last.Params
	}
	params, err := cacheParams(ctx, db, rules, lastParams, segments)
	if err != nil {
		return 0, err
	}
	state := cacheState{Digest: digest, Params: params}
	plan := replayPlan{}
	if last != nil {
		if plan, err = planReplay(ctx, db, last, state, segments); err != nil {
			return 0, err
		}
	}
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
	res, err := replayStream(ctx, db, rules, params, plan, scratch, lookup)
	defer res.remove()
	if err != nil {
		return 0, err
	}
	res.partial, res.families = !plan.all(), &familyPass{rules: rules, scratch: scratch, lookup: lookup}
	if err := writeCacheResults(ctx, db, res, changed); err != nil {
		return 0, err
	}
	b, err := json.Marshal(state)
	if err != nil {
		return 0, err
	}
	_, err = db.ExecContext(ctx, `INSERT OR REPLACE INTO lessllm_meta VALUES ('cache_state', ?)`, string(b))
	return res.replayed, err
}

// A replay leaves each scope of at least checkpointMinCalls calls a
// checkpoint before its calls of the last checkpointLag: calls that
// complete up to that late (a long stream, a growing segment read again)
// land after it, and a later run starts there; a call older than the
// checkpoint sends its scope back to a replay from the start.
const (
	checkpointLag      = 10 * time.Minute
	checkpointMinCalls = 1000
)

// replayColumns select, from cache_prompts p JOIN api_calls c, what
// scanReplayCall reads.
const replayColumns = `p.request_id, p.scope, p.provider, p.model, p.key_fingerprint, p.kind, p.at_us, p.usable_us,
	p.retention, p.explicit_only, p.tokens, p.family, p.cuts, p.hashes, p.block_ends, p.breakpoints,
	coalesce(c.actual_prompt_tokens, 0), coalesce(c.actual_cached_tokens, -1),
	coalesce(c.actual_completion_tokens, c.estimated_completion_tokens, 0), coalesce(c.price_source, '')`

// replayCall is a call as the replay reads it, with what its results need
// beside promptcache.Call.
type replayCall struct {
	promptcache.Call
	key, kind, source string
	completion        int64
}

func scanReplayCall(rows *sql.Rows, extra ...any) (*replayCall, error) {
	c := &replayCall{}
	var at, usable int64
	var tokens int32
	var family uint64
	var cuts, hashes, blockEnds, bps []byte
	dest := append([]any{&c.ID, &c.Scope, &c.Provider, &c.Model, &c.key, &c.kind, &at, &usable, &c.Retention, &c.ExplicitOnly,
		&tokens, &family, &cuts, &hashes, &blockEnds, &bps, &c.ActualPrompt, &c.ActualCached, &c.completion, &c.source}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return nil, err
	}
	c.At, c.Usable = time.UnixMicro(at), time.UnixMicro(usable)
	c.FP = fingerprintOf(tokens, family, cuts, hashes, blockEnds, bps)
	return c, nil
}

// replaySource is the FROM and WHERE of the calls a plan replays: those
// where selects, and of a scope with a checkpoint only those from it on.
func replaySource(where string, from map[string]*promptcache.Checkpoint) string {
	q := ` FROM cache_prompts p JOIN api_calls c USING (request_id)`
	if len(from) > 0 {
		q += ` LEFT JOIN (VALUES ` + checkpointValues(from) + `) r(r_scope, r_at, r_id) ON p.scope = r.r_scope`
		where = `(` + where + `) AND (r.r_scope IS NULL OR p.at_us > r.r_at OR p.at_us = r.r_at AND p.request_id >= r.r_id)`
	}
	return q + ` WHERE ` + where
}

// checkpointValues lists checkpoints as SQL VALUES rows (scope, at_us, request_id).
func checkpointValues(from map[string]*promptcache.Checkpoint) string {
	rows := make([]string, 0, len(from))
	for _, scope := range slices.Sorted(maps.Keys(from)) {
		k := from[scope]
		rows = append(rows, fmt.Sprintf("(%s, %d, %s)", quote(scope), k.At.UnixMicro(), quote(k.ID)))
	}
	return strings.Join(rows, ", ")
}

// replayStream replays the calls plan selects as DuckDB hands them over in
// replay order, writing predictions, family members and the replayed ids to
// temporary Parquet files as it goes.
func replayStream(ctx context.Context, db *sql.DB, rules *promptcache.Table, params promptcache.Params, plan replayPlan, scratch string,
	lookup func(string) (pricing.Match, bool)) (*cacheResults, error) {
	res, err := newCacheResults(scratch)
	if err != nil {
		return res, err
	}
	where := plan.where()
	if plan.since > 0 {
		// A literal on each table's own column, which DuckDB compares
		// with the min/max it keeps per row group.
		where = fmt.Sprintf(`%s AND p.at_us >= %d AND c."timestamp" >= '%s'::TIMESTAMPTZ`, where, plan.since,
			time.UnixMicro(plan.since).UTC().Format("2006-01-02 15:04:05.000000+00"))
	}
	source := replaySource(where, plan.from)
	type span struct {
		n    int
		last int64
	}
	spans := map[string]span{}
	err = eachRow(ctx, db, `SELECT p.scope, count(*), max(p.at_us)`+source+` GROUP BY 1`, func(rows *sql.Rows) error {
		var scope string
		var sp span
		err := rows.Scan(&scope, &sp.n, &sp.last)
		spans[scope] = sp
		return err
	})
	if err != nil {
		return res, err
	}
	r := promptcache.NewReplayer(rules, params, promptcache.Checkpoints{From: plan.from, Lag: checkpointLag, MinCalls: checkpointMinCalls})
	var key string // the key of the call being added: a family's calls share their scope's
	fams := promptcache.NewFamilies(func(*promptcache.Call) string { return key })
	// The first call of a family in a scope resumed from a checkpoint
	// follows a call before the checkpoint: its Member waits for that one.
	pending := map[string]*replayCall{}
	pendingPred := map[string]promptcache.Prediction{}
	scope := ""
	err = eachRow(ctx, db, `SELECT `+replayColumns+source+` ORDER BY p.scope, p.at_us, p.request_id`, func(rows *sql.Rows) error {
		c, err := scanReplayCall(rows)
		if err != nil {
			return err
		}
		if c.Scope != scope || res.replayed == 0 {
			scope = c.Scope
			r.Scope(scope, spans[scope].n, time.UnixMicro(spans[scope].last))
		}
		res.replayed++
		if err := res.ids.Write(replayedRow{RequestID: c.ID, Scope: c.Scope}); err != nil {
			return err
		}
		p := r.Serve(&c.Call)
		if !p.Modelled {
			return nil
		}
		if err := res.preds.Write(predictionRowOf(c, p, lookup)); err != nil {
			return err
		}
		key = c.key
		m, ok := fams.Add(&c.Call, p)
		switch {
		case !ok:
			return nil
		case !m.Follows && plan.from[c.Scope] != nil:
			pending[m.Family], pendingPred[m.Family] = c, p
			return nil
		}
		return res.members.Write(memberRowOf(&m))
	})
	if err != nil {
		return res, err
	}
	res.checkpoints = r.Checkpoints()
	if err := addPending(ctx, db, res, pending, pendingPred, plan.from); err != nil {
		return res, err
	}
	return res, nil
}

// predictionRowOf is a call's row of cache_predictions.
func predictionRowOf(c *replayCall, p promptcache.Prediction, lookup func(string) (pricing.Match, bool)) predictionRow {
	r := predictionRow{RequestID: c.ID, EstimatedCachedTokens: p.Cached, EstimatedCacheWriteTokens: p.Written5m + p.Written1h}
	if hr := p.HitRate(); !math.IsNaN(hr) {
		r.EstimatedCacheHitRate = &hr
	}
	if p.Miss != "" {
		r.MissReason = &p.Miss
	}
	if family, ok := promptcache.FamilyOf(&c.Call, p); ok {
		r.Family = &family
	}
	if price, ok := lookup(c.source); ok {
		cost, _ := price.Cost(pricing.Tokens{Prompt: p.Prompt, Completion: c.completion, CachedRead: p.Cached,
			CacheWrite5m: p.Written5m, CacheWrite1h: p.Written1h})
		r.EstimatedCostPredictedCacheUSD = &cost
	}
	return r
}

// addPending writes the Members of the pending calls (the first of their
// family after a checkpoint), each following its family's last call before
// the checkpoint; a family with none begins there.
func addPending(ctx context.Context, db *sql.DB, res *cacheResults, pending map[string]*replayCall, preds map[string]promptcache.Prediction,
	from map[string]*promptcache.Checkpoint) error {
	if len(pending) == 0 {
		return nil
	}
	bounds := make([]string, 0, len(pending))
	for family, c := range pending {
		k := from[c.Scope]
		bounds = append(bounds, fmt.Sprintf("(%s, %d, %s)", quote(family), k.At.UnixMicro(), quote(k.ID)))
	}
	slices.Sort(bounds)
	// The latest member before the checkpoint, by aggregates (no sort of
	// a family that may be most of the database).
	before := `FROM cache_family_calls f JOIN (VALUES ` + strings.Join(bounds, ", ") + `) v(v_family, v_at, v_id) ON f.family = v.v_family
		WHERE (f.at_us < v.v_at OR f.at_us = v.v_at AND f.request_id < v.v_id)`
	prevs := map[string]*replayCall{} // family → its call before the checkpoint
	err := eachRow(ctx, db, `WITH latest AS (SELECT f.family, max(f.at_us) AS last_at `+before+` GROUP BY 1),
			last AS (SELECT f.family, max(f.request_id) AS request_id `+before+` AND f.at_us = (SELECT last_at FROM latest l WHERE l.family = f.family) GROUP BY 1)
		SELECT `+replayColumns+`, last.family FROM last JOIN cache_prompts p USING (request_id) JOIN api_calls c USING (request_id)`,
		func(rows *sql.Rows) error {
			var family string
			c, err := scanReplayCall(rows, &family)
			if err == nil {
				prevs[family] = c
			}
			return err
		})
	if err != nil {
		return err
	}
	for _, family := range slices.Sorted(maps.Keys(pending)) {
		c := pending[family]
		fams := promptcache.NewFamilies(func(*promptcache.Call) string { return c.key })
		if prev := prevs[family]; prev != nil {
			fams.Follow(&prev.Call)
		}
		m, _ := fams.Add(&c.Call, preds[family])
		if err := res.members.Write(memberRowOf(&m)); err != nil {
			return err
		}
	}
	return nil
}

// replayFormat names what a replay keeps beyond its results (the members
// of cache_family_calls, cache_checkpoints): a database whose last replay
// kept another form is replayed whole.
const replayFormat = "members-1"

// lastCacheState is the state the last replay kept, or nil.
func lastCacheState(ctx context.Context, db *sql.DB) *cacheState {
	var raw string
	if db.QueryRowContext(ctx, `SELECT value FROM lessllm_meta WHERE key = 'cache_state'`).Scan(&raw) != nil {
		return nil
	}
	var last cacheState
	if json.Unmarshal([]byte(raw), &last) != nil {
		return nil
	}
	return &last
}

// cacheState is what a replay depended on beyond the calls, kept in
// lessllm_meta so that the next run can tell what it must replay again.
type cacheState struct {
	Digest string // the rules and prices
	Params promptcache.Params
}

// cacheParams learns promptcache.Params in SQL, as promptcache.ParamsOf
// does from the calls (the same filters, the same arithmetic: the median
// is the element at len/2 of the sorted ratios), without reading a million
// fingerprints into Go. With last (the Params of the last replay, which
// covered every call then in the database, none of which has left since)
// it reads only the calls of segments: a step is the greatest common
// divisor of what it was and their counts, and a median is learned again
// only for a model that needs one (a call without the API's prompt count,
// then or now).
func cacheParams(ctx context.Context, db *sql.DB, rules *promptcache.Table, last *promptcache.Params, segments []string) (promptcache.Params, error) {
	p := promptcache.Params{Steps: map[string]int{}, Scales: map[string]float64{}}
	scope := "TRUE"
	if last != nil {
		maps.Copy(p.Steps, last.Steps)
		list := make([]string, len(segments))
		for i, s := range segments {
			list[i] = quote(s)
		}
		scope = `p.segment IN (` + cmp.Or(strings.Join(list, ", "), "NULL") + `)`
	}
	needed := map[string]bool{}
	err := eachRow(ctx, db, `SELECT p.provider, p.model, list(DISTINCT c.actual_cached_tokens) FILTER (WHERE c.actual_cached_tokens > 0),
			bool_or(p.tokens > 0 AND coalesce(c.actual_prompt_tokens, 0) <= 0)
		FROM cache_prompts p JOIN api_calls c USING (request_id) WHERE `+scope+` GROUP BY 1, 2`, func(rows *sql.Rows) error {
		var provider, model string
		var cached any
		var needs bool
		if err := rows.Scan(&provider, &model, &cached, &needs); err != nil {
			return err
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
		if step, ok := p.Steps[k]; ok {
			counts = append(counts, int64(step))
		}
		p.Steps[k] = promptcache.LearnStep(rules, provider, model, counts)
		needed[k] = needed[k] || needs
		return nil
	})
	if err != nil {
		return p, err
	}
	if last != nil {
		for k := range last.Scales {
			needed[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(needed)) {
		if !needed[k] {
			continue
		}
		provider, model, _ := strings.Cut(k, "\x00")
		var scale sql.NullFloat64
		if err := db.QueryRowContext(ctx, `SELECT list_extract(list_sort(list(c.actual_prompt_tokens::DOUBLE / p.tokens::DOUBLE)), count(*) // 2 + 1)
			FROM cache_prompts p JOIN api_calls c USING (request_id)
			WHERE p.provider = ? AND p.model = ? AND p.tokens > 0 AND c.actual_prompt_tokens > 0`, provider, model).Scan(&scale); err != nil {
			return p, err
		}
		if scale.Valid {
			p.Scales[k] = scale.Float64
		}
	}
	return p, nil
}

// replayPlan is what a replay covers.
type replayPlan struct {
	cond  string // SQL condition on cache_prompts p: the scopes to replay; "": all
	from  map[string]*promptcache.Checkpoint
	since int64 // > 0: no call before this (Unix µs) is replayed
}

func (p replayPlan) all() bool { return p.cond == "" }

func (p replayPlan) where() string { return cmp.Or(p.cond, "TRUE") }

// planReplay says what an incremental replay must cover: the scopes of the
// segments loaded in this run, each from its checkpoint when that is still
// valid, and every scope of a model whose Params moved, from the start.
// The plan covers everything when the last replay's state is unknown or
// does not apply.
func planReplay(ctx context.Context, db *sql.DB, last *cacheState, now cacheState, segments []string) (replayPlan, error) {
	var moved []string
	for _, k := range slices.Sorted(maps.Keys(now.Params.Steps)) {
		ls, lok := last.Params.Steps[k]
		lsc, lscok := last.Params.Scales[k]
		sc, scok := now.Params.Scales[k]
		if !lok || ls != now.Params.Steps[k] || lscok != scok || lsc != sc {
			provider, model, _ := strings.Cut(k, "\x00")
			moved = append(moved, fmt.Sprintf(`(p.provider = %s AND p.model = %s)`, quote(provider), quote(model)))
		}
	}
	plan := replayPlan{cond: "FALSE"}
	var conds []string
	if len(segments) > 0 {
		list := make([]string, len(segments))
		for i, s := range segments {
			list[i] = quote(s)
		}
		touched := `(SELECT scope FROM cache_prompts WHERE segment IN (` + strings.Join(list, ", ") + `))`
		conds = append(conds, `p.scope IN `+touched)
		var err error
		if plan.from, err = validCheckpoints(ctx, db, touched, moved); err != nil {
			return replayPlan{}, err
		}
		// Every scope resumes from a checkpoint (the fresh case): nothing
		// older than the earliest of them is read, which lets DuckDB skip
		// the rest of both tables by their time columns.
		var scopes int
		if err := db.QueryRowContext(ctx, `SELECT count(DISTINCT scope) FROM cache_prompts WHERE segment IN (`+strings.Join(list, ", ")+`)`).Scan(&scopes); err != nil {
			return replayPlan{}, err
		}
		if len(moved) == 0 && scopes == len(plan.from) && scopes > 0 {
			plan.since = math.MaxInt64
			for _, k := range plan.from {
				plan.since = min(plan.since, k.At.UnixMicro())
			}
		}
	}
	if conds = append(conds, moved...); len(conds) > 0 {
		plan.cond = "(" + strings.Join(conds, " OR ") + ")"
	}
	return plan, nil
}

// validCheckpoints reads the checkpoints of the scopes touched selects,
// except those of the models moved lists, that still hold: the scope has
// as many calls before the checkpoint as it was taken after. A call can
// only be added there, since a run in which one left the database (a
// segment replaced by a shorter copy) replays everything.
func validCheckpoints(ctx context.Context, db *sql.DB, touched string, moved []string) (map[string]*promptcache.Checkpoint, error) {
	except := ""
	if len(moved) > 0 {
		except = ` AND scope NOT IN (SELECT scope FROM cache_prompts p WHERE ` + strings.Join(moved, " OR ") + `)`
	}
	rows, err := db.QueryContext(ctx, `WITH k AS (
			SELECT scope, at_us, request_id, calls FROM cache_checkpoints WHERE scope IN `+touched+except+`
		), seen AS (
			SELECT p.scope, count(*) AS n FROM cache_prompts p JOIN k USING (scope)
			WHERE p.at_us < k.at_us OR p.at_us = k.at_us AND p.request_id < k.request_id GROUP BY 1
		)
		SELECT k.scope, k.at_us, k.request_id, c.state FROM k LEFT JOIN seen USING (scope) JOIN cache_checkpoints c USING (scope)
		WHERE coalesce(seen.n, 0) = k.calls`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*promptcache.Checkpoint{}
	for rows.Next() {
		var at int64
		var state []byte
		k := &promptcache.Checkpoint{}
		if err := rows.Scan(&k.Scope, &at, &k.ID, &state); err != nil {
			return nil, err
		}
		if k.UnmarshalBinary(state) != nil {
			continue // replayed from the start
		}
		k.At = time.UnixMicro(at)
		out[k.Scope] = k
	}
	return out, rows.Err()
}

// cacheResults is what a replay writes: its rows in temporary Parquet
// files, written as the replay goes.
type cacheResults struct {
	scratch     string
	partial     bool // only the replayed calls' results are replaced
	replayed    int
	ids         *tempWriter[replayedRow]   // of the replayed calls
	preds       *tempWriter[predictionRow] // of the replayed calls the model covers
	members     *tempWriter[memberRow]     // of the replayed calls in a family
	checkpoints []*promptcache.Checkpoint
	families    *familyPass // nil: no family rows (the model is off)
}

func newCacheResults(scratch string) (*cacheResults, error) {
	res := &cacheResults{scratch: scratch}
	var err error
	if res.ids, err = newTempWriter[replayedRow](scratch, ".cache_replayed-*.parquet"); err != nil {
		return res, err
	}
	if res.preds, err = newTempWriter[predictionRow](scratch, ".cache_predictions-*.parquet"); err != nil {
		return res, err
	}
	res.members, err = newTempWriter[memberRow](scratch, ".cache_family_calls-*.parquet")
	return res, err
}

// remove deletes the temporary files.
func (r *cacheResults) remove() {
	if r.ids != nil {
		r.ids.remove()
	}
	if r.preds != nil {
		r.preds.remove()
	}
	if r.members != nil {
		r.members.remove()
	}
}

// checkpointRow is a checkpoint as writeCacheResults loads it.
type checkpointRow struct {
	Scope     string `parquet:"scope"`
	AtUS      int64  `parquet:"at_us"`
	RequestID string `parquet:"request_id"`
	State     []byte `parquet:"state"`
}

// replayedRow names a replayed call and its scope.
type replayedRow struct {
	RequestID string `parquet:"request_id"`
	Scope     string `parquet:"scope,dict"`
}

// writeCacheResults stores a replay's results in one transaction. A full
// replay replaces cache_predictions, cache_family_calls,
// cache_opportunities and cache_checkpoints; a partial one replaces the
// results of the replayed calls, the rows of their families and the
// checkpoints of their scopes, and the rest stays as the last replay wrote
// it. Either way it copies the new predictions into api_calls.
func writeCacheResults(ctx context.Context, db *sql.DB, res *cacheResults, changed changedSegments) error {
	scratch := res.scratch
	idFile, err := res.ids.close()
	if err != nil {
		return err
	}
	predFile, err := res.preds.close()
	if err != nil {
		return err
	}
	memberFile, err := res.members.close()
	if err != nil {
		return err
	}
	kept := make([]checkpointRow, len(res.checkpoints))
	for i, k := range res.checkpoints {
		state, err := k.MarshalBinary()
		if err != nil {
			return err
		}
		kept[i] = checkpointRow{Scope: k.Scope, AtUS: k.At.UnixMicro(), RequestID: k.ID, State: state}
	}
	keptFile, err := writeTemp(scratch, ".cache_checkpoints-*.parquet", kept)
	if err != nil {
		return err
	}
	defer os.Remove(keptFile)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	copyToCalls := rowUpdate{
		set:  `estimated_cached_tokens = p.estimated_cached_tokens, estimated_cache_hit_rate = p.rate`,
		from: `(SELECT request_id, estimated_cached_tokens, round(estimated_cache_hit_rate, 6) AS rate FROM read_parquet(` + quote(predFile) + `)) p`,
		where: `api_calls.request_id = p.request_id AND (api_calls.estimated_cached_tokens IS DISTINCT FROM p.estimated_cached_tokens
			OR api_calls.estimated_cache_hit_rate IS DISTINCT FROM p.rate)`,
	}
	// A checkpoint keeps the count of the calls before it (validCheckpoints).
	addCheckpoints := `INSERT INTO cache_checkpoints BY NAME SELECT k.scope, k.at_us, k.request_id, coalesce(s.n, 0) AS calls, k.state
		FROM read_parquet(` + quote(keptFile) + `) k LEFT JOIN (
			SELECT p.scope, count(*) AS n FROM cache_prompts p JOIN read_parquet(` + quote(keptFile) + `) k USING (scope)
			WHERE p.at_us < k.at_us OR p.at_us = k.at_us AND p.request_id < k.request_id GROUP BY 1) s USING (scope)`
	steps := []string{
		`DELETE FROM cache_predictions`,
		`DELETE FROM cache_family_calls`,
		`DELETE FROM cache_opportunities`,
		`DELETE FROM cache_checkpoints`,
	}
	touched := "TRUE" // the families whose rows are written again
	if res.partial {
		replayed := `(SELECT request_id FROM read_parquet(` + quote(idFile) + `))`
		touched = `family IN (SELECT family FROM read_parquet(` + quote(memberFile) + `))`
		steps = []string{
			// A family lives in one scope, and a replayed call stays in
			// its family: the families with a replayed call are all those
			// whose rows change.
			`DELETE FROM cache_opportunities WHERE family IN (SELECT family FROM cache_predictions WHERE request_id IN ` + replayed + `)`,
			`DELETE FROM cache_predictions WHERE request_id IN ` + replayed,
			`DELETE FROM cache_family_calls WHERE request_id IN ` + replayed,
			`DELETE FROM cache_checkpoints WHERE scope IN (SELECT scope FROM read_parquet(` + quote(idFile) + `))`,
		}
	}
	steps = append(steps,
		`INSERT INTO cache_predictions SELECT * FROM read_parquet(`+quote(predFile)+`)`,
		`INSERT INTO cache_family_calls BY NAME SELECT * FROM read_parquet(`+quote(memberFile)+`)`,
		addCheckpoints,
	)
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("cache results: %w", err)
		}
	}
	if err := changed.update(ctx, tx, copyToCalls); err != nil {
		return fmt.Errorf("cache results: %w", err)
	}
	if res.families != nil {
		opps, err := res.families.rows(ctx, db, tx, touched)
		if err != nil {
			return fmt.Errorf("cache opportunities: %w", err)
		}
		oppFile, err := writeTemp(scratch, ".cache_opportunities-*.parquet", opps)
		if err != nil {
			return err
		}
		defer os.Remove(oppFile)
		if _, err := tx.ExecContext(ctx, `INSERT INTO cache_opportunities SELECT * FROM read_parquet(`+quote(oppFile)+`)`); err != nil {
			return fmt.Errorf("cache results: %w", err)
		}
	}
	// Kept in the order lessllm cache shows them.
	if _, err := tx.ExecContext(ctx, `CREATE OR REPLACE TABLE cache_opportunities AS SELECT * FROM cache_opportunities ORDER BY saving_usd_per_day DESC NULLS LAST, family`); err != nil {
		return fmt.Errorf("cache results: %w", err)
	}
	return tx.Commit()
}

// clearCacheResults empties what the cache model wrote, for a run with
// the model off.
func clearCacheResults(ctx context.Context, db *sql.DB, scratch string, changed changedSegments) error {
	res, err := newCacheResults(scratch)
	defer res.remove()
	if err != nil {
		return err
	}
	if err := writeCacheResults(ctx, db, res, changed); err != nil {
		return err
	}
	return changed.update(ctx, db, rowUpdate{
		set:   `estimated_cached_tokens = NULL, estimated_cache_hit_rate = NULL`,
		where: `estimated_cached_tokens IS NOT NULL OR estimated_cache_hit_rate IS NOT NULL`,
	})
}

// switchCacheModel records whether the cache model is on for this
// database and reports whether that changed since the last run (then the
// passes run over everything even with no new segment, so turning the
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
