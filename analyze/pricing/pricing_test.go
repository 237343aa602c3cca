package pricing

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookupNormalises(t *testing.T) {
	table := Default()
	for _, c := range []struct{ model, key string }{
		{"gpt-4o", "gpt-4o"},
		{"gpt-4o-2024-08-06", "gpt-4o-2024-08-06"}, // a snapshot the table lists
		{"GPT-4o", "gpt-4o"},
		{"openai/gpt-4o-mini", "gpt-4o-mini"},
		{"claude-3-opus-20240229", "claude-3-opus-20240229"},
		{"claude-sonnet-4-5-20991231", "claude-sonnet-4-5"}, // a snapshot it does not: the family
		{"anthropic.claude-haiku-4-5", "claude-haiku-4-5"},
		{"gpt-4.1-latest", "gpt-4.1"},
	} {
		m, ok := table.Lookup(c.model)
		if !ok || m.Key != c.key || m.Version != table.Version {
			t.Errorf("Lookup(%q) = %q (%s), %v; want %q (%s)", c.model, m.Key, m.Version, ok, c.key, table.Version)
		}
	}
	for _, unknown := range []string{"", "my-finetune", "claude-9-haiku-latest"} {
		if m, ok := table.Lookup(unknown); ok {
			t.Errorf("Lookup(%q) found %q; want unknown (NULL cost, never 0)", unknown, m.Key)
		}
	}
}

// TestRetiredModels: a model that has left the public table keeps the
// price the last table that listed it published, dated by that table, and
// the generator's corrections apply to it too.
func TestRetiredModels(t *testing.T) {
	table := Default()
	for _, c := range []struct{ model, key, version string }{
		{"claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022", "litellm-2026-03-12"},
		{"anthropic/claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022", "litellm-2026-03-12"},
		{"claude-3-5-sonnet-20240620", "claude-3-5-sonnet-20240620", ""},
	} {
		m, ok := table.Lookup(c.model)
		if !ok || m.Key != c.key || m.Version == table.Version || (c.version != "" && m.Version != c.version) {
			t.Errorf("Lookup(%q) = %+v, %v; want the archive's %s (%s)", c.model, m, ok, c.key, c.version)
		}
	}
	// Published at $0.80/$4 per MTok; the table listed a 1-hour write of
	// $6, corrected to Anthropic's 2× input.
	m, _ := table.Lookup("claude-3-5-haiku-20241022")
	if m.Input != 0.8e-6 || m.Output != 4e-6 || m.CacheRead != 0.08e-6 || m.CacheWrite1h != 1.6e-6 {
		t.Errorf("claude-3-5-haiku-20241022: %+v", m.Price)
	}
	// A model the table still lists is priced from the table, not the
	// archive, even when an older snapshot of its family retired.
	if m, _ := table.Lookup("claude-sonnet-4-5"); m.Version != table.Version {
		t.Errorf("claude-sonnet-4-5 priced from %s", m.Version)
	}
}

func TestCost(t *testing.T) {
	p := Price{Input: 3e-6, Output: 15e-6, CacheRead: 0.3e-6, CacheWrite5m: 3.75e-6, CacheWrite1h: 6e-6}
	// 1000 prompt tokens: 600 read from the cache, 100 written for 5 min,
	// 50 for 1 h, 250 plain; 200 output.
	with, without := p.Cost(Tokens{Prompt: 1000, Completion: 200, CachedRead: 600, CacheWrite5m: 100, CacheWrite1h: 50})
	wantWith := 250*3e-6 + 600*0.3e-6 + 100*3.75e-6 + 50*6e-6 + 200*15e-6
	wantWithout := 1000*3e-6 + 200*15e-6
	if math.Abs(with-wantWith) > 1e-15 || math.Abs(without-wantWithout) > 1e-15 {
		t.Errorf("Cost = %g, %g; want %g, %g", with, without, wantWith, wantWithout)
	}
}

// TestLongContextPrices: beyond 200,000 prompt tokens Gemini 2.5 Pro bills
// every token of the call at its long-context prices (Google's pricing
// page: $2.50 / $15 per MTok instead of $1.25 / $10); at or below, the
// base prices.
func TestLongContextPrices(t *testing.T) {
	p, ok := Default().LookupFor("gemini", "gemini-2.5-pro")
	if !ok || p.LongContext == nil || p.LongContextAbove != 200000 {
		t.Fatalf("gemini-2.5-pro: %+v", p)
	}
	for _, tc := range []struct {
		prompt, cached int64
		in, read, out  float64 // USD per MTok
	}{
		{200000, 0, 1.25, 0.125, 10},
		{200001, 0, 2.50, 0.25, 15},
		{250000, 100000, 2.50, 0.25, 15},
	} {
		with, without := p.Cost(Tokens{Prompt: tc.prompt, CachedRead: tc.cached, Completion: 1000})
		wantWith := (float64(tc.prompt-tc.cached)*tc.in + float64(tc.cached)*tc.read + 1000*tc.out) / 1e6
		wantWithout := (float64(tc.prompt)*tc.in + 1000*tc.out) / 1e6
		if math.Abs(with-wantWith) > 1e-12 || math.Abs(without-wantWithout) > 1e-12 {
			t.Errorf("%d prompt tokens (%d cached): %g, %g; want %g, %g", tc.prompt, tc.cached, with, without, wantWith, wantWithout)
		}
	}
	// Anthropic's long-context 1-hour write keeps the documented 2× input.
	if c, _ := Default().Lookup("claude-sonnet-4-5"); c.LongContext == nil || c.LongContext.CacheWrite1h != 2*c.LongContext.Input {
		t.Errorf("claude-sonnet-4-5 long context: %+v", c.LongContext)
	}
}

// TestPublicTableErrorsCorrected: the source lists a 1-hour cache write
// below the 5-minute one for these models (ARCHITECTURE.md §8); Anthropic
// documents 2× the input price.
func TestPublicTableErrorsCorrected(t *testing.T) {
	table := Default()
	for _, m := range []string{"claude-3-opus-20240229", "claude-3-haiku-20240307"} {
		p, ok := table.Lookup(m)
		if !ok {
			t.Fatalf("%s missing", m)
		}
		if p.CacheWrite1h != 2*p.Input || p.CacheWrite1h < p.CacheWrite5m {
			t.Errorf("%s: 1-hour write %g, 5-minute %g, input %g", m, p.CacheWrite1h, p.CacheWrite5m, p.Input)
		}
		found := false
		for _, c := range table.Corrections {
			found = found || strings.HasPrefix(c, m+": corrected 1-hour")
		}
		if !found {
			t.Errorf("%s: correction not recorded in %q", m, table.Corrections)
		}
	}
	if !strings.HasPrefix(table.Version, "litellm-2026-") {
		t.Errorf("version %q does not cite the source date", table.Version)
	}
}

func TestOverrides(t *testing.T) {
	table := Default().WithOverrides(map[string]Price{"My-Finetune": {Input: 1e-6, Output: 2e-6}, "gpt-4o": {Input: 1, Output: 1}})
	if p, ok := table.Lookup("my-finetune"); !ok || p.Output != 2e-6 || p.Version != "config" {
		t.Errorf("override not found: %+v %v", p, ok)
	}
	if p, _ := table.Lookup("gpt-4o"); p.Input != 1 {
		t.Errorf("override does not replace the table's price: %+v", p)
	}
	// An override of a family wins over the archive's dated snapshot too.
	if p, _ := table.WithOverrides(map[string]Price{"claude-3-5-haiku": {Input: 7}}).Lookup("claude-3-5-haiku-20241022"); p.Input != 7 {
		t.Errorf("a family's override does not replace an archived snapshot: %+v", p)
	}
	if !strings.HasSuffix(table.Version, "+config") {
		t.Errorf("version %q does not say overrides were applied", table.Version)
	}
	if p, ok := table.Lookup("claude-sonnet-4-5"); !ok || p.Version != Default().Version {
		t.Errorf("a table price under overrides: %+v %v; want version %s", p, ok, Default().Version)
	}
	if p, _ := Default().Lookup("gpt-4o"); p.Input == 1 {
		t.Error("WithOverrides changed the default table")
	}
}

// TestGeneratedTableIsCurrent: prices.json is what the generator makes of
// the source table in source/ (go generate ./analyze/pricing).
func TestGeneratedTableIsCurrent(t *testing.T) {
	out := filepath.Join(t.TempDir(), "prices.json")
	cmd := exec.Command("go", "run", "./gen", "-in", "source/model_prices_and_context_window.json", "-retired", "source/retired.json", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, b)
	}
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile("prices.json")
	if !bytes.Equal(got, want) {
		t.Error("prices.json is stale: run go generate ./analyze/pricing")
	}
}
