// Package pricing prices LLM API calls from an embedded, dated table of
// per-token prices (generated from the public litellm table by ./gen), an
// archive of the prices of models that have since left that table (built
// by ./retire), and optional overrides from the config.
package pricing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

//go:generate go run ./gen -in source/model_prices_and_context_window.json -retired source/retired.json -out prices.json

//go:embed prices.json
var embedded []byte

// Price is what one token costs, in USD, by how the API billed it.
type Price struct {
	Input        float64 // prompt tokens neither read from nor written to the cache
	Output       float64 // completion tokens, reasoning included
	CacheRead    float64
	CacheWrite5m float64 // Anthropic's default 5-minute cache write; OpenAI's explicit cache write
	CacheWrite1h float64
	// LongContext, when set, is what every token of a call whose prompt
	// exceeds LongContextAbove tokens costs instead (Gemini 2.5 Pro and
	// Claude Sonnet 4.x beyond 200,000 prompt tokens, GPT-5.x beyond
	// 272,000: the table's *_above_*k_tokens prices).
	LongContextAbove int64
	LongContext      *Price
}

// Table maps model names to prices. The zero value prices nothing.
type Table struct {
	// Version names the source and its date (e.g. "litellm-2026-07-24"),
	// with "+config" when overrides were applied.
	Version     string
	Corrections []string // what the generator corrected or flagged in the source
	overrides   map[string]Price
	models      map[string]Price
	retired     map[string]Match
	// mixed holds the model names the table prices differently under
	// different providers (LookupFor's fallback refuses them).
	mixed map[string]bool
}

// Match is the price Lookup found and where it came from.
type Match struct {
	Price
	Key string // the name that matched
	// Source is what api_calls.price_source stores: Key, or "fallback:"
	// and Key when LookupFor priced a provider's call at another
	// provider's identical price. Entry reads it back.
	Source string
	// Version is stored with the priced call (price_version): the
	// embedded table's ("litellm-2026-07-24"), for a retired model the
	// date of the last table that listed it ("litellm-2026-03-12"), or
	// "config" for a lessllm.yaml pricing: entry.
	Version string
}

// Default returns the embedded table and archive.
func Default() *Table {
	var f struct {
		Version     string                `json:"version"`
		Models      map[string][5]float64 `json:"models"`
		LongContext map[string]struct {
			Above  int64      `json:"above"`
			Prices [5]float64 `json:"prices"`
		} `json:"long_context"`
		Retired map[string]struct {
			Prices  [5]float64 `json:"prices"`
			Version string     `json:"version"`
		} `json:"retired"`
		Corrections []string `json:"corrections"`
	}
	if err := json.Unmarshal(embedded, &f); err != nil {
		panic("pricing: embedded prices.json: " + err.Error()) // a build defect, caught by the tests
	}
	t := &Table{Version: f.Version, Corrections: f.Corrections,
		models: make(map[string]Price, len(f.Models)), retired: make(map[string]Match, len(f.Retired))}
	for name, p := range f.Models {
		pr := price(p)
		if lc, ok := f.LongContext[name]; ok {
			long := price(lc.Prices)
			pr.LongContextAbove, pr.LongContext = lc.Above, &long
		}
		t.models[name] = pr
	}
	for name, r := range f.Retired {
		t.retired[name] = Match{Price: price(r.Prices), Key: name, Source: name, Version: r.Version}
	}
	t.mixed = mixedPrices(t.models)
	return t
}

func price(p [5]float64) Price {
	return Price{Input: p[0], Output: p[1], CacheRead: p[2], CacheWrite5m: p[3], CacheWrite1h: p[4]}
}

// WithOverrides returns a copy of t in which the given models (names as
// Lookup normalises them) cost what overrides say, before anything the
// table or the archive lists.
func (t *Table) WithOverrides(overrides map[string]Price) *Table {
	if len(overrides) == 0 {
		return t
	}
	c := *t
	c.Version += "+config"
	c.overrides = make(map[string]Price, len(t.overrides)+len(overrides))
	for k, v := range t.overrides {
		c.overrides[k] = v
	}
	for k, v := range overrides {
		c.overrides[strings.ToLower(k)] = v
	}
	return &c
}

// Digest identifies the prices t charges: the embedded table's version
// (the archive comes with it) and every override.
func (t *Table) Digest() string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(t.Version)
	for _, name := range slices.Sorted(maps.Keys(t.overrides)) {
		fmt.Fprintf(&b, ";%s=%+v", name, t.overrides[name])
	}
	return b.String()
}

// dateSuffix matches the dated-snapshot suffixes providers append to a
// model family: -2024-08-06 (OpenAI), -20240229 (Anthropic), @20240229
// (Vertex), and -latest.
var dateSuffix = regexp.MustCompile(`([-@]\d{4}-?\d{2}-?\d{2}|-latest)(-v\d+(:\d+)?)?$`)

// Lookup finds the price of model under the names candidates lists — the
// name as given, lower-cased, without a provider prefix ("openai/gpt-4o",
// "anthropic.claude-…"), and without a dated-snapshot suffix — first among
// the overrides, then, name by name, in the table and in the archive (so a
// retired snapshot keeps its own price rather than its family's current one).
func (t *Table) Lookup(model string) (Match, bool) {
	if t == nil || model == "" {
		return Match{}, false
	}
	names := candidates(model)
	for _, name := range names {
		if p, ok := t.overrides[name]; ok {
			return Match{Price: p, Key: name, Source: name, Version: "config"}, true
		}
	}
	for _, name := range names {
		if p, ok := t.models[name]; ok {
			return Match{Price: p, Key: name, Source: name, Version: t.tableVersion()}, true
		}
		if m, ok := t.retired[name]; ok {
			return m, true
		}
	}
	return Match{}, false
}

// tableVersion is the embedded table's version without "+config".
func (t *Table) tableVersion() string {
	v, _ := strings.CutSuffix(t.Version, "+config")
	return v
}

func candidates(model string) []string {
	out := []string{model}
	m := strings.ToLower(strings.TrimSpace(model))
	out = append(out, m)
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
		out = append(out, m)
	}
	if rest, ok := strings.CutPrefix(m, "anthropic."); ok {
		m = rest
		out = append(out, m)
	}
	if loc := dateSuffix.FindStringIndex(m); loc != nil && loc[0] > 0 {
		out = append(out, m[:loc[0]])
	}
	return out
}

// Tokens are the billed counts of one call. Prompt includes cached and
// cache-written tokens; completion includes reasoning tokens.
type Tokens struct {
	Prompt, Completion, CachedRead, CacheWrite5m, CacheWrite1h int64
}

// Cost is what the tokens cost at p, and what they would have cost with no
// prompt cache (every prompt token at the input price). A prompt beyond
// the long-context threshold prices the whole call at the long-context
// prices.
func (p Price) Cost(t Tokens) (withCache, withoutCache float64) {
	if p.LongContext != nil && t.Prompt > p.LongContextAbove {
		return p.LongContext.Cost(t)
	}
	uncached := t.Prompt - t.CachedRead - t.CacheWrite5m - t.CacheWrite1h
	if uncached < 0 {
		uncached = 0
	}
	out := float64(t.Completion) * p.Output
	withCache = float64(uncached)*p.Input + float64(t.CachedRead)*p.CacheRead +
		float64(t.CacheWrite5m)*p.CacheWrite5m + float64(t.CacheWrite1h)*p.CacheWrite1h + out
	withoutCache = float64(t.Prompt)*p.Input + out
	return withCache, withoutCache
}
