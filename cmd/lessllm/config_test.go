package main

import (
	"os"
	"strings"
	"testing"
)

// TestConfigErrorsInEverySection: a mistake anywhere in lessllm.yaml —
// capture's sections and the analysis sections alike — is answered at its
// line with what is expected there; an unknown key lists exactly the keys
// of its section (derived from the owning package's types).
func TestConfigErrorsInEverySection(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown_top_key", "listen: :8000\nlisen: x\n", []string{"lessllm.yaml:2:", `unknown key "lisen"`,
			"expected one of: listen, capture, providers, models, proxy, logging, inbound_keys, allowed_endpoints, pricing, cache, sensitive, budgets)"}},
		{"unknown_nested_key", "capture:\n  dir: x\n  flush_intervall: 1s\n", []string{"lessllm.yaml:3:", `"flush_intervall"`, "flush_interval"}},
		{"bad_duration", "capture:\n  flush_interval: soon\n", []string{"lessllm.yaml:2:", `"soon"`, "duration"}},
		{"bad_size", "capture:\n  max_body_bytes: lots\n", []string{"lessllm.yaml:2:", "not a size"}},
		{"bad_provider_type", "providers:\n  x:\n    type: cohere\n    base_url: http://a\n", []string{"lessllm.yaml:3:", `"cohere"`, "openai", "anthropic", "azure_openai, gemini or bedrock"}},
		{"bedrock_without_region", "providers:\n  aws:\n    type: bedrock\n    aws_profile: prod\n", []string{"lessllm.yaml:2:", "needs region"}},
		{"bedrock_half_a_key", "providers:\n  aws:\n    type: bedrock\n    region: us-east-1\n    aws_access_key_id: AKIA1\n", []string{"lessllm.yaml:2:", "go together"}},
		{"aws_keys_on_openai", "providers:\n  x: { type: openai, base_url: 'http://a', region: us-east-1 }\n", []string{"lessllm.yaml:2:", "for type bedrock"}},
		{"bad_base_url", "providers:\n  x: { type: openai, base_url: 'localhost:9000' }\n", []string{"lessllm.yaml:2:", "not an http(s) URL"}},
		{"alias_unknown_provider", "models:\n  fast:\n    provider: grok\n    model: m\n", []string{"lessllm.yaml:3:", `"grok" is not defined`, "anthropic, gemini, openai"}},
		{"bad_on_write_error", "capture:\n  on_write_error: ignore\n", []string{"lessllm.yaml:2:", "drop or reject"}},
		{"bad_cache_mode", "cache:\n  models:\n    gpt-4o: { mode: lru }\n", []string{"lessllm.yaml:3:", "prefix or breakpoints"}},
		{"cache_provider_without_ttl", "cache:\n  providers:\n    local-vllm: { min_tokens: 16 }\n", []string{"lessllm.yaml:3:", "needs ttl"}},
		{"negative_cache_value", "cache:\n  models:\n    gpt-4o: { min_tokens: -1 }\n", []string{"lessllm.yaml:3:", "cannot be negative"}},
		{"pricing_without_output", "pricing:\n  my-model: { input: 1 }\n", []string{"lessllm.yaml:2:", "input and output", "required"}},
		{"negative_price", "pricing:\n  my-model: { input: 1, output: -2 }\n", []string{"lessllm.yaml:2:", "cannot be negative"}},
		{"unknown_sensitive_kind", "sensitive:\n  disable:\n    - email\n    - emails\n", []string{"lessllm.yaml:4:", `unknown kind "emails"`, "email, "}},
		{"sensitive_rule_without_kind", "sensitive:\n  rules:\n    - { pattern: 'x' }\n", []string{"lessllm.yaml:3:", "kind is required"}},
		{"bad_sensitive_pattern", "sensitive:\n  rules:\n    - { kind: emp, pattern: 'EMP-(' }\n", []string{"lessllm.yaml:3:", "not a regular expression"}},
		{"bad_budget_period", "budgets:\n  - { model: gpt-4o, period: monthly, usd: 5 }\n  - { user: team-a, period: hourly, usd: 1 }\n", []string{"lessllm.yaml:3:", "daily, weekly or monthly"}},
		{"budget_without_limit", "budgets:\n  - { model: gpt-4o, period: daily }\n", []string{"lessllm.yaml:2:", "positive limit"}},
		{"budget_names_a_key", "budgets:\n  - { key: sk-live-123, period: daily, usd: 5 }\n", []string{"lessllm.yaml:2:", "fingerprint"}},
		{"bad_listen", "listen: 8000\n", []string{"lessllm.yaml:1:", "host:port"}},
		{"malformed_env", "providers:\n  x: { type: openai, base_url: 'http://a', api_key: '${KEY' }\n", []string{"lessllm.yaml:2:", "malformed environment reference"}},
		{"syntax_error", "capture:\n  dir: [unclosed\n", []string{"lessllm.yaml:"}},
		{"inbound_key_bad_hash", "inbound_keys: ['sha256:abc']\n", []string{"lessllm.yaml:1:", "64 hex digits"}},
		{"proxy_bad_scheme", "proxy:\n  http_proxy: ftp://p:8080\n", []string{"lessllm.yaml:2:", `scheme "ftp"`, "socks5h"}},
		{"proxy_direct_not_a_proxy", "proxy:\n  socks_proxy: direct\n", []string{"lessllm.yaml:2:", "list direct under fallback"}},
		{"proxy_bad_fallback", "proxy:\n  fallback: [socks5://127.0.0.1:1080, 'http://pro xy:80']\n", []string{"lessllm.yaml:2:", "proxy.fallback"}},
		{"base_url_with_credentials", "providers:\n  x: { type: openai, base_url: 'https://bob:hunter2secret@llm.internal/v1' }\n", []string{"lessllm.yaml:2:", "must not carry credentials", "api_key"}},
		{"bad_allowed_endpoint", "allowed_endpoints:\n  - POST /v1/chat/completions\n  - /v1/files\n", []string{"lessllm.yaml:3:", "allowed_endpoints[1]", "METHOD /path"}},
		{"allowed_endpoint_bad_method", "allowed_endpoints: ['FETCH /v1/files']\n", []string{"lessllm.yaml:1:", "unknown method"}},
		{"zero_read_body_timeout", "capture:\n  read_body_timeout: 0s\n", []string{"lessllm.yaml:2:", "read_body_timeout must be greater than zero"}},
		{"bad_log_level", "logging: {level: chatty}\n", []string{"lessllm.yaml:1:", "debug, info, warn or error"}},
		// An unknown key in any section lists exactly that section's keys.
		{"typo_proxy_inline_route", "proxy:\n  htps_proxy: http://p:1\n", []string{"lessllm.yaml:2:", "expected one of: http_proxy, https_proxy, socks_proxy, auth, no_proxy, fallback, ca_file, timeouts, pool)"}},
		{"typo_proxy_auth", "proxy:\n  auth: {user: x}\n", []string{"lessllm.yaml:2:", "expected one of: username, password)"}},
		{"typo_provider_proxy", "providers:\n  a: {type: openai, base_url: 'http://x', proxy: {htp_proxy: x}}\n", []string{"lessllm.yaml:2:", "expected one of: http_proxy, https_proxy, socks_proxy, auth, no_proxy, fallback, ca_file)"}},
		{"typo_budgets", "budgets:\n  - {perod: daily}\n", []string{"lessllm.yaml:2:", "expected one of: model, provider, user, key, period, usd)"}},
		{"typo_pricing", "pricing:\n  m: {inptu: 1}\n", []string{"lessllm.yaml:2:", "expected one of: input, output, cache_read, cache_write, cache_write_1h)"}},
		{"typo_cache", "cache:\n  enable: false\n", []string{"lessllm.yaml:2:", "expected one of: enabled, providers, models)"}},
		{"typo_cache_rule", "cache:\n  providers: {openai: {modee: x}}\n", []string{"lessllm.yaml:2:", "expected one of: mode, min_tokens, step, ttl, extended_ttl)"}},
		{"typo_sensitive", "sensitive: {rule: []}\n", []string{"lessllm.yaml:1:", "expected one of: disable, rules, keep_in_outputs)"}},
		{"typo_sensitive_rule", "sensitive: {rules: [{kind: a, patern: x}]}\n", []string{"lessllm.yaml:1:", "expected one of: kind, pattern)"}},
		{"typo_logging", "logging: {db: x}\n", []string{"lessllm.yaml:1:", "expected one of: enabled, storage, db_path, level, access_log)"}},
		{"typo_timeouts", "proxy: {timeouts: {conect: 1s}}\n", []string{"lessllm.yaml:1:", "expected one of: connect, tls_handshake, response_header, idle_stream)"}},
		{"typo_pool", "proxy: {pool: {max_idle: 1}}\n", []string{"lessllm.yaml:1:", "expected one of: max_idle_per_host, idle_timeout)"}},
		{"typo_model_alias", "models: {fast: {provder: x}}\n", []string{"lessllm.yaml:1:", "expected one of: provider, model)"}},
		{"provider_proxy_bad", "providers:\n  openai:\n    type: openai\n    base_url: https://api.openai.com/v1\n    proxy: { https_proxy: 'socks9://x:1' }\n", []string{"lessllm.yaml:5:", "providers.openai.proxy.https_proxy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("lessllm.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2secret") {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}
}

// TestREADMEConfigParses keeps the README's configuration example valid.
func TestREADMEConfigParses(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "### Configuration")
	_, block, ok2 := strings.Cut(rest, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no yaml block under ### Configuration")
	}
	cfg, err := parseConfig("README.md", []byte(block))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Models["fast"].Provider != "groq" || cfg.Capture.SegmentMaxBytes != 128<<20 {
		t.Fatalf("parsed %+v", cfg.File)
	}
}

// TestShippedConfigsParse: the example config of the archives and the one
// the Debian package installs are valid.
func TestShippedConfigsParse(t *testing.T) {
	for _, path := range []string{"../../docs/lessllm.yaml.example", "../../cmd/lessllm-pkg/debian/lessllm.yaml"} {
		if _, err := loadConfig(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}
