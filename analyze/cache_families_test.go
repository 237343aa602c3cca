package analyze

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/analyze/promptcache"
	"github.com/lessllm/lessllm/format/formattest"
)

// familySegment writes one sealed segment of n streamed calls, gap apart
// from start, with key and the system prompts system(i) gives, with the
// API's prompt count prompt.
func familySegment(t *testing.T, dir, node string, start time.Time, n int, gap time.Duration, key string, prompt int, system func(i int) string) {
	t.Helper()
	chatSegment(t, dir, node, start, n, gap, func(i int) (string, string, int) { return key, system(i), prompt }, nil)
}

// TestFamilySQLEqualsGo: the families analyze totals in SQL from the
// members it keeps (cache_family_calls) are the ones promptcache works out
// in Go from all the calls — for a family whose prompts start with a
// timestamp (dynamic_prefix), one whose calls come further apart than the
// cache lives (ttl_gap), one the cache serves (none), and one below the
// minimum.
func TestFamilySQLEqualsGo(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	manual := formattest.Text(rand.New(rand.NewPCG(3, 4)), 1400)
	familySegment(t, dir, "dyn", day, 30, time.Minute, "sk-dyn", 1920, func(i int) string {
		return fmt.Sprintf("Now: %s. ", day.Add(time.Duration(i)*time.Minute).Format(time.RFC3339)) + manual
	})
	familySegment(t, dir, "gap", day, 12, 20*time.Minute, "sk-gap", 1900, func(int) string { return manual })
	familySegment(t, dir, "ok", day.Add(time.Hour), 25, 30*time.Second, "sk-ok", 1900, func(int) string { return manual })
	// Prompts that share prefixes of different lengths, and an even
	// number of pairs: the median is the upper of the middle two.
	cuts := []int{4000, 1500, 6000, 2500, 9000, 3500, 5000, 2000, 7000}
	familySegment(t, dir, "var", day, len(cuts), time.Minute, "sk-var", 1900, func(i int) string {
		return manual[:min(cuts[i], len(manual))] + fmt.Sprintf(" variant %d", i)
	})
	familySegment(t, dir, "short", day, 6, time.Minute, "sk-short", 460, func(int) string { return "You are brief. " + strings.Repeat("Be kind. ", 150) })
	dbPath := filepath.Join(t.TempDir(), "lessllm.duckdb")
	analyzeInto(t, dir, dbPath, false)
	db, err := OpenReadOnly(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	rules, prices := promptcache.Default(), pricing.Default()
	params, err := cacheParams(ctx, db, rules, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var calls []promptcache.Call
	keyOf, sourceOf := map[string]string{}, map[string]string{}
	err = eachRow(ctx, db, `SELECT `+replayColumns+` FROM cache_prompts p JOIN api_calls c USING (request_id)`, func(rows *sql.Rows) error {
		c, err := scanReplayCall(rows)
		if err == nil {
			calls = append(calls, c.Call)
			keyOf[c.ID], sourceOf[c.Model] = c.key, c.source
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	preds := promptcache.ReplayWith(rules, calls, params)
	inGo := promptcache.Opportunities(rules, calls, preds, promptcache.Sources{
		Requests: func(ids []string) map[string]*promptcache.Request { return requestsByID(ctx, db, ids) },
		Tokens:   func(model, s string) int { return int(countText(encoding(encodingFor(model)), s)) },
		Price: func(model string) (pricing.Price, bool) {
			m, ok := prices.Entry(sourceOf[model])
			return m.Price, ok
		},
		KeyOf: func(c *promptcache.Call) string { return keyOf[c.ID] },
	})
	want := map[string]string{}
	reasons := map[string]bool{}
	for i := range inGo {
		r := opportunityRowOf(&inGo[i])
		want[r.Family] = shown(r)
		reasons[r.Reason] = true
	}
	for _, reason := range []string{promptcache.ReasonDynamicPrefix, promptcache.ReasonTTLGap, promptcache.ReasonNone, promptcache.ReasonBelowMinimum} {
		if !reasons[reason] {
			t.Errorf("no family with reason %s: the workload does not exercise it (%v)", reason, reasons)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT family, provider, model, api_key_fingerprint, calls, days, epoch_us(first_seen), epoch_us(last_seen),
		avg_prompt_tokens, repeated_prefix_tokens, shared_prefix_tokens, actual_hit_rate, predicted_hit_rate, reason, divergence_token,
		divergence_excerpt, lost_tokens, saving_usd, saving_usd_per_day, advice, example_request_id FROM cache_opportunities`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var r opportunityRow
		if err := rows.Scan(&r.Family, &r.Provider, &r.Model, &r.APIKeyFingerprint, &r.Calls, &r.Days, &r.FirstSeen, &r.LastSeen,
			&r.AvgPromptTokens, &r.RepeatedPrefixTokens, &r.SharedPrefixTokens, &r.ActualHitRate, &r.PredictedHitRate, &r.Reason,
			&r.DivergenceToken, &r.DivergenceExcerpt, &r.LostTokens, &r.SavingUSD, &r.SavingUSDPerDay, &r.Advice, &r.ExampleRequestID); err != nil {
			t.Fatal(err)
		}
		n++
		got := shown(r)
		if got != want[r.Family] {
			t.Errorf("family %s:\nSQL %s\nGo  %s", r.Family, got, want[r.Family])
		}
	}
	if n != len(want) {
		t.Errorf("%d families in SQL, %d in Go", n, len(want))
	}
}

// shown is a family's row as text, its optional values shown rather than
// their addresses.
func shown(r opportunityRow) string {
	opt := fmt.Sprint(deref(r.ActualHitRate), deref(r.DivergenceToken), deref(r.DivergenceExcerpt), deref(r.SavingUSD), deref(r.SavingUSDPerDay))
	r.ActualHitRate, r.DivergenceToken, r.DivergenceExcerpt, r.SavingUSD, r.SavingUSDPerDay = nil, nil, nil, nil, nil
	return fmt.Sprintf("%+v %s", r, opt)
}
