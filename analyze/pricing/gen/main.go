// Command gen turns the public model price table (BerriAI/litellm's
// model_prices_and_context_window.json; provenance in ../source/SOURCES.md) into
// the table lessllm embeds: per-token prices of the text models, checked
// against each provider's published cache multipliers.
//
//	go generate ./analyze/pricing
//
// The public table has known errors (ARCHITECTURE.md §8): Anthropic documents a
// 1-hour cache write at 2× the input price and a 5-minute write at 1.25×
// (docs.anthropic.com/en/docs/build-with-claude/prompt-caching#pricing), yet
// some entries list a 1-hour price below the 5-minute one. The generator
// corrects those to the documented multiplier, records each correction in
// the output, and prints it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// entry holds the fields of one price-table entry that lessllm uses.
type entry struct {
	Provider     string   `json:"litellm_provider"`
	Mode         string   `json:"mode"`
	Input        *float64 `json:"input_cost_per_token"`
	Output       *float64 `json:"output_cost_per_token"`
	CacheRead    *float64 `json:"cache_read_input_token_cost"`
	CacheWrite   *float64 `json:"cache_creation_input_token_cost"`
	CacheWrite1h *float64 `json:"cache_creation_input_token_cost_above_1hr"`
}

// textModes are the table's modes whose calls go through lessllm.
var textModes = map[string]bool{"chat": true, "completion": true, "responses": true, "embedding": true}

// anthropicProviders are the table's providers that sell Claude under
// Anthropic's cache pricing.
var anthropicProviders = map[string]bool{"anthropic": true}

// Output is the embedded table (prices.json).
type Output struct {
	Source      string                `json:"source"`
	SourceDate  string                `json:"source_date"`
	Version     string                `json:"version"`
	Models      map[string][5]float64 `json:"models"` // input, output, cache read, cache write 5m, cache write 1h (USD per token)
	LongContext map[string]Tier       `json:"long_context"`
	Retired     map[string]Retired    `json:"retired"`
	Corrections []string              `json:"corrections"`
}

// Tier is a model's long-context price: every token of a call whose prompt
// exceeds Above tokens costs Prices (the table's *_above_200k_tokens
// fields: Gemini 2.5 Pro, Claude Sonnet 4.x, GPT-5.x beyond 272k, …).
type Tier struct {
	Above  int64      `json:"above"`
	Prices [5]float64 `json:"prices"`
}

// Retired is the price of a model that has left the table, as the last
// table that listed it published it.
type Retired struct {
	Prices  [5]float64 `json:"prices"`
	Version string     `json:"version"` // litellm-<date of that table>, stored as the call's price_version
}

func main() {
	in := flag.String("in", "", "litellm model_prices_and_context_window.json")
	retired := flag.String("retired", "", "the archive of entries that left the table (written by ../retire)")
	out := flag.String("out", "prices.json", "output file")
	flag.Parse()
	raw, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	o := Output{Source: "BerriAI/litellm model_prices_and_context_window.json", Models: map[string][5]float64{},
		LongContext: map[string]Tier{}, Retired: map[string]Retired{}, Corrections: []string{}}
	if lu, ok := top["last_updated"]; ok {
		var s string
		_ = json.Unmarshal(lu, &s)
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			o.SourceDate = t.UTC().Format("2006-01-02")
		}
	}
	if o.SourceDate == "" {
		log.Fatalf("%s: no last_updated date; pass a table with one so price_version can cite it", *in)
	}
	o.Version = "litellm-" + o.SourceDate
	for name, msg := range top {
		if p, ok := convert(name, msg, &o.Corrections); ok {
			o.Models[name] = p
			if t, ok := longContext(msg, p); ok {
				o.LongContext[name] = t
			}
		}
	}
	if *retired != "" {
		if err := addRetired(&o, *retired); err != nil {
			log.Fatal(err)
		}
	}
	sort.Strings(o.Corrections)
	for _, c := range o.Corrections {
		fmt.Fprintln(os.Stderr, "gen:", c)
	}
	b, err := json.MarshalIndent(o, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "gen: %d models, %d retired, %d corrections → %s (%s)\n", len(o.Models), len(o.Retired), len(o.Corrections), *out, o.Version)
}

// convert turns one table entry into lessllm's five prices; ok is false for
// entries that are not text models or have no input price.
func convert(name string, msg json.RawMessage, notes *[]string) (p [5]float64, ok bool) {
	var e entry
	if json.Unmarshal(msg, &e) != nil || e.Input == nil || !textModes[e.Mode] {
		return p, false
	}
	p = [5]float64{*e.Input, val(e.Output), val(e.CacheRead), val(e.CacheWrite), val(e.CacheWrite1h)}
	if e.CacheRead == nil {
		p[2] = p[0] // no cache discount known: a cached token costs what an input token does
	}
	if e.CacheWrite == nil {
		p[3] = p[0]
	}
	if e.CacheWrite1h == nil {
		p[4] = p[3]
	}
	if anthropicProviders[e.Provider] {
		p = checkAnthropic(name, p, notes)
	} else if p[2] > p[0] {
		*notes = append(*notes, fmt.Sprintf("%s: flagged, cache read %g above input %g (kept)", name, p[2], p[0]))
	}
	return p, true
}

// aboveField names a long-context input price: input_cost_per_token_above_200k_tokens.
var aboveField = regexp.MustCompile(`^input_cost_per_token_above_(\d+)k_tokens$`)

// longContext reads an entry's long-context tier, whose prices are the
// base prices p where the table lists no tier price: the output price as
// it is, the cache prices scaled with the input price (they are fixed
// fractions of it).
func longContext(msg json.RawMessage, p [5]float64) (Tier, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(msg, &fields) != nil {
		return Tier{}, false
	}
	var t Tier
	suffix := ""
	for f := range fields {
		if m := aboveField.FindStringSubmatch(f); m != nil {
			k, _ := strconv.ParseInt(m[1], 10, 64)
			t.Above, suffix = k*1000, "_above_"+m[1]+"k_tokens"
		}
	}
	if suffix == "" {
		return Tier{}, false
	}
	num := func(name string) (float64, bool) {
		var v float64
		raw, ok := fields[name]
		return v, ok && json.Unmarshal(raw, &v) == nil
	}
	in, _ := num("input_cost_per_token" + suffix)
	scale := 1.0
	if p[0] > 0 {
		scale = in / p[0]
	}
	t.Prices = [5]float64{in, p[1], p[2] * scale, p[3] * scale, p[4] * scale}
	for i, name := range []string{"", "output_cost_per_token", "cache_read_input_token_cost", "cache_creation_input_token_cost", "cache_creation_input_token_cost_above_1hr"} {
		if v, ok := num(name + suffix); ok && i > 0 {
			t.Prices[i] = v
		}
	}
	return t, true
}

// addRetired adds the archived entries of models the current table no
// longer lists. The archive must end at the current table: one built from
// another day would call models retired that the table still has, or miss
// the ones it dropped.
func addRetired(o *Output, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var a struct {
		To     string `json:"to"`
		Models map[string]struct {
			LastSeen string          `json:"last_seen"`
			Entry    json.RawMessage `json:"entry"`
		} `json:"models"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if a.To != o.SourceDate {
		return fmt.Errorf("%s ends at the table of %s, the current one is of %s: rebuild it (go run ./retire)", path, a.To, o.SourceDate)
	}
	for name, r := range a.Models {
		if _, ok := o.Models[name]; ok {
			continue
		}
		if p, ok := convert(name+" (retired)", r.Entry, &o.Corrections); ok {
			o.Retired[name] = Retired{Prices: p, Version: "litellm-" + r.LastSeen}
		}
	}
	return nil
}

// checkAnthropic holds an Anthropic entry to the documented price
// structure: a 1-hour cache write costs 2× the base input price on every
// model. A 1-hour price that differs is a table error and is corrected. Cache
// reads (0.1×) and 5-minute writes (1.25×) are only flagged when they differ,
// because Anthropic publishes rounded prices for some models (Claude 3 Haiku:
// $0.30 and $0.03 per MTok on a $0.25 base) and those are what it bills.
func checkAnthropic(name string, p [5]float64, notes *[]string) [5]float64 {
	if want := 2 * p[0]; !close(p[4], want) {
		*notes = append(*notes, fmt.Sprintf("%s: corrected 1-hour cache write %g → %g (Anthropic documents 2× input %g)", name, p[4], want, p[0]))
		p[4] = want
	}
	for _, c := range []struct {
		label string
		i     int
		mult  float64
	}{{"cache read", 2, 0.1}, {"5-minute cache write", 3, 1.25}} {
		if !close(p[c.i], c.mult*p[0]) {
			*notes = append(*notes, fmt.Sprintf("%s: flagged, %s %g is not %g× input %g (kept: published price)", name, c.label, p[c.i], c.mult, p[0]))
		}
	}
	return p
}

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

func val(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
