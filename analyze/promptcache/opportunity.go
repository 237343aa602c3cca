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
	// LatestMembers is how many of a family's latest calls Judge compares.
	LatestMembers = maxPairsForDivergence + 1
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

// An opportunity is worked out in three steps, so that a store can keep
// the per-call part and total a family without reading its calls back
// (analyze does both in SQL, and holds them to Totals and Loss):
//
//  1. Members: each call of a family, with how it follows the family's
//     call before it — all a family's row needs of a call.
//  2. Totals over a family's members; Judge reads them (and the texts of
//     the family's latest calls) and decides the reason, the advice and
//     what a fix would read (a Verdict).
//  3. Loss over the members under that Verdict; Finish prices it.

// Member is one call of a family as the opportunity analysis reads it.
type Member struct {
	Family, Provider, Model, Key string
	ID                           string
	At                           time.Time
	Tokens                       int32 // our count of the prompt
	APIPrompt                    int64 // the API's prompt count; 0 when it gave none
	Prompt, Cached               int64 // the prediction's
	Expired                      bool  // the prediction's miss reason is "expired"
	// Reported: the API reported the cache (ActualPrompt and ActualCached
	// count); else both are 0.
	Reported                   bool
	ActualPrompt, ActualCached int64
	// Follows: not the family's first call; then Gap is the time since
	// the call before and Shared the prefix both share, in the API's tokens.
	Follows bool
	Gap     time.Duration
	Shared  int64
	// Breakpoints: it has cache_control breakpoints (after the first
	// call only); BreakpointEarly: the first lies within the shared prefix.
	Breakpoints, BreakpointEarly bool
}

// Members returns the members of every family (same scope, same Family
// id) in calls, each family's in time order, families by id. preds are
// Replay's, index for index; calls the cache does not model belong to no
// family. key gives a call's key fingerprint (nil: none).
func Members(calls []Call, preds []Prediction, key func(c *Call) string) []Member {
	f := NewFamilies(key)
	var out []Member
	for _, i := range inReplayOrder(calls) {
		if m, ok := f.Add(&calls[i], preds[i]); ok {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b Member) int { return strings.Compare(a.Family, b.Family) })
	return out
}

// Families makes the Members of calls handed over one at a time in each
// scope's time order (as a Replayer serves them), keeping only each
// family's latest call.
type Families struct {
	key  func(c *Call) string
	last map[string]*Call
}

// NewFamilies makes members whose Key is key's (nil: none).
func NewFamilies(key func(c *Call) string) *Families {
	return &Families{key: key, last: map[string]*Call{}}
}

// FamilyOf returns the family call belongs to, or false.
func FamilyOf(call *Call, p Prediction) (string, bool) {
	if call.FP == nil || !p.Modelled {
		return "", false
	}
	return FamilyID(call.Scope, call.FP.Family), true
}

// Follow makes call the latest of its family without a Member: the call
// a resumed replay's first call of the family follows.
func (f *Families) Follow(call *Call) {
	f.last[FamilyID(call.Scope, call.FP.Family)] = call
}

// Add returns the Member of the next call of its family, or false when it
// belongs to none. Follows is false when the family's call before it was
// neither added nor followed.
func (f *Families) Add(c *Call, p Prediction) (Member, bool) {
	family, ok := FamilyOf(c, p)
	if !ok {
		return Member{}, false
	}
	m := Member{Family: family, Provider: c.Provider, Model: c.Model, ID: c.ID, At: c.At,
		Tokens: c.FP.Tokens, APIPrompt: c.ActualPrompt, Prompt: p.Prompt, Cached: p.Cached, Expired: p.Miss == "expired"}
	if f.key != nil {
		m.Key = f.key(c) // a scope has one key: the first call's, as the family's
	}
	if c.ActualCached >= 0 && c.ActualPrompt > 0 {
		m.Reported, m.ActualPrompt, m.ActualCached = true, c.ActualPrompt, c.ActualCached
	}
	if prev := f.last[family]; prev != nil {
		lcp := sharedTokens(prev.FP, c.FP)
		m.Follows, m.Gap, m.Shared = true, c.At.Sub(prev.At), scaleOf(c, nil).of(lcp)
		if len(c.FP.Breakpoints) > 0 {
			m.Breakpoints, m.BreakpointEarly = true, c.FP.Breakpoints[0].Token <= lcp
		}
	}
	f.last[family] = c
	return m, true
}

// Totals is what a family's row needs of all its members together.
type Totals struct {
	Family, Provider, Model, Key string // of the first member
	Calls, Days                  int    // days: distinct UTC dates with calls
	FirstSeen, LastSeen          time.Time
	LastID                       string
	Prompt, Cached               int64
	Reported                     bool // some member Reported
	ActualPrompt, ActualCached   int64
	// Shared: the median Shared of the members that follow another (the
	// upper one of an even count).
	Shared                                int64
	Breakpoints, BreakpointEarly, Expired bool // some member's
}

// Total totals one family's members, in time order.
func Total(ms []Member) Totals {
	first, last := &ms[0], &ms[len(ms)-1]
	tot := Totals{Family: first.Family, Provider: first.Provider, Model: first.Model, Key: first.Key,
		Calls: len(ms), FirstSeen: first.At, LastSeen: last.At, LastID: last.ID}
	days := map[string]bool{}
	shared := make([]int64, 0, len(ms)-1)
	for _, m := range ms {
		days[m.At.UTC().Format(time.DateOnly)] = true
		tot.Prompt += m.Prompt
		tot.Cached += m.Cached
		tot.Reported = tot.Reported || m.Reported
		tot.ActualPrompt += m.ActualPrompt
		tot.ActualCached += m.ActualCached
		if m.Follows {
			shared = append(shared, m.Shared)
		}
		tot.Breakpoints = tot.Breakpoints || m.Breakpoints
		tot.BreakpointEarly = tot.BreakpointEarly || m.BreakpointEarly
		tot.Expired = tot.Expired || m.Expired
	}
	tot.Days = len(days)
	tot.Shared = median(shared)
	return tot
}

// Verdict is what Judge decided for a family: what a fix would read, and
// which calls would read it.
type Verdict struct {
	Reason string
	Fix    int64         // the prefix a fix would make readable, in the API's tokens
	Window time.Duration // calls further apart than this write rather than read
	// OnlyExpired: only calls whose entry had expired count (a TTL gap).
	OnlyExpired bool
	// Counts: whether any call counts (not for none and below_minimum).
	Counts bool
	// MinTokens and Step round what a call would read as the API counts
	// it (Step 0: not rounded).
	MinTokens, Step int64
}

// Judge decides a family's reason and advice from its totals and the
// texts of its latest calls (latest: up to the last 21 members, in time
// order), and fills the family's row but for what Finish adds.
func Judge(t *Table, tot Totals, latest []Member, src Sources) (Opportunity, Verdict) {
	rules, _ := t.Lookup(tot.Provider, tot.Model)
	o := Opportunity{Family: tot.Family, Provider: tot.Provider, Model: tot.Model, KeyFingerprint: tot.Key,
		Calls: tot.Calls, Days: tot.Days, FirstSeen: tot.FirstSeen, LastSeen: tot.LastSeen, ExampleRequestID: tot.LastID}
	o.AvgPromptTokens = float64(tot.Prompt) / float64(tot.Calls)
	if tot.Prompt > 0 {
		o.PredictedHitRate = float64(tot.Cached) / float64(tot.Prompt)
	}
	if tot.Reported && tot.ActualPrompt > 0 {
		r := float64(tot.ActualCached) / float64(tot.ActualPrompt)
		o.ActualHitRate = &r
	}
	o.SharedPrefixTokens = tot.Shared
	o.RepeatedPrefixTokens = o.SharedPrefixTokens
	at, excerpt, repeated := divergence(latest, src)
	if repeated > o.RepeatedPrefixTokens {
		o.RepeatedPrefixTokens = repeated
	}
	minTokens := int64(rules.MinTokens)
	v := Verdict{Fix: o.SharedPrefixTokens, Window: rules.TTL, MinTokens: minTokens, Counts: true}
	if rules.ExplicitBreakpoints {
		v.Window = rules.ExplicitTTL
	}
	if rules.Mode == ModePrefix && !rules.ExplicitBreakpoints {
		v.Step = int64(max(rules.Step, 1))
	}
	switch {
	case o.RepeatedPrefixTokens >= minTokens && o.SharedPrefixTokens+4*BlockTokens < o.RepeatedPrefixTokens:
		o.Reason, v.Fix = ReasonDynamicPrefix, o.RepeatedPrefixTokens
		o.DivergenceToken, o.DivergenceExcerpt = at, excerpt
		o.Advice = fmt.Sprintf("Prompts differ from token %d on (%q) but agree again after: move the changing text after the stable %d tokens.",
			derefInt(at), excerpt, o.RepeatedPrefixTokens)
	case rules.Mode == ModeBreakpoints && !tot.Breakpoints && o.SharedPrefixTokens >= minTokens:
		o.Reason = ReasonNoBreakpoint
		o.Advice = fmt.Sprintf("No cache_control breakpoint: mark the end of the %d tokens every call repeats.", o.SharedPrefixTokens)
	case rules.Mode == ModeBreakpoints && tot.Breakpoints && !tot.BreakpointEarly && o.SharedPrefixTokens >= minTokens:
		o.Reason = ReasonBreakpointLate
		o.Advice = fmt.Sprintf("Every cache_control breakpoint lies after the part that changes: put one at the end of the %d stable tokens.", o.SharedPrefixTokens)
	case o.RepeatedPrefixTokens < minTokens:
		o.Reason, v.Fix, v.Counts = ReasonBelowMinimum, 0, false
		o.Advice = fmt.Sprintf("The repeated prefix (%d tokens) is below the %d-token minimum of %s: nothing can be cached.", o.RepeatedPrefixTokens, minTokens, o.Model)
	case tot.Expired && rules.ExtendedTTL > v.Window:
		// A longer retention is advice only where the API has one (Azure
		// OpenAI documents none).
		o.Reason = ReasonTTLGap
		o.Advice = fmt.Sprintf("Calls come further apart than the %v the cache lives; a longer retention (%v) would keep the entry.", v.Window, rules.ExtendedTTL)
		v.Window, v.OnlyExpired = rules.ExtendedTTL, true
	default:
		o.Reason, v.Counts = ReasonNone, false
	}
	v.Reason = o.Reason
	return o, v
}

// Loss is what a fix would have changed over a family's calls: the entries
// written (the first call, and each after a gap longer than the Window),
// the tokens the others could have read, and those of them not read.
type Loss struct{ Writes, Could, Lost int64 }

// Add counts one member under v.
func (l *Loss) Add(m *Member, v Verdict) {
	if !m.Follows || m.Gap > v.Window {
		l.Writes++
		return
	}
	if !v.Counts || v.OnlyExpired && !m.Expired {
		return
	}
	n := min(v.Fix, m.Prompt)
	if v.Step > 0 && n >= v.MinTokens {
		n = v.MinTokens + (n-v.MinTokens)/v.Step*v.Step
	}
	if n < v.MinTokens {
		return
	}
	l.Could += n
	l.Lost += max(0, n-m.Cached)
}

// Finish completes a family's row with its Loss and prices it.
func Finish(t *Table, o *Opportunity, v Verdict, l Loss, src Sources) {
	rules, _ := t.Lookup(o.Provider, o.Model)
	o.LostTokens = l.Lost
	// A family that already reads nine tenths of what a fix would give has
	// nothing worth fixing (an agent whose breakpoint moves with the last
	// message still hits through the look-back).
	if o.Reason != ReasonBelowMinimum && o.LostTokens*10 < l.Could {
		o.Reason, o.Advice, o.LostTokens, o.DivergenceToken, o.DivergenceExcerpt = ReasonNone, "", 0, nil, ""
	}
	price, ok := src.Price(o.Model)
	if !ok {
		return
	}
	save := float64(o.LostTokens) * (price.Input - price.CacheRead)
	if o.LostTokens > 0 {
		write := price.CacheWrite5m
		if o.Reason == ReasonTTLGap && rules.Mode == ModeBreakpoints {
			write = price.CacheWrite1h
		}
		save -= float64(l.Writes*v.Fix) * max(0, write-price.Input) // what writing the entry costs over plain input
	}
	save = max(save, 0)
	perDay := save / float64(o.Days)
	o.SavingUSD, o.SavingUSDPerDay = &save, &perDay
	if o.LostTokens > 0 && price.CacheRead >= price.Input {
		// A saving of 0 would read as "nothing to gain".
		o.Advice += fmt.Sprintf(" No saving is shown: the price of %s has no cache-read discount (add cache_read under pricing: if the provider gives one).", o.Model)
	}
}

// Opportunities groups calls into families (same scope, same Family id)
// of at least two calls and says, for each, why hits are lost and what
// fixing it would save at the model's cache prices. preds are Replay's,
// index for index.
func Opportunities(t *Table, calls []Call, preds []Prediction, src Sources) []Opportunity {
	ms := Members(calls, preds, src.KeyOf)
	var out []Opportunity
	for lo := 0; lo < len(ms); {
		hi := lo + 1
		for hi < len(ms) && ms[hi].Family == ms[lo].Family {
			hi++
		}
		family := ms[lo:hi]
		lo = hi
		if len(family) < 2 {
			continue
		}
		o, v := Judge(t, Total(family), family[max(0, len(family)-LatestMembers):], src)
		var l Loss
		for i := range family {
			l.Add(&family[i], v)
		}
		Finish(t, &o, v, l, src)
		out = append(out, o)
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

// divergence compares the texts of a family's latest consecutive calls
// (latest, in time order): where the latest pair first differs (in the
// API's tokens, with a masked excerpt), and the median prefix they share
// once digits are masked.
func divergence(latest []Member, src Sources) (at *int64, excerpt string, repeated int64) {
	if src.Requests == nil || src.Tokens == nil || len(latest) < 2 {
		return nil, "", 0
	}
	ids := make([]string, len(latest))
	for i := range latest {
		ids[i] = latest[i].ID
	}
	reqs := src.Requests(ids)
	var masked []int64
	for k := 1; k < len(latest); k++ {
		a, b := reqs[latest[k-1].ID], reqs[latest[k].ID]
		c := &latest[k]
		if a == nil || b == nil || c.Tokens == 0 {
			continue
		}
		s := scaler(1)
		if c.APIPrompt > 0 {
			s = scaler(float64(c.APIPrompt) / float64(c.Tokens))
		}
		ta, tb := a.Text(), b.Text()
		ma, mb := appendMasked(nil, ta), appendMasked(nil, tb)
		n := commonPrefix(string(ma), string(mb))
		// Masked bytes to tokens at this prompt's own density.
		perByte := float64(s.of(c.Tokens)) / float64(max(len(mb), 1))
		masked = append(masked, int64(float64(n)*perByte))
		if k == len(latest)-1 {
			d := commonPrefix(ta, tb)
			if d < len(tb) {
				off := s.of(int32(src.Tokens(c.Model, tb[:d])))
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
