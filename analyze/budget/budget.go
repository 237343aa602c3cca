// Package budget owns lessllm.yaml's budgets: section — spending limits
// that `lessllm budget check`, stats and the report compare spend against
// (README "Budgets") — and the periods they count over. It needs no
// database, so every build (the cgo-free capture node's too) checks the
// section; analyze.CheckBudgets measures spend against it.
package budget

import (
	"fmt"
	"strings"
	"time"

	"github.com/lessllm/lessllm/format/configfile"
)

// Config is the budgets: section.
type Config struct {
	Budgets []Budget `yaml:"budgets"`
}

// Budget is a spending limit on one model, provider, user or API key
// fingerprint — or on everything when none is named — per UTC day, week
// (from Monday) or calendar month.
type Budget struct {
	Model    string  `yaml:"model"`
	Provider string  `yaml:"provider"`
	User     string  `yaml:"user"`
	Key      string  `yaml:"key"`    // an API key fingerprint (fp:…), never a key
	Period   string  `yaml:"period"` // daily | weekly | monthly
	USD      float64 `yaml:"usd"`
}

// Validate checks every budget's period, limit and key (configfile.Validator).
func (c *Config) Validate(ch *configfile.Checker) {
	for i, b := range c.Budgets {
		at := func(key string) []string { return []string{"budgets", fmt.Sprintf("[%d]", i), key} }
		if _, _, err := Bounds(b.Period, time.Now()); err != nil {
			ch.Bad(fmt.Sprintf("budgets[%d]: %v", i, err), at("period")...)
		}
		if b.USD <= 0 {
			ch.Bad(fmt.Sprintf("budgets[%d].usd: a positive limit in USD is required", i), at("usd")...)
		}
		if b.Key != "" && !strings.HasPrefix(b.Key, "fp:") {
			ch.Bad(fmt.Sprintf("budgets[%d].key: name a key by its fingerprint (fp:…, as api_key_fingerprint shows it), never the key itself", i), at("key")...)
		}
	}
}

// Bounds is the UTC period containing now: [start, end).
func Bounds(period string, now time.Time) (start, end time.Time, err error) {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch period {
	case "daily":
		return day, day.AddDate(0, 0, 1), nil
	case "weekly":
		start := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // Monday
		return start, start.AddDate(0, 0, 7), nil
	case "monthly":
		start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0), nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("period %q: want daily, weekly or monthly", period)
}
