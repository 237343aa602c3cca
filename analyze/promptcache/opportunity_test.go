package promptcache

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/format/wire"
)

// TestOpportunityReasons: one family per reason a cache loses hits, each
// named with the saving a fix would bring.
func TestOpportunityReasons(t *testing.T) {
	const sonnet = "claude-sonnet-4-20250514"
	long := text("handbook", 3000)
	price := pricing.Price{Input: 3e-6, Output: 15e-6, CacheRead: 0.3e-6, CacheWrite5m: 3.75e-6, CacheWrite1h: 6e-6}
	noDiscount := pricing.Price{Input: 3e-6, Output: 15e-6, CacheRead: 3e-6, CacheWrite5m: 3e-6, CacheWrite1h: 3e-6}
	cases := []struct {
		name, provider, model string
		body                  func(i int) map[string]any
		gap                   time.Duration
		reason                string
		saves                 bool
		price                 *pricing.Price // nil: price
	}{
		{"no_cache_read_price", "openai", "gpt-4o", func(i int) map[string]any {
			return chat(fmt.Sprintf("Request %d at 09:%02d. ", 1000+i, i)+long, "q")
		}, time.Minute, ReasonDynamicPrefix, false, &noDiscount},
		{"dynamic_prefix", "openai", "gpt-4o", func(i int) map[string]any {
			return chat(fmt.Sprintf("Request %d at 09:%02d. ", 1000+i, i)+long, "q")
		}, time.Minute, ReasonDynamicPrefix, true, nil},
		{"no_breakpoint", "anthropic", sonnet, func(i int) map[string]any {
			return messages(sonnet, nil, []any{sys(long, "")}, user(fmt.Sprint("q", i), false))
		}, time.Minute, ReasonNoBreakpoint, true, nil},
		{"breakpoint_after_change", "anthropic", sonnet, func(i int) map[string]any {
			return messages(sonnet, nil, []any{sys(long, "")}, user(fmt.Sprint("q", i), true))
		}, time.Minute, ReasonBreakpointLate, true, nil},
		{"below_minimum", "openai", "gpt-4o", func(i int) map[string]any {
			return chat(text("short", 700), fmt.Sprint("q", i))
		}, time.Minute, ReasonBelowMinimum, false, nil},
		{"ttl_gap", "anthropic", sonnet, func(i int) map[string]any {
			return messages(sonnet, nil, []any{sys(long, "5m")}, user(fmt.Sprint("q", i), false))
		}, 20 * time.Minute, ReasonTTLGap, true, nil},
		{"none", "openai", "gpt-4o", func(i int) map[string]any {
			return chat(long, fmt.Sprint("q", i))
		}, time.Minute, ReasonNone, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc := NewEncoder(byteTokens)
			var calls []Call
			reqs := map[string]*Request{}
			for i := range 6 {
				b, _ := json.Marshal(tc.body(i))
				kind := wire.KindOpenAIChat
				if tc.provider == "anthropic" {
					kind = wire.KindAnthropicMessages
				}
				r, _ := Parse(kind, b)
				fp := enc.Fingerprint(r)
				id := fmt.Sprint("c", i)
				reqs[id] = r
				at := t0.Add(time.Duration(i) * tc.gap)
				calls = append(calls, Call{ID: id, Provider: tc.provider, Model: tc.model, Scope: "s", At: at, Usable: at,
					FP: fp, ActualPrompt: int64(fp.Tokens), ActualCached: -1})
			}
			preds := Replay(Default(), calls)
			opps := Opportunities(Default(), calls, preds, Sources{
				Requests: func(ids []string) map[string]*Request { return reqs },
				Tokens:   func(_, s string) int { return len(s) },
				Price: func(string) (pricing.Price, bool) {
					if tc.price != nil {
						return *tc.price, true
					}
					return price, true
				},
			})
			if len(opps) != 1 {
				t.Fatalf("%d families, want 1", len(opps))
			}
			o := opps[0]
			t.Logf("%s: lost %d tokens, saving %.6f USD/day; %s", o.Reason, o.LostTokens, *o.SavingUSDPerDay, o.Advice)
			if o.Reason != tc.reason || (*o.SavingUSDPerDay > 0) != tc.saves {
				t.Fatalf("reason %s, saving %v/day; want %s, saving: %v", o.Reason, *o.SavingUSDPerDay, tc.reason, tc.saves)
			}
			if noSaving := strings.Contains(o.Advice, "no cache-read discount"); noSaving != (tc.price != nil) {
				t.Errorf("advice %q: says there is no cache-read discount: %v, want %v", o.Advice, noSaving, tc.price != nil)
			}
			if tc.reason == ReasonDynamicPrefix {
				// "Request 1000" vs "Request 1005": the first byte that differs.
				if o.DivergenceToken == nil || *o.DivergenceToken != int64(len("<|system|>Request 100")) || !strings.HasPrefix(strings.TrimPrefix(o.DivergenceExcerpt, "…"), "<|system|>Request ####") {
					t.Errorf("divergence at %d, excerpt %q", derefInt(o.DivergenceToken), o.DivergenceExcerpt)
				}
				if strings.Contains(o.DivergenceExcerpt, "1005") {
					t.Errorf("excerpt shows the value: %q", o.DivergenceExcerpt)
				}
			}
		})
	}
}
