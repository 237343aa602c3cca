package promptcache

import (
	"fmt"
	"maps"
	"slices"

	"github.com/lessllm/lessllm/format/configfile"
)

// Config is lessllm.yaml's cache: section (README "Prompt-cache
// analysis"): whether analyze runs the cache model, and overrides of the
// embedded rules (params.json).
type Config struct {
	Cache Settings `yaml:"cache"`
}

// Settings are the cache: keys. Providers are named as under providers:;
// those params.json knows follow the providers' published rules, any other
// (an OpenAI-compatible server) is modelled only when listed here. Models
// match by a substring of the model name.
type Settings struct {
	// Enabled, when false, turns the prompt-cache model off: analyze
	// leaves the estimated cache columns NULL and builds no cache advice
	// (it still keeps the prompts' fingerprints, so turning it on again
	// needs no --full). Nil means true.
	Enabled   *bool               `yaml:"enabled"`
	Providers map[string]Override `yaml:"providers"`
	Models    map[string]Override `yaml:"models"`
}

// Enabled reports whether analyze runs the prompt-cache model.
func (c *Config) Enabled() bool { return c.Cache.Enabled == nil || *c.Cache.Enabled }

// Validate checks every override as WithOverrides will apply it
// (configfile.Validator).
func (c *Config) Validate(ch *configfile.Checker) {
	base := Default()
	for _, name := range slices.Sorted(maps.Keys(c.Cache.Providers)) {
		if _, err := base.overridden(name, c.Cache.Providers[name]); err != nil {
			ch.Bad(fmt.Sprintf("cache.providers.%s: %v", name, err), "cache", "providers", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Cache.Models)) {
		if err := c.Cache.Models[name].check(); err != nil {
			ch.Bad(fmt.Sprintf("cache.models.%s: %v", name, err), "cache", "models", name)
		}
	}
}

// Table is the embedded rules with these overrides applied.
func (c *Config) Table() (*Table, error) {
	return Default().WithOverrides(c.Cache.Providers, c.Cache.Models)
}
