package pricing

import "testing"

func TestProviderOf(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://my-resource.openai.azure.com/openai/deployments/prod/chat/completions?api-version=2024-10-21", "azure"},
		{"http://127.0.0.1:9100/openai/v1/chat/completions", "azure"}, // Azure's paths behind a gateway
		{"https://api.deepseek.com/chat/completions", "deepseek"},
		{"https://generativelanguage.googleapis.com/v1beta/openai/chat/completions", "gemini"},
		{"http://127.0.0.1:9100/v1beta/models/gemini-2.5-flash:generateContent", "gemini"}, // Gemini's paths behind a gateway
		{"http://127.0.0.1:9100/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "gemini"},
		{"https://openrouter.ai/api/v1/chat/completions", "openrouter"},
		{"https://api.openai.com/v1/chat/completions", ""},
		{"https://api.anthropic.com/v1/messages", ""},
		{"http://localhost:8000/v1/chat/completions", ""}, // a vLLM server
		{"::not a url", ""},
	} {
		if got := ProviderOf(tc.url); got != tc.want {
			t.Errorf("ProviderOf(%s) = %q, want %q", tc.url, got, tc.want)
		}
	}
}

// TestLookupFor: a provider's own entry first; another provider's only
// when every provider lists the model at one price, flagged; overrides
// before both; every match read back by Entry from its Source.
func TestLookupFor(t *testing.T) {
	table := Default()
	openai, _ := table.Lookup("gpt-4o-mini")
	for _, tc := range []struct {
		provider, model, source string
	}{
		{"azure", "gpt-4o-mini", "azure/gpt-4o-mini"},
		{"azure", "gpt-4o-mini-2024-07-18", "azure/gpt-4o-mini-2024-07-18"},
		{"deepseek", "deepseek-chat", "deepseek/deepseek-chat"},
		{"openrouter", "z-ai/glm-4.7", "openrouter/z-ai/glm-4.7"}, // the vendor's path kept
		{"", "gpt-4o-mini", "gpt-4o-mini"},
		{"groq", "claude-opus-4-5", "fallback:claude-opus-4-5"}, // one price wherever listed
		{"groq", "gpt-4o-mini", ""},                             // listed at different prices: NULL, never a guess
		{"azure", "no-such-model", ""},
	} {
		m, ok := table.LookupFor(tc.provider, tc.model)
		if m.Source != tc.source || ok != (tc.source != "") {
			t.Errorf("LookupFor(%q, %q) = %q, %v; want %q", tc.provider, tc.model, m.Source, ok, tc.source)
			continue
		}
		if !ok {
			continue
		}
		if e, ok := table.Entry(m.Source); !ok || e != m {
			t.Errorf("Entry(%q) = %+v, %v; want %+v", m.Source, e, ok, m)
		}
	}
	if azure, _ := table.LookupFor("azure", "gpt-4o-mini"); azure.Input <= openai.Input {
		t.Errorf("Azure's gpt-4o-mini input %g, OpenAI's %g: the table lists Azure's above", azure.Input, openai.Input)
	}
	over := table.WithOverrides(map[string]Price{"gpt-4o-mini": {Input: 1e-7, Output: 2e-7}})
	if m, ok := over.LookupFor("azure", "gpt-4o-mini"); !ok || m.Version != "config" || m.Input != 1e-7 {
		t.Errorf("a pricing: entry loses to the provider's: %+v", m)
	}
	custom := table.WithOverrides(map[string]Price{"azure/prod-custom": {Input: 3e-7, Output: 4e-7}})
	if m, ok := custom.LookupFor("azure", "prod-custom"); !ok || m.Source != "azure/prod-custom" || m.Input != 3e-7 {
		t.Errorf("a pricing: entry named as the warning names it (azure/prod-custom) is not used: %+v", m)
	}
	if e, ok := custom.Entry("azure/prod-custom"); !ok || e.Version != "config" {
		t.Errorf("Entry of an override: %+v", e)
	}
	if _, ok := table.Entry("missing:azure/x"); ok {
		t.Error("Entry found a missing key")
	}
}
