package sensitive

import "github.com/lessllm/lessllm/format/configfile"

// Config is lessllm.yaml's sensitive: section (README "Sensitive data").
type Config struct {
	Sensitive Settings `yaml:"sensitive"`
}

// Settings turn built-in detectors off (by kind) and add patterns (e.g.
// national ID formats of other countries).
type Settings struct {
	Disable []string `yaml:"disable"`
	Rules   []Custom `yaml:"rules"`
	// Keep leaves found values in the analysis outputs' request_json and
	// response_json; by default they are replaced by masked excerpts.
	Keep bool `yaml:"keep_in_outputs"`
}

// Custom is a detector from the config: a kind and an RE2 pattern.
type Custom struct {
	Kind    string `yaml:"kind"`
	Pattern string `yaml:"pattern"`
}

// Validate reports unknown kinds and bad patterns at their lines
// (configfile.Validator).
func (c *Config) Validate(ch *configfile.Checker) {
	_, problems := compile(c.Sensitive.Disable, c.Sensitive.Rules)
	for _, p := range problems {
		ch.Bad(p.msg, p.keys...)
	}
}

// Scanner is the default detectors with these settings applied.
func (c *Config) Scanner() (*Scanner, error) {
	return New(c.Sensitive.Disable, c.Sensitive.Rules)
}
