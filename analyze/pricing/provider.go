package pricing

import (
	"net/url"
	"strings"

	"github.com/lessllm/lessllm/format/wire"
)

// providerHosts maps an API host (or the domain it ends with) to the
// price table's provider prefix ("deepseek/deepseek-chat"). OpenAI's and
// Anthropic's own APIs have none: the table lists their models
// unprefixed.
var providerHosts = []struct{ host, provider string }{
	{".openai.azure.com", "azure"},
	{"api.deepseek.com", "deepseek"},
	{"api.moonshot.ai", "moonshot"},
	{"api.moonshot.cn", "moonshot"},
	{"generativelanguage.googleapis.com", "gemini"},
	{"openrouter.ai", "openrouter"},
	{"api.groq.com", "groq"},
	{"api.mistral.ai", "mistral"},
	{"api.x.ai", "xai"},
	{"api.together.xyz", "together_ai"},
	{"api.fireworks.ai", "fireworks_ai"},
	{"api.deepinfra.com", "deepinfra"},
	{"api.perplexity.ai", "perplexity"},
	{"api.z.ai", "zai"},
	{"dashscope.aliyuncs.com", "dashscope"},
	{"dashscope-intl.aliyuncs.com", "dashscope"},
}

// ProviderOf names the price table's provider of the API an upstream URL
// belongs to, by its host — or, for Azure OpenAI and Gemini, also by their
// own paths (/openai/…; /v1beta/…, wire.DialectOf) on any host (a gateway
// or a private endpoint in front of them) — and
// "" for OpenAI's and Anthropic's own APIs and for hosts it does not know
// (a vLLM or Ollama server: its models are looked up by name alone).
func ProviderOf(upstreamURL string) string {
	u, err := url.Parse(upstreamURL)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	for _, p := range providerHosts {
		if host == p.host || (strings.HasPrefix(p.host, ".") && strings.HasSuffix(host, p.host)) {
			return p.provider
		}
	}
	switch {
	case strings.HasPrefix(u.Path, "/openai/"):
		return "azure"
	case wire.DialectOf(u.Path, nil) == wire.Gemini:
		return "gemini"
	}
	return ""
}

// LookupFor finds the price of model as provider (a ProviderOf name)
// bills it, in this order:
//  1. the config's pricing: entries, by the model's name with or without
//     the provider's prefix;
//  2. the provider's own entry ("azure/gpt-4o-mini"; OpenRouter's keys
//     keep the vendor's path: "openrouter/z-ai/glm-4.7");
//  3. the model as Lookup finds it elsewhere, only when every entry of the
//     table for that model name lists one input and one output price —
//     then Source says "fallback:" (cache prices are not compared:
//     gateways often list none);
//  4. nothing: the call is left unpriced.
//
// With provider "", it is Lookup.
func (t *Table) LookupFor(provider, model string) (Match, bool) {
	if t == nil || model == "" {
		return Match{}, false
	}
	if provider == "" {
		return t.Lookup(model)
	}
	names := candidates(model)
	for _, name := range names {
		// An entry may name the model as the warnings do ("azure/prod-custom").
		for _, key := range []string{provider + "/" + strings.ToLower(name), name} {
			if p, ok := t.overrides[key]; ok {
				return Match{Price: p, Key: key, Source: key, Version: "config"}, true
			}
		}
	}
	for _, name := range names {
		key := provider + "/" + strings.ToLower(name)
		if p, ok := t.models[key]; ok {
			return Match{Price: p, Key: key, Source: key, Version: t.tableVersion()}, true
		}
		if m, ok := t.retired[key]; ok {
			return m, true
		}
	}
	m, ok := t.Lookup(model)
	if !ok || !t.onePrice(m.Key) {
		return Match{}, false
	}
	m.Source = "fallback:" + m.Key
	return m, true
}

// Entry returns the price a stored Source names (a call's price_source),
// so that every pass prices a call as its analysis did.
func (t *Table) Entry(source string) (Match, bool) {
	if t == nil {
		return Match{}, false
	}
	key, fallback := strings.CutPrefix(source, "fallback:")
	var m Match
	if p, ok := t.overrides[key]; ok {
		m = Match{Price: p, Key: key, Version: "config"}
	} else if p, ok := t.models[key]; ok {
		m = Match{Price: p, Key: key, Version: t.tableVersion()}
	} else if r, ok := t.retired[key]; ok {
		m = r
	} else {
		return Match{}, false
	}
	m.Source = key
	if fallback {
		m.Source = source
	}
	return m, true
}

// onePrice reports whether every table entry for key's model name (any
// provider prefix) has key's input and output price.
func (t *Table) onePrice(key string) bool {
	return !t.mixed[key[strings.LastIndexByte(key, '/')+1:]]
}

// mixedPrices lists the model names (the last path element of a key) the
// table prices differently, input or output, under different providers.
func mixedPrices(models map[string]Price) map[string]bool {
	type io struct{ in, out float64 }
	seen := map[string]io{}
	mixed := map[string]bool{}
	for k, p := range models {
		base := k[strings.LastIndexByte(k, '/')+1:]
		if prev, ok := seen[base]; ok && prev != (io{p.Input, p.Output}) {
			mixed[base] = true
		}
		seen[base] = io{p.Input, p.Output}
	}
	return mixed
}
