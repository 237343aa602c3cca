// Package pricing prices LLM API calls from an embedded, dated table of
// per-token prices (generated from the public litellm table by ./gen) with
// optional overrides from the config.
package pricing

import (
	_ "embed"
	"encoding/json"
	"regexp"
	"strings"
)

//go:generate go run ./gen -in source/model_prices_and_context_window.json -out prices.json

//go:embed prices.json
var embedded []byte

// Price is what one token costs, in USD, by how the API billed it.
type Price struct {
	Input        float64 // prompt tokens neither read from nor written to the cache
	Output       float64 // completion tokens, reasoning included
	CacheRead    float64
	CacheWrite5m float64 // Anthropic's default 5-minute cache write; OpenAI's explicit cache write
	CacheWrite1h float64
}

// Table maps model names to prices. The zero value prices nothing.
type Table struct {
	// Version names the source and its date (e.g. "litellm-2026-07-24"),
	// with "+config" when overrides were applied; it is stored with every
	// priced call (price_version).
	Version     string
	Corrections []string // what the generator corrected or flagged in the source
	models      map[string]Price
}

// Default returns the embedded table.
func Default() *Table {
	var f struct {
		Version     string                `json:"version"`
		Models      map[string][5]float64 `json:"models"`
		Corrections []string              `json:"corrections"`
	}
	if err := json.Unmarshal(embedded, &f); err != nil {
		panic("pricing: embedded prices.json: " + err.Error()) // a build defect, caught by the tests
	}
	t := &Table{Version: f.Version, Corrections: f.Corrections, models: make(map[string]Price, len(f.Models))}
	for name, p := range f.Models {
		t.models[name] = Price{p[0], p[1], p[2], p[3], p[4]}
	}
	return t
}

// WithOverrides returns a copy of t in which the given models (names as
// Lookup normalises them) cost what overrides say.
func (t *Table) WithOverrides(overrides map[string]Price) *Table {
	if len(overrides) == 0 {
		return t
	}
	c := &Table{Version: t.Version + "+config", Corrections: t.Corrections, models: make(map[string]Price, len(t.models)+len(overrides))}
	for k, v := range t.models {
		c.models[k] = v
	}
	for k, v := range overrides {
		c.models[strings.ToLower(k)] = v
	}
	return c
}

// dateSuffix matches the dated-snapshot suffixes providers append to a
// model family: -2024-08-06 (OpenAI), -20240229 (Anthropic), @20240229
// (Vertex), and -latest.
var dateSuffix = regexp.MustCompile(`([-@]\d{4}-?\d{2}-?\d{2}|-latest)(-v\d+(:\d+)?)?$`)

// Lookup finds the price of model, trying in order: the name as given,
// lower-cased, without a provider prefix ("openai/gpt-4o",
// "anthropic.claude-…"), and without a dated-snapshot suffix. It returns the
// table key that matched.
func (t *Table) Lookup(model string) (Price, string, bool) {
	if t == nil || model == "" {
		return Price{}, "", false
	}
	for _, name := range candidates(model) {
		if p, ok := t.models[name]; ok {
			return p, name, true
		}
	}
	return Price{}, "", false
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
// prompt cache (every prompt token at the input price).
func (p Price) Cost(t Tokens) (withCache, withoutCache float64) {
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
