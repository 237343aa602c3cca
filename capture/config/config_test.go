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

func TestEmptyFileIsDefaults(t *testing.T) {
	f, err := Parse("empty.yaml", nil)
	if err != nil || f.Listen != "127.0.0.1:8000" || f.Providers["openai"].BaseURL != "https://api.openai.com/v1" {
		t.Fatalf("%+v %v", f, err)
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
