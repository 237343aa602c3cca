package promptcache

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lessllm/lessllm/analyze/pricing"
)

// Reasons a family loses cache hits, in the order they are checked.
const (
	ReasonDynamicPrefix   = "dynamic_prefix"          // text that changes every call (a timestamp, an id) early in the prompt
	ReasonNoBreakpoint    = "no_breakpoint"           // Anthropic: no cache_control, so nothing is cached
	ReasonBreakpointLate  = "breakpoint_after_change" // Anthropic: every breakpoint lies after the part that changes
	ReasonBelowMinimum    = "below_minimum"           // the shared prefix is shorter than the model's minimum
	ReasonTTLGap          = "ttl_gap"                 // calls further apart than the cache lives
	ReasonNone            = "none"                    // the cache does what it can
	maxPairsForDivergence = 20
)

// Opportunity is a prompt family: calls in one scope whose prompts start
// alike, with what the cache did for them and what a fix would save.
type Opportunity struct {
	Family              string // hex id
	Provider, Model     string
	KeyFingerprint      string
	Calls, Days         int // days: distinct UTC dates with calls
	FirstSeen, LastSeen time.Time
	AvgPromptTokens     float64
	// RepeatedPrefixTokens: the median prefix consecutive calls share once
	// digits are masked — what could be cached; SharedPrefixTokens: the
	// median prefix they really share.
	RepeatedPrefixTokens, SharedPrefixTokens int64
	ActualHitRate                            *float64 // NULL: the API reported no cache data
	PredictedHitRate                         float64
	Reason, Advice                           string
	DivergenceToken                          *int64 // dynamic_prefix: where the prompts start to differ
	DivergenceExcerpt                        string // the differing text around it, digits and long ids masked
	LostTokens                               int64  // prompt tokens a fix would have read from the cache
	SavingUSD, SavingUSDPerDay               *float64
	ExampleRequestID                         string
}

// Sources gives the opportunity analysis what the fingerprints do not
// hold: request texts for the few pairs whose divergence is shown, token
// counts, and prices.
type Sources struct {
	Requests func(ids []string) map[string]*Request
	Tokens   func(model, s string) int
	Price    func(model string) (pricing.Price, bool)
	// KeyOf returns a call's key fingerprint (shown, never the key).
	KeyOf func(c *Call) string
}

// Opportunities groups calls into families (same scope, same Family id)
// of at least two calls and says, for each, why hits are lost and what
// fixing it would save at the model's cache prices. preds are Replay's,
// index for index.
func Opportunities(t *Table, calls []Call, preds []Prediction, src Sources) []Opportunity {
	groups := map[string][]int{}
	for i := range calls {
		if calls[i].FP == nil || !preds[i].Modelled {
			continue
		}
		k := FamilyID(calls[i].Scope, calls[i].FP.Family)
		groups[k] = append(groups[k], i)
	}
	var out []Opportunity
	for _, idx := range groups {
		if len(idx) < 2 {
			continue
		}
		sort.Slice(idx, func(a, b int) bool {
			x, y := &calls[idx[a]], &calls[idx[b]]
			if !x.At.Equal(y.At) {
				return x.At.Before(y.At)
			}
			return x.ID < y.ID
		})
		out = append(out, family(t, calls, preds, idx, src))
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := deref(out[i].SavingUSD), deref(out[j].SavingUSD)
		if si != sj {
			return si > sj
		}
		return out[i].Family < out[j].Family
	})
	return out
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func family(t *Table, calls []Call, preds []Prediction, idx []int, src Sources) Opportunity {
	first := &calls[idx[0]]
	last := &calls[idx[len(idx)-1]]
	rules, _ := t.Lookup(first.Provider, first.Model)
	o := Opportunity{Family: FamilyID(first.Scope, first.FP.Family), Provider: first.Provider, Model: first.Model,
		Calls: len(idx), FirstSeen: first.At, LastSeen: last.At, ExampleRequestID: last.ID}
	if src.KeyOf != nil {
		o.KeyFingerprint = src.KeyOf(first)
	}
	days := map[string]bool{}
	var prompt, cached, actualPrompt, actualCached int64
	hasBreakpoints, breakpointsLate := false, true
	shared := make([]int64, 0, len(idx)-1)
	for k, i := range idx {
		c, p := &calls[i], preds[i]
		days[c.At.UTC().Format(time.DateOnly)] = true
		prompt += p.Prompt
		cached += p.Cached
		if c.ActualCached >= 0 && c.ActualPrompt > 0 {
			actualPrompt += c.ActualPrompt
			actualCached += c.ActualCached
		}
		if k > 0 {
			prev := &calls[idx[k-1]]
			lcp := sharedTokens(prev.FP, c.FP)
			shared = append(shared, scaleOf(c, nil).of(lcp))
			if len(c.FP.Breakpoints) > 0 {
				hasBreakpoints = true
				if c.FP.Breakpoints[0].Token <= lcp {
					breakpointsLate = false
				}
			}
		}
	}
	o.Days = len(days)
	o.AvgPromptTokens = float64(prompt) / float64(len(idx))
	if prompt > 0 {
		o.PredictedHitRate = float64(cached) / float64(prompt)
	}
	if actualPrompt > 0 {
		r := float64(actualCached) / float64(actualPrompt)
		o.ActualHitRate = &r
	}
	o.SharedPrefixTokens = median(shared)
	o.RepeatedPrefixTokens = o.SharedPrefixTokens
	at, excerpt, repeated := divergence(calls, idx, src)
	if repeated > o.RepeatedPrefixTokens {
		o.RepeatedPrefixTokens = repeated
	}
	minTokens := int64(rules.MinTokens)
	fix := o.SharedPrefixTokens
	ttl := rules.TTL
	if rules.ExplicitBreakpoints {
		ttl = rules.ExplicitTTL
	}
	switch {
	case o.RepeatedPrefixTokens >= minTokens && o.SharedPrefixTokens+4*BlockTokens < o.RepeatedPrefixTokens:
		o.Reason, fix = ReasonDynamicPrefix, o.RepeatedPrefixTokens
		o.DivergenceToken, o.DivergenceExcerpt = at, excerpt
		o.Advice = fmt.Sprintf("Prompts differ from token %d on (%q) but agree again after: move the changing text after the stable %d tokens.",
			derefInt(at), excerpt, o.RepeatedPrefixTokens)
	case rules.Mode == ModeBreakpoints && !hasBreakpoints && o.SharedPrefixTokens >= minTokens:
		o.Reason = ReasonNoBreakpoint
		o.Advice = fmt.Sprintf("No cache_control breakpoint: mark the end of the %d tokens every call repeats.", o.SharedPrefixTokens)
	case rules.Mode == ModeBreakpoints && hasBreakpoints && breakpointsLate && o.SharedPrefixTokens >= minTokens:
		o.Reason = ReasonBreakpointLate
		o.Advice = fmt.Sprintf("Every cache_control breakpoint lies after the part that changes: put one at the end of the %d stable tokens.", o.SharedPrefixTokens)
	case o.RepeatedPrefixTokens < minTokens:
		o.Reason, fix = ReasonBelowMinimum, 0
		o.Advice = fmt.Sprintf("The repeated prefix (%d tokens) is below the %d-token minimum of %s: nothing can be cached.", o.RepeatedPrefixTokens, minTokens, o.Model)
	default:
		o.Reason = ReasonNone
		for _, i := range idx {
			// A longer retention is advice only where the API has one
			// (Azure OpenAI documents none).
			if preds[i].Miss == "expired" && rules.ExtendedTTL > ttl {
				o.Reason = ReasonTTLGap
				o.Advice = fmt.Sprintf("Calls come further apart than the %v the cache lives; a longer retention (%v) would keep the entry.", ttl, rules.ExtendedTTL)
				break
			}
		}
	}
	// Tokens a fix would have read: each call after the first in its TTL
	// window reads the fixable prefix (for a TTL gap, the calls that found
	// their entry expired, with the extended TTL).
	writes, could := int64(0), int64(0)
	for k, i := range idx {
		c, p := &calls[i], preds[i]
		window := ttl
		if o.Reason == ReasonTTLGap {
			window = rules.ExtendedTTL
		}
		if k == 0 || c.At.Sub(calls[idx[k-1]].At) > window {
			writes++
			continue
		}
		if o.Reason == ReasonNone || o.Reason == ReasonTTLGap && p.Miss != "expired" {
			continue
		}
		n := min(fix, p.Prompt)
		if rules.Mode == ModePrefix && !rules.ExplicitBreakpoints && n >= minTokens {
			n = minTokens + (n-minTokens)/int64(max(rules.Step, 1))*int64(max(rules.Step, 1))
		}
		if n < minTokens {
			continue
		}
		could += n
		o.LostTokens += max(0, n-p.Cached)
	}
	// A family that already reads nine tenths of what a fix would give has
	// nothing worth fixing (an agent whose breakpoint moves with the last
	// message still hits through the look-back).
	if o.Reason != ReasonBelowMinimum && o.LostTokens*10 < could {
		o.Reason, o.Advice, o.LostTokens, o.DivergenceToken, o.DivergenceExcerpt = ReasonNone, "", 0, nil, ""
	}
	if price, ok := src.Price(o.Model); ok {
		save := float64(o.LostTokens) * (price.Input - price.CacheRead)
		if o.LostTokens > 0 {
			write := price.CacheWrite5m
			if o.Reason == ReasonTTLGap && rules.Mode == ModeBreakpoints {
				write = price.CacheWrite1h
			}
			save -= float64(writes*fix) * max(0, write-price.Input) // what writing the entry costs over plain input
		}
		save = max(save, 0)
		perDay := save / float64(o.Days)
		o.SavingUSD, o.SavingUSDPerDay = &save, &perDay
		if o.LostTokens > 0 && price.CacheRead >= price.Input {
			// A saving of 0 would read as "nothing to gain".
			o.Advice += fmt.Sprintf(" No saving is shown: the price of %s has no cache-read discount (add cache_read under pricing: if the provider gives one).", o.Model)
		}
	}
	return o
}

func derefInt(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// sharedTokens is the longest prefix (in our tokens) two fingerprints
// share, to BlockTokens.
func sharedTokens(a, b *Fingerprint) int32 {
	n := min(len(a.Cuts), len(b.Cuts))
	var lcp int32
	for i := 0; i < n && a.Cuts[i] == b.Cuts[i] && a.Hashes[i] == b.Hashes[i]; i++ {
		lcp = a.Cuts[i]
	}
	return lcp
}

func median(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// divergence compares the texts of the family's latest consecutive calls:
// where the latest pair first differs (in the API's tokens, with a masked
// excerpt), and the median prefix they share once digits are masked.
func divergence(calls []Call, idx []int, src Sources) (at *int64, excerpt string, repeated int64) {
	if src.Requests == nil || src.Tokens == nil {
		return nil, "", 0
	}
	from := max(0, len(idx)-1-maxPairsForDivergence)
	ids := make([]string, 0, len(idx)-from)
	for _, i := range idx[from:] {
		ids = append(ids, calls[i].ID)
	}
	reqs := src.Requests(ids)
	var masked []int64
	for k := from + 1; k < len(idx); k++ {
		a, b := reqs[calls[idx[k-1]].ID], reqs[calls[idx[k]].ID]
		c := &calls[idx[k]]
		if a == nil || b == nil || c.FP.Tokens == 0 {
			continue
		}
		ta, tb := a.Text(), b.Text()
		ma, mb := appendMasked(nil, ta), appendMasked(nil, tb)
		n := commonPrefix(string(ma), string(mb))
		// Masked bytes to tokens at this prompt's own density.
		perByte := float64(scaleOf(c, nil).of(c.FP.Tokens)) / float64(max(len(mb), 1))
		masked = append(masked, int64(float64(n)*perByte))
		if k == len(idx)-1 {
			d := commonPrefix(ta, tb)
			if d < len(tb) {
				off := scaleOf(c, nil).of(int32(src.Tokens(c.Model, tb[:d])))
				at, excerpt = &off, maskExcerpt(tb, d)
			}
		}
	}
	return at, excerpt, median(masked)
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// maskExcerpt is the text around byte d of s, on UTF-8 boundaries, with
// digits masked and long identifiers (keys, tokens, ids) cut after 16
// characters:
// it shows what kind of text changes, never its values.
func maskExcerpt(s string, d int) string {
	lo, hi := max(0, d-24), min(len(s), d+40)
	for lo > 0 && !utf8.RuneStart(s[lo]) {
		lo--
	}
	for hi < len(s) && !utf8.RuneStart(s[hi]) {
		hi++
	}
	var b strings.Builder
	word := 0
	for _, r := range s[lo:hi] {
		isID := r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '-'
		if !isID {
			word = 0
		} else if word++; word > 16 {
			if word == 17 {
				b.WriteString("…")
			}
			continue
		}
		if r >= '0' && r <= '9' {
			r = '#'
		}
		if r == '\n' {
			r = ' '
		}
		b.WriteRune(r)
	}
	out := b.String()
	if lo > 0 {
		out = "…" + out
	}
	if hi < len(s) {
		out += "…"
	}
	return out
}
