package pricing

import (
	"fmt"
	"maps"
	"slices"

	"github.com/lessllm/lessllm/format/configfile"
)

// Config is lessllm.yaml's pricing: section (README "Prices"): prices that
// override or add to the embedded table, by model name.
type Config struct {
	Pricing map[string]Setting `yaml:"pricing"`
}

// Setting is a model's price in USD per million tokens, as providers
// publish them. Omitted cache prices default to the input price (no
// discount); cache_write_1h defaults to cache_write.
type Setting struct {
	Input        *float64 `yaml:"input"`
	Output       *float64 `yaml:"output"`
	CacheRead    *float64 `yaml:"cache_read"`
	CacheWrite   *float64 `yaml:"cache_write"`
	CacheWrite1h *float64 `yaml:"cache_write_1h"`
}

// Validate requires input and output prices and no negative one
// (configfile.Validator).
func (c *Config) Validate(ch *configfile.Checker) {
	for _, model := range slices.Sorted(maps.Keys(c.Pricing)) {
		p := c.Pricing[model]
		if p.Input == nil || p.Output == nil {
			ch.Bad(fmt.Sprintf("pricing %q: input and output (USD per million tokens) are required", model), "pricing", model)
		}
		for _, v := range []*float64{p.Input, p.Output, p.CacheRead, p.CacheWrite, p.CacheWrite1h} {
			if v != nil && *v < 0 {
				ch.Bad(fmt.Sprintf("pricing %q: prices cannot be negative", model), "pricing", model)
				break
			}
		}
	}
}

// Table is the embedded table with these prices over it.
func (c *Config) Table() *Table {
	if len(c.Pricing) == 0 {
		return Default()
	}
	over := make(map[string]Price, len(c.Pricing))
	for model, s := range c.Pricing {
		over[model] = s.perToken()
	}
	return Default().WithOverrides(over)
}

// perToken converts USD per million tokens to USD per token, with the
// defaults Setting documents.
func (s Setting) perToken() Price {
	per := func(v *float64, def float64) float64 {
		if v == nil {
			return def
		}
		return *v / 1e6
	}
	in := per(s.Input, 0)
	w5 := per(s.CacheWrite, in)
	return Price{Input: in, Output: per(s.Output, 0), CacheRead: per(s.CacheRead, in), CacheWrite5m: w5, CacheWrite1h: per(s.CacheWrite1h, w5)}
}
