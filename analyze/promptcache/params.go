// Package promptcache predicts what a provider's prompt cache did for each
// call, from the prompts alone, and finds the prompt families that miss it.
//
// The rules are the providers' published ones (params.json names the
// sources and their date); the numbers in them (minimum length, TTLs, step,
// breakpoints) are data, not code — what writes and reads cost is the price
// table's (analyze/pricing), not repeated here — and lessllm.yaml can override
// them per model or add an OpenAI-compatible provider (off by default).
//
//	prompt.go       a request canonicalised in the provider's cache order, tokenised, hashed in blocks
//	params.go       the rule table and its overrides
//	replay.go       the cache, replayed call by call in time order per scope
//	opportunity.go  prompt families and what fixing their misses would save
package promptcache

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

//go:embed params.json
var paramsJSON []byte

// Mode names a provider's caching rules.
const (
	// ModePrefix is OpenAI's automatic caching: the longest previously
	// seen prefix of a long enough prompt, counted in Step-token steps.
	ModePrefix = "prefix"
	// ModeBreakpoints is Anthropic's: only prefixes that end at a
	// cache_control breakpoint are written and read.
	ModeBreakpoints = "breakpoints"
)

// Rules are the cache parameters that apply to one model.
type Rules struct {
	Mode      string
	MinTokens int // shortest cacheable prompt (prefix mode) or prefix (breakpoint mode)
	// Step is the granularity of cached counts in prefix mode; the replay
	// narrows it to what the API's own cached_tokens show (replay.go).
	Step           int
	TTL            time.Duration // idle lifetime, refreshed on every hit
	ExtendedTTL    time.Duration // prompt_cache_retention "24h" (OpenAI); cache_control ttl "1h" (Anthropic)
	MaxBreakpoints int           // cache_control / prompt_cache_breakpoint markers honoured per request
	LookbackBlocks int           // content blocks before a breakpoint checked for a hit (Anthropic: 20)
	// ExplicitBreakpoints: OpenAI's GPT-5.6+ caching (prompt_cache_options,
	// prompt_cache_breakpoint): entries at breakpoints, one implicit
	// breakpoint at the end of the prompt unless mode is "explicit".
	ExplicitBreakpoints bool
	ExplicitTTL         time.Duration
}

// Override changes some Rules of a model or provider; unset fields keep
// the table's value. It is the shape of lessllm.yaml's cache: entries
// (Config).
type Override struct {
	Mode        string        `yaml:"mode"`         // prefix | breakpoints
	MinTokens   int           `yaml:"min_tokens"`   // shortest cacheable prompt or prefix
	Step        int           `yaml:"step"`         // granularity of cached counts (prefix mode)
	TTL         time.Duration `yaml:"ttl"`          // idle lifetime of an entry
	ExtendedTTL time.Duration `yaml:"extended_ttl"` // prompt_cache_retention 24h / cache_control ttl 1h
}

// Table holds the rules of every provider and model.
type Table struct {
	Version   string
	Sources   []string
	providers map[string]Rules
	models    []modelRule
	// Model overrides match like the table's entries: a substring of the
	// lower-cased model name; the longest match wins.
	modelOverrides map[string]Override
}

type modelRule struct {
	provider, match string
	apply           func(*Rules)
}

type ruleJSON struct {
	Provider            string   `json:"provider"`
	Match               string   `json:"match"`
	Mode                string   `json:"mode"`
	MinTokens           int      `json:"min_tokens"`
	Step                int      `json:"step"`
	TTL                 duration `json:"ttl"`
	ExtendedTTL         duration `json:"extended_ttl"`
	MaxBreakpoints      int      `json:"max_breakpoints"`
	LookbackBlocks      int      `json:"lookback_blocks"`
	ExplicitBreakpoints bool     `json:"explicit_breakpoints"`
	ExplicitTTL         duration `json:"explicit_ttl"`
}

type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = duration(v)
	return err
}

// apply sets the fields r names.
func (r ruleJSON) apply(to *Rules) {
	set := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	set(&to.MinTokens, r.MinTokens)
	set(&to.Step, r.Step)
	set(&to.MaxBreakpoints, r.MaxBreakpoints)
	set(&to.LookbackBlocks, r.LookbackBlocks)
	if r.Mode != "" {
		to.Mode = r.Mode
	}
	if r.TTL != 0 {
		to.TTL = time.Duration(r.TTL)
	}
	if r.ExtendedTTL != 0 {
		to.ExtendedTTL = time.Duration(r.ExtendedTTL)
	}
	if r.ExplicitBreakpoints {
		to.ExplicitBreakpoints, to.ExplicitTTL = true, time.Duration(r.ExplicitTTL)
	}
}

// Default returns the embedded table.
func Default() *Table {
	var f struct {
		Version   string              `json:"version"`
		Sources   []string            `json:"sources"`
		Providers map[string]ruleJSON `json:"providers"`
		Models    []ruleJSON          `json:"models"`
	}
	if err := json.Unmarshal(paramsJSON, &f); err != nil {
		panic("promptcache: embedded params.json: " + err.Error()) // a build defect
	}
	t := &Table{Version: f.Version, Sources: f.Sources, providers: map[string]Rules{}}
	for name, p := range f.Providers {
		var r Rules
		p.apply(&r)
		t.providers[name] = r
	}
	for _, m := range f.Models {
		t.models = append(t.models, modelRule{provider: m.Provider, match: m.Match, apply: m.apply})
	}
	return t
}

// WithOverrides returns a copy of t with lessllm.yaml's cache: settings:
// providers (by the config's provider name; a name the table does not know
// is an OpenAI-compatible provider, cached only when configured here) and
// models (by a substring of the model name).
func (t *Table) WithOverrides(providers, models map[string]Override) (*Table, error) {
	out := *t
	out.providers = map[string]Rules{}
	for k, v := range t.providers {
		out.providers[k] = v
	}
	out.modelOverrides = map[string]Override{}
	for name, o := range providers {
		r, err := t.overridden(name, o)
		if err != nil {
			return nil, fmt.Errorf("cache.providers.%s: %w", name, err)
		}
		out.providers[name] = r
	}
	for m, o := range models {
		if err := o.check(); err != nil {
			return nil, fmt.Errorf("cache.models.%s: %w", m, err)
		}
		out.modelOverrides[strings.ToLower(m)] = o
	}
	out.Version = t.Version
	if len(providers)+len(models) > 0 {
		out.Version += "+config"
	}
	return &out, nil
}

// overridden is a provider's rules with o applied, or what is wrong with
// them: the one check of a provider's cache: entry (Config.Validate and
// WithOverrides both use it).
func (t *Table) overridden(provider string, o Override) (Rules, error) {
	if err := o.check(); err != nil {
		return Rules{}, err
	}
	r, known := t.providers[provider]
	if !known {
		// An OpenAI-compatible server: prefix caching (vLLM, SGLang and
		// similar reuse any cached prefix) unless the mode says otherwise.
		r = Rules{Mode: ModePrefix, Step: 1}
	}
	o.applyTo(&r)
	if err := r.validate(); err != nil {
		if !known && r.TTL <= 0 {
			return Rules{}, errors.New("a provider the rules do not know (an OpenAI-compatible server) needs ttl, and usually min_tokens and step")
		}
		return Rules{}, err
	}
	return r, nil
}

// check is what an override must be on its own, whoever it applies to.
func (o Override) check() error {
	if o.Mode != "" && o.Mode != ModePrefix && o.Mode != ModeBreakpoints {
		return fmt.Errorf("mode %q: want %s or %s", o.Mode, ModePrefix, ModeBreakpoints)
	}
	if o.MinTokens < 0 || o.Step < 0 || o.TTL < 0 || o.ExtendedTTL < 0 {
		return errors.New("values cannot be negative")
	}
	return nil
}

func (o Override) applyTo(r *Rules) {
	if o.Mode != "" {
		r.Mode = o.Mode
	}
	if o.MinTokens > 0 {
		r.MinTokens = o.MinTokens
	}
	if o.Step > 0 {
		r.Step = o.Step
	}
	if o.TTL > 0 {
		r.TTL = o.TTL
	}
	if o.ExtendedTTL > 0 {
		r.ExtendedTTL = o.ExtendedTTL
	}
}

func (r Rules) validate() error {
	switch {
	case r.Mode != ModePrefix && r.Mode != ModeBreakpoints:
		return fmt.Errorf("mode %q: want %s or %s", r.Mode, ModePrefix, ModeBreakpoints)
	case r.TTL <= 0:
		return fmt.Errorf("ttl is required (how long an idle entry lives, e.g. 10m)")
	case r.Step <= 0:
		return fmt.Errorf("step must be at least 1")
	}
	return nil
}

// Lookup returns the rules for a model served by the named provider, and
// false when the provider is not modelled (an OpenAI-compatible provider
// nobody configured: its caching is unknown, so nothing is predicted).
func (t *Table) Lookup(provider, model string) (Rules, bool) {
	r, ok := t.providers[provider]
	if !ok {
		return Rules{}, false
	}
	m := strings.ToLower(model)
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	for _, mr := range t.models {
		if mr.provider == provider && strings.Contains(m, mr.match) {
			mr.apply(&r)
			break
		}
	}
	best := ""
	for k := range t.modelOverrides {
		if strings.Contains(m, k) && len(k) > len(best) {
			best = k
		}
	}
	if best != "" {
		t.modelOverrides[best].applyTo(&r)
	}
	return r, true
}

// Digest identifies the rules t applies, overrides included, for telling
// whether two analysis runs replayed with the same ones.
func (t *Table) Digest() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s;", t.Version)
	for _, name := range slices.Sorted(maps.Keys(t.providers)) {
		fmt.Fprintf(&b, "p:%s=%+v;", name, t.providers[name])
	}
	for _, m := range t.models {
		fmt.Fprintf(&b, "m:%s/%s;", m.provider, m.match)
	}
	for _, name := range slices.Sorted(maps.Keys(t.modelOverrides)) {
		fmt.Fprintf(&b, "o:%s=%+v;", name, t.modelOverrides[name])
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}
