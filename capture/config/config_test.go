package config

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	t.Setenv("TEST_OPENAI_KEY", "sk-from-env")
	f, err := Parse("lessllm.yaml", []byte(`
listen: 127.0.0.1:9000
capture:
  dir: /var/lib/lessllm
  node: edge-1
  segment_max_bytes: 64MiB
  segment_max_age: 30m
  flush_interval: 100ms
  max_body_bytes: 1048576
  redact_headers: [x-my-secret]
providers:
  openai: { type: openai, base_url: https://api.openai.com/v1, api_key: "${TEST_OPENAI_KEY}" }
  groq:   { type: openai, base_url: "https://api.groq.com/openai/v1", api_key: "${TEST_UNSET_KEY:-none}" }
models:
  claude: { provider: anthropic, model: claude-3-opus-20240229 }
proxy: {}
logging: { enabled: true, storage: duckdb, db_path: ./x.duckdb }
`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Listen != "127.0.0.1:9000" || f.Capture.SegmentMaxBytes != 64<<20 || f.Capture.FlushInterval != 100*time.Millisecond {
		t.Fatalf("parsed %+v", f.Capture)
	}
	if f.Providers["openai"].APIKey != "sk-from-env" || f.Providers["groq"].APIKey != "none" {
		t.Fatalf("env expansion: %q %q", f.Providers["openai"].APIKey, f.Providers["groq"].APIKey)
	}
	if f.Providers["anthropic"] == nil || f.Models["claude"].Model != "claude-3-opus-20240229" {
		t.Fatal("default anthropic provider or alias missing")
	}
	if f.Capture.MaxRequestBytes != Default().Capture.MaxRequestBytes || f.Proxy.Timeouts.Connect != 10*time.Second {
		t.Fatal("unset keys lost their defaults")
	}
}

func TestParseErrorsNameLineAndExpectation(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown_top_key", "listen: :8000\nlisen: x\n", []string{"lessllm.yaml:2:", `unknown key "lisen"`, "listen, capture, providers"}},
		{"unknown_nested_key", "capture:\n  dir: x\n  flush_intervall: 1s\n", []string{"lessllm.yaml:3:", `"flush_intervall"`, "flush_interval"}},
		{"bad_duration", "capture:\n  flush_interval: soon\n", []string{"lessllm.yaml:2:", `"soon"`, "duration"}},
		{"bad_size", "capture:\n  max_body_bytes: lots\n", []string{"lessllm.yaml:2:", "not a size"}},
		{"bad_provider_type", "providers:\n  x:\n    type: gemini\n    base_url: http://a\n", []string{"lessllm.yaml:3:", `"gemini"`, "openai", "anthropic"}},
		{"bad_base_url", "providers:\n  x: { type: openai, base_url: 'localhost:9000' }\n", []string{"lessllm.yaml:2:", "not an http(s) URL"}},
		{"alias_unknown_provider", "models:\n  fast:\n    provider: grok\n    model: m\n", []string{"lessllm.yaml:3:", `"grok" is not defined`, "anthropic, openai"}},
		{"bad_on_write_error", "capture:\n  on_write_error: ignore\n", []string{"lessllm.yaml:2:", "drop or reject"}},
		{"bad_cache_mode", "cache:\n  models:\n    gpt-4o: { mode: lru }\n", []string{"lessllm.yaml:3:", "prefix or breakpoints"}},
		{"cache_provider_without_ttl", "cache:\n  providers:\n    local-vllm: { min_tokens: 16 }\n", []string{"lessllm.yaml:3:", "needs ttl"}},
		{"bad_sensitive_pattern", "sensitive:\n  rules:\n    - { kind: emp, pattern: 'EMP-(' }\n", []string{"lessllm.yaml:3:", "not a regular expression"}},
		{"bad_budget_period", "budgets:\n  - { model: gpt-4o, period: monthly, usd: 5 }\n  - { user: team-a, period: hourly, usd: 1 }\n", []string{"lessllm.yaml:3:", "daily, weekly or monthly"}},
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
			_, err := Parse("lessllm.yaml", []byte(tc.yaml))
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

func TestEmptyFileIsDefaults(t *testing.T) {
	f, err := Parse("empty.yaml", nil)
	if err != nil || f.Listen != "127.0.0.1:8000" || f.Providers["openai"].BaseURL != "https://api.openai.com/v1" {
		t.Fatalf("%+v %v", f, err)
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
	f, err := Parse("README.md", []byte(block))
	if err != nil {
		t.Fatal(err)
	}
	if f.Models["fast"].Provider != "groq" || f.Capture.SegmentMaxBytes != 128<<20 {
		t.Fatalf("parsed %+v", f)
	}
}

// TestErrorsHidePasswords: an error that quotes the file — a value of the
// wrong type, a YAML tag — shows a proxy URL's password as xxxxx.
func TestErrorsHidePasswords(t *testing.T) {
	for _, doc := range []string{
		"capture:\n  queue_size: http://alice:hunter2@proxy:3128\n",
		"capture:\n  flush_interval: alice:hunter2@proxy\n",
		"!tag-alice:hunter2@ x\n",
		"proxy:\n  http_proxy: alice:hunter2@\n",
		"proxy: alice:hunter2@proxy\n", // yaml quotes it cut short, "alice:h...", past the @ the redaction looks for
		"capture: u:hunter2\n",
		"!000 alice:hunter2@\n",  // an unknown tag: yaml's own message, the value in backticks
		"!alice:hunter2 x\n",     // the tag itself is quoted whole
		"\"alice:hunter2\": 1\n", // an unknown key
	} {
		_, err := Parse("p.yaml", []byte(doc))
		if err == nil {
			t.Fatalf("%q parsed", doc)
		}
		// Not even its first letters ("alice:h..." is how yaml quotes a
		// value it cuts short).
		if strings.Contains(err.Error(), ":h") || !strings.Contains(err.Error(), "p.yaml") {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

func TestEndpointMatches(t *testing.T) {
	for _, tc := range []struct {
		entry, method, path string
		want                bool
	}{
		{"POST /v1/chat/completions", "POST", "/v1/chat/completions", true},
		{"POST /v1/chat/completions", "GET", "/v1/chat/completions", false},
		{"post /v1/chat/completions", "POST", "/v1/chat/completions", true},
		{"GET /v1/models/*", "GET", "/v1/models/gpt-4o", true},
		{"GET /v1/models/*", "GET", "/v1/models", false},
		{"GET /v1/models/*", "GET", "/v1/models/", false},
		{"GET /v1/models/*", "GET", "/v1/modelsx/y", false},
		{"* /v1/files/*", "DELETE", "/v1/files/file-1", true},
		{"* /v1/files/*", "DELETE", "/v1/files", false},
	} {
		e, err := ParseEndpoint(tc.entry)
		if err != nil {
			t.Fatalf("%s: %v", tc.entry, err)
		}
		if got := e.Matches(tc.method, tc.path); got != tc.want {
			t.Errorf("%q matches %s %s = %v", tc.entry, tc.method, tc.path, got)
		}
	}
}

// TestMissingKeys: a key meant to come from an unset variable is told
// apart from a provider that wants none (a local server), and named.
func TestMissingKeys(t *testing.T) {
	os.Unsetenv("LESSLLM_TEST_NO_SUCH_KEY")
	f, err := Parse("lessllm.yaml", []byte(`providers:
  anthropic: { type: anthropic, base_url: "https://api.anthropic.com", api_key: "${LESSLLM_TEST_NO_SUCH_KEY}" }
  local:     { type: openai, base_url: "http://127.0.0.1:8001/v1" }
  literal:   { type: openai, base_url: "https://x.example/v1", api_key: sk-literal }
  defaulted: { type: openai, base_url: "https://y.example/v1", api_key: "${LESSLLM_TEST_NO_SUCH_KEY:-none}" }
models:
  claude: { provider: anthropic, model: claude-sonnet-4-5 }
  small:  { provider: local, model: qwen }
  lit:    { provider: literal, model: m }
  def:    { provider: defaulted, model: m }
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.AliasesWithoutKey(); !slices.Equal(got, []string{"claude"}) {
		t.Errorf("aliases without key: %v, want [claude]", got)
	}
	if got := f.Providers["anthropic"].MissingKey(); got != "LESSLLM_TEST_NO_SUCH_KEY" {
		t.Errorf("missing key of anthropic: %q", got)
	}
	for _, name := range []string{"local", "literal", "defaulted"} {
		if got := f.Providers[name].MissingKey(); got != "" {
			t.Errorf("%s: missing key %q, want none", name, got)
		}
	}
}

// TestShippedConfigsParse: the example config of the archives and the one
// the Debian package installs are valid.
func TestShippedConfigsParse(t *testing.T) {
	for _, path := range []string{"../../docs/lessllm.yaml.example", "../../cmd/lessllm-pkg/debian/lessllm.yaml"} {
		if _, err := Load(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}
