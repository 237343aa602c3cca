package promptcache

import (
	"cmp"
	"encoding/binary"
	"errors"
	"maps"
	"math"
	"slices"
	"sort"
	"time"
)

// Call is one call as the replay sees it.
type Call struct {
	ID       string
	Provider string
	Model    string // as sent upstream
	// Scope is what a provider shares cache entries within: the
	// organisation (key fingerprint), the model, and OpenAI's
	// prompt_cache_key.
	Scope string
	At    time.Time // request received
	// Usable is when the response began: an entry this call writes can be
	// read by calls that arrive after it (Anthropic: "available once the
	// first response begins"), not by calls running alongside it.
	Usable       time.Time
	FP           *Fingerprint // nil: the prompt is too short to be cached by any rule
	Retention    string       // OpenAI prompt_cache_retention
	ExplicitOnly bool         // OpenAI prompt_cache_options.mode "explicit"
	ActualPrompt int64        // the API's prompt count; 0 when it gave none
	ActualCached int64        // the API's cache reads; -1 when it gave none
}

// Prediction is what the model says the provider's cache did for a call,
// in the API's token counts.
type Prediction struct {
	Modelled             bool  // false: the provider's caching is not modelled (nothing predicted)
	Prompt               int64 // prompt tokens the prediction is relative to
	Cached               int64 // read from the cache
	Written5m, Written1h int64 // written to the cache (5-minute / 1-hour, or OpenAI's explicit writes in 5m)
	// Miss says why (more of) the prompt was not read from the cache:
	// below_minimum, no_breakpoint, first_seen, expired; "" when the
	// longest prefix seen before was read.
	Miss string
}

// HitRate is Cached / Prompt (NaN without a prompt count).
func (p Prediction) HitRate() float64 {
	if p.Prompt <= 0 {
		return math.NaN()
	}
	return float64(p.Cached) / float64(p.Prompt)
}

// Replay runs the cache over calls in time order within each scope and
// returns a prediction per call, in the order given. The result depends
// only on the calls, not on how they were split into runs: nightly
// analysis replays everything persisted so far (analyze keeps each call's
// Fingerprint), so a segment that arrives late still lands in time order.
func Replay(t *Table, calls []Call) []Prediction {
	return ReplayWith(t, calls, ParamsOf(t, calls))
}

// Params are what a replay learns from the whole dataset, per provider and
// model (keyed provider + "\x00" + model): the step cached counts come in
// (learnedSteps) and the median ratio of the API's prompt counts to ours
// (medianScales, for calls without usage). Everything else a prediction
// depends on is in its own scope, so with the same Params a replay of some
// scopes gives exactly what a replay of all of them gives for those scopes
// — what lets analyze replay only the scopes new calls touch.
type Params struct {
	Steps  map[string]int
	Scales map[string]float64
}

// ParamsOf learns the Params of calls.
func ParamsOf(t *Table, calls []Call) Params {
	return Params{Steps: learnedSteps(t, calls), Scales: medianScales(calls)}
}

// ReplayWith replays calls with the given Params (see Replay).
func ReplayWith(t *Table, calls []Call, params Params) []Prediction {
	preds, _ := Resume(t, calls, params, Checkpoints{})
	return preds
}

// Checkpoints says where Resume starts each scope and where it leaves a
// checkpoint for the next replay.
type Checkpoints struct {
	// From holds, by scope, the state to start from; a scope's calls in the
	// replay must then all be ordered at or after its checkpoint. A scope
	// without one starts empty.
	From map[string]*Checkpoint
	// Lag: a scope's new checkpoint is taken before its first call later
	// than its last call minus Lag, so that calls finishing up to Lag late
	// (a long stream, a segment re-read while it grows) still land after
	// it. Zero takes none.
	Lag time.Duration
	// MinCalls: a scope that starts empty and has fewer calls gets no
	// checkpoint (replaying it whole costs less than storing one).
	MinCalls int
}

// Checkpoint is one scope's cache as a replay left it just before call
// (At, ID): it holds every call of the scope ordered before that one. A
// replay that starts from it and covers the scope's calls from (At, ID) on
// gives exactly the predictions a replay of the whole scope gives for
// those calls — the cache is causal and the state is all it carries
// between calls.
type Checkpoint struct {
	Scope string
	At    time.Time
	ID    string
	c     *cache
}

// Resume replays calls as ReplayWith does, each scope from its checkpoint
// in cp.From when it has one, and returns the predictions, in the order
// given, and the new checkpoints, one per scope replayed that qualifies
// (cp.Lag, cp.MinCalls).
func Resume(t *Table, calls []Call, params Params, cp Checkpoints) ([]Prediction, []*Checkpoint) {
	order := inReplayOrder(calls)
	out := make([]Prediction, len(calls))
	r := NewReplayer(t, params, cp)
	for lo := 0; lo < len(order); {
		hi := lo + 1
		for hi < len(order) && calls[order[hi]].Scope == calls[order[lo]].Scope {
			hi++
		}
		r.Scope(calls[order[lo]].Scope, hi-lo, calls[order[hi-1]].At)
		for _, i := range order[lo:hi] {
			out[i] = r.Serve(&calls[i])
		}
		lo = hi
	}
	return out, r.Checkpoints()
}

// inReplayOrder returns the indexes of calls by scope, then time, then id:
// the order a replay serves them in.
func inReplayOrder(calls []Call) []int {
	order := make([]int, len(calls))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := &calls[order[a]], &calls[order[b]]
		if c := cmp.Compare(x.Scope, y.Scope); c != 0 {
			return c < 0
		}
		if !x.At.Equal(y.At) {
			return x.At.Before(y.At)
		}
		return x.ID < y.ID
	})
	return order
}

// Replayer replays calls one at a time, so that a store can hand them
// over as it reads them and keep none: each scope's calls together (Scope
// first), in time order, then id — the order Resume sorts them in.
type Replayer struct {
	t      *Table
	params Params
	cp     Checkpoints
	c      *cache
	scope  string
	keep   bool      // a checkpoint is still to be taken in this scope
	cutoff time.Time // before the first call after it
	kept   []*Checkpoint
}

// NewReplayer replays with params, from and leaving checkpoints as cp says.
func NewReplayer(t *Table, params Params, cp Checkpoints) *Replayer {
	return &Replayer{t: t, params: params, cp: cp}
}

// Scope begins the n calls of scope to be replayed, the last of them at
// last: from its checkpoint in From, or empty.
func (r *Replayer) Scope(scope string, n int, last time.Time) {
	r.scope, r.c = scope, &cache{entries: map[uint64]entry{}}
	from, resumed := r.cp.From[scope]
	if resumed {
		r.c = from.c.clone()
	}
	r.keep = r.cp.Lag > 0 && (resumed || n >= r.cp.MinCalls)
	r.cutoff = last.Add(-r.cp.Lag)
}

// Serve predicts the next call of the current scope.
func (r *Replayer) Serve(call *Call) Prediction {
	if r.keep && call.At.After(r.cutoff) {
		r.kept = append(r.kept, &Checkpoint{Scope: r.scope, At: call.At, ID: call.ID, c: r.c.clone()})
		r.keep = false
	}
	rules, ok := r.t.Lookup(call.Provider, call.Model)
	if !ok {
		return Prediction{}
	}
	if rules.Mode == ModePrefix {
		rules.Step = r.params.Steps[call.Provider+"\x00"+call.Model]
	}
	return r.c.serve(rules, call, scaleOf(call, r.params.Scales))
}

// Checkpoints returns the checkpoints taken so far.
func (r *Replayer) Checkpoints() []*Checkpoint { return r.kept }

type entry struct {
	usable, expires time.Time
	ttl             time.Duration
}

// cache is one scope's entries, keyed by prefix hash.
type cache struct {
	entries map[uint64]entry
	writes  int
}

func (c *cache) clone() *cache {
	return &cache{entries: maps.Clone(c.entries), writes: c.writes}
}

// MarshalBinary encodes the checkpoint's cache state (its scope, At and
// ID are the caller's to keep): the write count, then each entry's hash,
// usable and expiry times (Unix nanoseconds) and TTL, in hash order (the
// same state, the same bytes).
func (k *Checkpoint) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 16+32*len(k.c.entries))
	b = binary.AppendUvarint(b, uint64(k.c.writes))
	for _, h := range slices.Sorted(maps.Keys(k.c.entries)) {
		e := k.c.entries[h]
		b = binary.LittleEndian.AppendUint64(b, h)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.usable.UnixNano()))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.expires.UnixNano()))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.ttl))
	}
	return b, nil
}

// UnmarshalBinary restores the cache state MarshalBinary encoded.
func (k *Checkpoint) UnmarshalBinary(b []byte) error {
	writes, n := binary.Uvarint(b)
	if n <= 0 || (len(b)-n)%32 != 0 {
		return errors.New("promptcache: damaged checkpoint")
	}
	b = b[n:]
	c := &cache{entries: make(map[uint64]entry, len(b)/32), writes: int(writes)}
	for ; len(b) > 0; b = b[32:] {
		c.entries[binary.LittleEndian.Uint64(b)] = entry{
			usable:  time.Unix(0, int64(binary.LittleEndian.Uint64(b[8:]))),
			expires: time.Unix(0, int64(binary.LittleEndian.Uint64(b[16:]))),
			ttl:     time.Duration(binary.LittleEndian.Uint64(b[24:])),
		}
	}
	k.c = c
	return nil
}

// scaler converts our token offsets to the API's counts.
type scaler float64

func (s scaler) of(tokens int32) int64 { return int64(math.Round(float64(tokens) * float64(s))) }

func scaleOf(c *Call, medians map[string]float64) scaler {
	if c.FP != nil && c.FP.Tokens > 0 && c.ActualPrompt > 0 {
		return scaler(float64(c.ActualPrompt) / float64(c.FP.Tokens))
	}
	if m, ok := medians[c.Provider+"\x00"+c.Model]; ok {
		return scaler(m)
	}
	return 1
}

// medianScales: per model, the median ratio of the API's prompt count to
// ours, for calls whose usage the API did not report — so only for models
// that have such a call.
func medianScales(calls []Call) map[string]float64 {
	ratios := map[string][]float64{}
	needed := map[string]bool{} // a scale serves only a call without the API's count
	for _, c := range calls {
		if c.FP == nil || c.FP.Tokens == 0 {
			continue
		}
		k := c.Provider + "\x00" + c.Model
		if c.ActualPrompt > 0 {
			ratios[k] = append(ratios[k], float64(c.ActualPrompt)/float64(c.FP.Tokens))
		} else {
			needed[k] = true
		}
	}
	out := map[string]float64{}
	for k, r := range ratios {
		if needed[k] {
			slices.Sort(r)
			out[k] = r[len(r)/2]
		}
	}
	return out
}

// learnedSteps narrows each prefix-mode model's step to the greatest common
// divisor of the step and every cached count the API reported: counts in
// 128-token steps keep 128, a real count of 4,012 (not a multiple of 128)
// brings it down to 4, i.e. nearly exact.
func learnedSteps(t *Table, calls []Call) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		k := c.Provider + "\x00" + c.Model
		g, ok := out[k]
		if !ok {
			g = LearnStep(t, c.Provider, c.Model, nil)
		}
		if c.ActualCached > 0 {
			g = gcd(g, int(c.ActualCached))
		}
		out[k] = g
	}
	return out
}

// LearnStep is the step learnedSteps gives a model whose calls reported
// the positive cached counts in cached (their order and repeats do not
// matter: a greatest common divisor).
func LearnStep(t *Table, provider, model string, cached []int64) int {
	r, _ := t.Lookup(provider, model)
	g := max(r.Step, 1)
	for _, n := range cached {
		if n > 0 {
			g = gcd(g, int(n))
		}
	}
	return g
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// live reports whether an entry can be read at t.
func (e entry) live(t time.Time) bool { return !t.Before(e.usable) && t.Before(e.expires) }

func (c *cache) put(h uint64, e entry, now time.Time) {
	c.entries[h] = e
	if c.writes++; c.writes%4096 == 0 { // forget what expired, so a long replay stays small
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, k)
			}
		}
	}
}

func (c *cache) serve(r Rules, call *Call, s scaler) Prediction {
	p := Prediction{Modelled: true, Prompt: call.ActualPrompt}
	if call.FP == nil || call.FP.Tokens == 0 {
		p.Miss = "below_minimum"
		return p
	}
	if p.Prompt <= 0 {
		p.Prompt = s.of(call.FP.Tokens)
	}
	if r.Mode == ModePrefix && s.of(call.FP.Tokens) < int64(r.MinTokens) {
		p.Miss = "below_minimum" // OpenAI: the whole prompt must reach the minimum, either way of caching
		return p
	}
	switch {
	case r.Mode == ModeBreakpoints:
		c.breakpoints(r, call, s, &p)
	case r.ExplicitBreakpoints:
		c.explicit(r, call, s, &p)
	default:
		c.prefix(r, call, s, &p)
	}
	return p
}

// longestLive finds the longest prefix (largest index in cuts, among
// candidates) with a live entry; expired says a longer one had expired.
func (c *cache) longestLive(fp *Fingerprint, candidates []int32, at time.Time) (best int32, expired bool) {
	for k := len(candidates) - 1; k >= 0; k-- {
		i := candidates[k]
		e, ok := c.entries[fp.Hashes[i]]
		if !ok {
			continue
		}
		if e.live(at) {
			return i, expired
		}
		expired = expired || !at.Before(e.expires)
	}
	return -1, expired
}

func allCuts(fp *Fingerprint) []int32 {
	out := make([]int32, len(fp.Cuts))
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

func missOf(best int32, expired bool) string {
	switch {
	case expired:
		return "expired"
	case best < 0:
		return "first_seen"
	}
	return ""
}

// prefix is OpenAI's automatic caching (platform.openai.com/docs/guides/
// prompt-caching): prompts of at least MinTokens; a hit is the longest
// prefix any earlier prompt in the scope had, counted from MinTokens in
// Step-token steps; every prefix of the prompt is then cached for TTL
// (prompt_cache_retention "24h": ExtendedTTL), refreshed on each use.
func (c *cache) prefix(r Rules, call *Call, s scaler, p *Prediction) {
	fp := call.FP
	ttl := r.TTL
	if call.Retention == "24h" && r.ExtendedTTL > 0 {
		ttl = r.ExtendedTTL
	}
	best, expired := c.longestLive(fp, allCuts(fp), call.At)
	if best >= 0 {
		if n := s.of(fp.Cuts[best]); n >= int64(r.MinTokens) {
			p.Cached = int64(r.MinTokens) + (n-int64(r.MinTokens))/int64(r.Step)*int64(r.Step)
		}
	}
	if p.Cached == 0 {
		p.Miss = missOf(-1, expired)
	} else if expired {
		p.Miss = "expired"
	}
	for _, h := range fp.Hashes {
		e := entry{usable: call.Usable, expires: call.At.Add(ttl), ttl: ttl}
		if old, ok := c.entries[h]; ok && old.live(call.At) {
			e.usable = old.usable
		}
		c.put(h, e, call.At)
	}
}

// explicit is OpenAI's breakpoint caching for GPT-5.6 and later
// (prompt_cache_options, prompt_cache_breakpoint): entries are written at
// the explicit breakpoints (the latest MaxBreakpoints-1 of them plus an
// implicit one at the end of the prompt, or the latest MaxBreakpoints with
// mode "explicit"), read at any shared prefix without a look-back limit,
// not rounded to a step; writes are reported (cache_write_tokens) and
// billed apart.
func (c *cache) explicit(r Rules, call *Call, s scaler, p *Prediction) {
	fp := call.FP
	ttl := r.ExplicitTTL
	bps := fp.Breakpoints
	limit := r.MaxBreakpoints
	if !call.ExplicitOnly {
		limit--
	}
	if len(bps) > limit {
		bps = bps[len(bps)-limit:]
	}
	ends := make([]int32, 0, len(bps)+1)
	for _, b := range bps {
		ends = append(ends, b.Token)
	}
	if !call.ExplicitOnly {
		ends = append(ends, fp.Tokens)
	}
	best, expired := c.longestLive(fp, allCuts(fp), call.At)
	readEnd := int32(0)
	if best >= 0 {
		readEnd = fp.Cuts[best]
		p.Cached = s.of(readEnd)
	}
	p.Miss = missOf(best, expired)
	written := readEnd
	for _, end := range ends {
		if end <= written {
			continue
		}
		i, ok := cutAt(fp, end)
		if !ok {
			continue
		}
		c.put(fp.Hashes[i], entry{usable: call.Usable, expires: call.At.Add(ttl), ttl: ttl}, call.At)
		p.Written5m += s.of(end) - s.of(written)
		written = end
	}
}

// cutAt finds the cut at a token offset.
func cutAt(fp *Fingerprint, tok int32) (int32, bool) {
	i, ok := slices.BinarySearch(fp.Cuts, tok)
	return int32(i), ok
}

// breakpoints is Anthropic's caching (docs.anthropic.com/en/docs/
// build-with-claude/prompt-caching): only prefixes ending at a
// cache_control breakpoint (at most MaxBreakpoints) are cached, when at
// least the model's minimum; for each breakpoint the cache is checked at
// its block and up to LookbackBlocks blocks before it, the longest hit is
// read (and its entry's TTL restarts), and every breakpoint after it is
// written — 5-minute and 1-hour writes counted apart.
func (c *cache) breakpoints(r Rules, call *Call, s scaler, p *Prediction) {
	fp := call.FP
	bps := fp.Breakpoints
	if len(bps) == 0 {
		p.Miss = "no_breakpoint"
		return
	}
	if len(bps) > r.MaxBreakpoints { // the API refuses such a request; read as if the first ones counted
		bps = bps[:r.MaxBreakpoints]
	}
	minTokens := int64(r.MinTokens)
	if s.of(bps[len(bps)-1].Token) < minTokens {
		p.Miss = "below_minimum"
		return
	}
	readEnd, expired, found := int32(0), false, false
	for _, b := range bps {
		bi, ok := cutAt(fp, b.Token)
		if !ok {
			continue
		}
		// The block ends at or before the breakpoint, the breakpoint's own
		// block included, up to LookbackBlocks before it.
		k := sort.Search(len(fp.BlockEnds), func(j int) bool { return fp.BlockEnds[j] > bi })
		cands := fp.BlockEnds[max(0, k-r.LookbackBlocks-1):k]
		for j := len(cands) - 1; j >= 0; j-- {
			i := cands[j]
			if s.of(fp.Cuts[i]) < minTokens {
				break
			}
			e, ok := c.entries[fp.Hashes[i]]
			if !ok {
				continue
			}
			if !e.live(call.At) {
				expired = expired || !call.At.Before(e.expires)
				continue
			}
			if fp.Cuts[i] > readEnd {
				readEnd, found = fp.Cuts[i], true
			}
			e.expires = call.At.Add(e.ttl) // refreshed on every hit
			c.entries[fp.Hashes[i]] = e
			break
		}
	}
	p.Cached = s.of(readEnd)
	if !found {
		p.Miss = missOf(-1, expired)
	}
	written := readEnd
	for _, b := range bps {
		if b.Token <= readEnd || s.of(b.Token) < minTokens {
			continue
		}
		i, ok := cutAt(fp, b.Token)
		if !ok {
			continue
		}
		c.put(fp.Hashes[i], entry{usable: call.Usable, expires: call.At.Add(b.TTL), ttl: b.TTL}, call.At)
		n := s.of(b.Token) - s.of(written)
		if b.TTL >= time.Hour {
			p.Written1h += n
		} else {
			p.Written5m += n
		}
		written = b.Token
	}
}
