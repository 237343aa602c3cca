package analyze

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/analyze/promptcache"
	"github.com/lessllm/lessllm/format/wire"
)

// Prompt families (README "Prompt cache analysis", cache_opportunities).
//
// A family's row depends on all its calls, and a family can be most of a
// database (an application with one system prompt). So the replay keeps,
// per call, what the row needs of it (promptcache.Member: its prediction
// and how it follows the family's call before it) in cache_family_calls,
// and a family is totalled there, in SQL, as promptcache.Total and
// promptcache.Loss total it in Go (TestFamilySQLEqualsGo holds them
// equal): a run reads only the members of the calls it replayed and the
// few latest calls of their families whose texts the advice quotes.

// memberRow is one row of cache_family_calls.
type memberRow struct {
	Family          string `parquet:"family"`
	Provider        string `parquet:"provider,dict"`
	Model           string `parquet:"model,dict"`
	KeyFingerprint  string `parquet:"key_fingerprint,dict"`
	RequestID       string `parquet:"request_id"`
	AtUS            int64  `parquet:"at_us"`
	Tokens          int32  `parquet:"tokens"`
	APIPrompt       int64  `parquet:"api_prompt"`
	Prompt          int64  `parquet:"prompt"`
	Cached          int64  `parquet:"cached"`
	Expired         bool   `parquet:"expired"`
	Reported        bool   `parquet:"reported"`
	ActualPrompt    int64  `parquet:"actual_prompt"`
	ActualCached    int64  `parquet:"actual_cached"`
	Follows         bool   `parquet:"follows"`
	GapUS           int64  `parquet:"gap_us"`
	Shared          int64  `parquet:"shared"`
	Breakpoints     bool   `parquet:"breakpoints"`
	BreakpointEarly bool   `parquet:"breakpoint_early"`
}

func memberRowOf(m *promptcache.Member) memberRow {
	return memberRow{Family: m.Family, Provider: m.Provider, Model: m.Model, KeyFingerprint: m.Key, RequestID: m.ID,
		AtUS: m.At.UnixMicro(), Tokens: m.Tokens, APIPrompt: m.APIPrompt, Prompt: m.Prompt, Cached: m.Cached,
		Expired: m.Expired, Reported: m.Reported, ActualPrompt: m.ActualPrompt, ActualCached: m.ActualCached,
		Follows: m.Follows, GapUS: m.Gap.Microseconds(), Shared: m.Shared, Breakpoints: m.Breakpoints, BreakpointEarly: m.BreakpointEarly}
}

// familyTotals totals the families of cache_family_calls that $filter
// selects, as promptcache.Total does. The median is the element at len/2
// of the sorted values, found without sorting them: the least value whose
// running count (over the distinct values, which are few) passes half.
// Days are distinct UTC dates.
const familyTotals = `WITH vals AS (
	SELECT family, shared, count(*) AS k FROM cache_family_calls WHERE follows AND $filter GROUP BY 1, 2
), running AS (
	SELECT family, shared, sum(k) OVER (PARTITION BY family ORDER BY shared) AS upto, sum(k) OVER (PARTITION BY family) AS n FROM vals
), med AS (
	SELECT family, min(shared) FILTER (WHERE upto > n // 2) AS shared FROM running GROUP BY family
)
SELECT family, min(provider), min(model), min(key_fingerprint), count(*), count(DISTINCT at_us // 86400000000),
	min(at_us), sum(prompt)::BIGINT, sum(cached)::BIGINT, bool_or(reported), sum(actual_prompt)::BIGINT, sum(actual_cached)::BIGINT,
	coalesce(any_value(med.shared), 0), bool_or(breakpoints), bool_or(breakpoint_early), bool_or(expired)
FROM cache_family_calls LEFT JOIN med USING (family) WHERE $filter GROUP BY family HAVING count(*) >= 2`

// familyLatest reads the latest calls of each family $filter selects: the
// pairs the advice compares (promptcache.Judge). A top-k heap bounds them
// first, so a family of a million calls is not sorted.
var familyLatest = fmt.Sprintf(`WITH bound AS (
	SELECT family, list_min(max(at_us, %[1]d)) AS lo FROM cache_family_calls WHERE $filter GROUP BY family
)
SELECT f.family, f.request_id, f.at_us, f.tokens, f.api_prompt, f.model, coalesce(c.price_source, '')
FROM cache_family_calls f JOIN bound b ON f.family = b.family AND f.at_us >= b.lo LEFT JOIN api_calls c USING (request_id)
QUALIFY row_number() OVER (PARTITION BY f.family ORDER BY f.at_us DESC, f.request_id DESC) <= %[1]d`, promptcache.LatestMembers)

// familyLoss totals, as promptcache.Loss.Add does, each family's members
// under its verdict (table $verdicts).
const familyLoss = `WITH x AS (
	SELECT m.family, m.cached, m.follows AND m.gap_us <= v.window_us AS reads, NOT v.only_expired OR m.expired AS counted, v.min_tokens,
		CASE WHEN v.step > 0 AND least(v.fix, m.prompt) >= v.min_tokens
			THEN v.min_tokens + (least(v.fix, m.prompt) - v.min_tokens) // v.step * v.step ELSE least(v.fix, m.prompt) END AS n
	FROM cache_family_calls m JOIN read_parquet($verdicts) v USING (family)
)
SELECT family, (count(*) FILTER (WHERE NOT reads))::BIGINT,
	coalesce(sum(n) FILTER (WHERE reads AND counted AND n >= min_tokens), 0)::BIGINT,
	coalesce(sum(greatest(0, n - cached)) FILTER (WHERE reads AND counted AND n >= min_tokens), 0)::BIGINT
FROM x GROUP BY family`

// verdictRow is a family's promptcache.Verdict as familyLoss reads it.
type verdictRow struct {
	Family      string `parquet:"family"`
	Fix         int64  `parquet:"fix"`
	WindowUS    int64  `parquet:"window_us"`
	MinTokens   int64  `parquet:"min_tokens"`
	Step        int64  `parquet:"step"`
	OnlyExpired bool   `parquet:"only_expired"`
}

// familyPass writes the rows of cache_opportunities.
type familyPass struct {
	rules   *promptcache.Table
	scratch string
	lookup  func(source string) (pricing.Match, bool) // a price entry (price_source)
}

// rows works out the rows of the families of cache_family_calls that
// filter selects, reading the members through q (the transaction that
// wrote them) and request texts through db.
func (f *familyPass) rows(ctx context.Context, db *sql.DB, q querier, filter string) ([]opportunityRow, error) {
	totals := map[string]promptcache.Totals{}
	var families []string
	err := eachRow(ctx, q, strings.ReplaceAll(familyTotals, "$filter", filter), func(rows *sql.Rows) error {
		var t promptcache.Totals
		var first int64
		if err := rows.Scan(&t.Family, &t.Provider, &t.Model, &t.Key, &t.Calls, &t.Days, &first, &t.Prompt, &t.Cached,
			&t.Reported, &t.ActualPrompt, &t.ActualCached, &t.Shared, &t.Breakpoints, &t.BreakpointEarly, &t.Expired); err != nil {
			return err
		}
		t.FirstSeen = time.UnixMicro(first)
		totals[t.Family] = t
		families = append(families, t.Family)
		return nil
	})
	if err != nil {
		return nil, err
	}
	latest := map[string][]promptcache.Member{}
	sourceOf := map[string]string{} // a call → its price entry
	err = eachRow(ctx, q, strings.ReplaceAll(familyLatest, "$filter", filter), func(rows *sql.Rows) error {
		var m promptcache.Member
		var at int64
		var source string
		if err := rows.Scan(&m.Family, &m.ID, &at, &m.Tokens, &m.APIPrompt, &m.Model, &source); err != nil {
			return err
		}
		m.At = time.UnixMicro(at)
		sourceOf[m.ID] = source
		latest[m.Family] = append(latest[m.Family], m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	src := promptcache.Sources{
		Requests: func(ids []string) map[string]*promptcache.Request { return requestsByID(ctx, db, ids) },
		Tokens:   func(model, s string) int { return int(countText(encoding(encodingFor(model)), s)) },
	}
	slices.Sort(families)
	opps := make([]promptcache.Opportunity, len(families))
	verdicts := make([]promptcache.Verdict, len(families))
	priced := make([]promptcache.Sources, len(families))
	var counted []verdictRow
	for i, family := range families {
		ms := latest[family]
		slices.SortFunc(ms, func(a, b promptcache.Member) int { // time order
			if c := a.At.Compare(b.At); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		t := totals[family]
		t.LastSeen, t.LastID = ms[len(ms)-1].At, ms[len(ms)-1].ID
		opps[i], verdicts[i] = promptcache.Judge(f.rules, t, ms, src)
		// What a fix saves is priced at the entry of the family's latest call.
		priced[i] = f.priced(src, sourceOf[t.LastID])
		if v := verdicts[i]; v.Counts {
			counted = append(counted, verdictRow{Family: family, Fix: v.Fix, WindowUS: v.Window.Microseconds(),
				MinTokens: v.MinTokens, Step: v.Step, OnlyExpired: v.OnlyExpired})
		}
	}
	losses := map[string]promptcache.Loss{}
	if len(counted) > 0 {
		file, err := writeTemp(f.scratch, ".cache_verdicts-*.parquet", counted)
		if err != nil {
			return nil, err
		}
		defer os.Remove(file)
		err = eachRow(ctx, q, strings.Replace(familyLoss, "$verdicts", quote(file), 1), func(rows *sql.Rows) error {
			var family string
			var l promptcache.Loss
			if err := rows.Scan(&family, &l.Writes, &l.Could, &l.Lost); err != nil {
				return err
			}
			losses[family] = l
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]opportunityRow, len(opps))
	for i := range opps {
		promptcache.Finish(f.rules, &opps[i], verdicts[i], losses[opps[i].Family], priced[i])
		out[i] = opportunityRowOf(&opps[i])
	}
	return out, nil
}

func opportunityRowOf(o *promptcache.Opportunity) opportunityRow {
	r := opportunityRow{Family: o.Family, Provider: o.Provider, Model: o.Model, APIKeyFingerprint: o.KeyFingerprint,
		Calls: int64(o.Calls), Days: int64(o.Days), FirstSeen: o.FirstSeen.UnixMicro(), LastSeen: o.LastSeen.UnixMicro(),
		AvgPromptTokens: math.Round(o.AvgPromptTokens*10) / 10, RepeatedPrefixTokens: o.RepeatedPrefixTokens,
		SharedPrefixTokens: o.SharedPrefixTokens, ActualHitRate: o.ActualHitRate, PredictedHitRate: o.PredictedHitRate,
		Reason: o.Reason, DivergenceToken: o.DivergenceToken, LostTokens: o.LostTokens, SavingUSD: o.SavingUSD,
		SavingUSDPerDay: o.SavingUSDPerDay, Advice: o.Advice, ExampleRequestID: o.ExampleRequestID}
	if o.DivergenceExcerpt != "" {
		r.DivergenceExcerpt = &o.DivergenceExcerpt
	}
	return r
}

// priced is src with the prices of the entry source.
func (f *familyPass) priced(src promptcache.Sources, source string) promptcache.Sources {
	src.Price = func(string) (pricing.Price, bool) {
		m, ok := f.lookup(source)
		return m.Price, ok
	}
	return src
}

// querier is what rows reads through: the database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// eachRow runs query and calls f for each row.
func eachRow(ctx context.Context, q querier, query string, f func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// requestsByID reads and canonicalises the request bodies of a few calls.
func requestsByID(ctx context.Context, db *sql.DB, ids []string) map[string]*promptcache.Request {
	out := map[string]*promptcache.Request{}
	if len(ids) == 0 {
		return out
	}
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = quote(id)
	}
	// request_json is the client's body; for a translated call that is the
	// other dialect's shape, read as the upstream's (cache_prompts.kind):
	// the texts and their order, which is all an excerpt shows, are the
	// same.
	rows, err := db.QueryContext(ctx, `SELECT c.request_id, CAST(c.request_json AS VARCHAR), p.kind FROM api_calls c JOIN cache_prompts p USING (request_id)
		WHERE c.request_id IN (`+strings.Join(list, ",")+`)`)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var id, kind string
		var body sql.NullString
		if rows.Scan(&id, &body, &kind) != nil || !body.Valid {
			continue
		}
		if r, ok := promptcache.Parse(wire.KindNamed(kind), []byte(body.String)); ok {
			out[id] = r
		}
	}
	return out
}
