// Package config owns the capture side's sections of lessllm.yaml: the
// proxy's listen address, segment settings, providers, model aliases,
// upstream transport, inbound keys and allowed endpoints, plus logging
// (where analyze's database goes, read by both sides). A Go program can
// also build a File directly, starting from Default.
//
// The file format itself — ${ENV} expansion, file:line errors, unknown
// keys — is format/configfile's; the analysis sections (pricing, cache,
// sensitive, budgets) belong to the analyze packages that use them and are
// passed to Parse or Load by the program that reads them too.
package config

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lessllm/lessllm/capture/egress"
	"github.com/lessllm/lessllm/format/configfile"
	"github.com/lessllm/lessllm/format/wire"
)

// File is the whole configuration file.
type File struct {
	Listen    string                `yaml:"listen"`
	Capture   Capture               `yaml:"capture"`
	Providers map[string]*Provider  `yaml:"providers"`
	Models    map[string]ModelAlias `yaml:"models"`
	Proxy     Proxy                 `yaml:"proxy"`
	Logging   Logging               `yaml:"logging"`
	// InboundKeys, when set, are the keys clients must present to use the
	// proxy: "sha256:" + 64 hex digits of the key's SHA-256, or the key
	// itself (then from ${ENV}, never written into the file).
	InboundKeys []string `yaml:"inbound_keys"`
	// AllowedEndpoints are the requests lessllm may send with an API key
	// from this file ("METHOD /path", a path ending in /* covers what is
	// below it, method * any). Nil means DefaultAllowedEndpoints. Requests
	// carrying the client's own provider key are not limited: the key is
	// theirs.
	AllowedEndpoints []string `yaml:"allowed_endpoints"`

	// Path is the file this came from ("" for Default); not read from YAML.
	Path string `yaml:"-"`
}

// Capture configures how exchanges are recorded (ARCHITECTURE.md §3).
type Capture struct {
	Dir             string              `yaml:"dir"`
	Node            string              `yaml:"node"` // "" = host name
	SegmentMaxBytes configfile.ByteSize `yaml:"segment_max_bytes"`
	SegmentMaxAge   time.Duration       `yaml:"segment_max_age"`
	FlushInterval   time.Duration       `yaml:"flush_interval"`
	// MaxBodyBytes caps the captured bytes of each body; beyond it the
	// record says truncated and the client still gets every byte.
	MaxBodyBytes configfile.ByteSize `yaml:"max_body_bytes"`
	// MaxRequestBytes refuses larger request bodies with 413.
	MaxRequestBytes configfile.ByteSize `yaml:"max_request_bytes"`
	RedactHeaders   []string            `yaml:"redact_headers"`
	// OnWriteError: "drop" keeps serving and counts lost records; "reject"
	// refuses requests while records cannot be written.
	OnWriteError string `yaml:"on_write_error"`
	// QueueSize bounds the records waiting for the segment writer.
	QueueSize int `yaml:"queue_size"`
	// ShutdownGrace is how long SIGTERM waits for in-flight streams.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request headers (slowloris).
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadBodyTimeout bounds how long a client may take to send its
	// request body once the headers are in (a body trickled a byte at a
	// time would otherwise hold its memory and connection forever).
	ReadBodyTimeout time.Duration `yaml:"read_body_timeout"`
}

// Provider is an upstream API.
type Provider struct {
	Type    string `yaml:"type"`     // openai | anthropic | azure_openai | gemini | bedrock
	BaseURL string `yaml:"base_url"` // API root as the provider's official SDK takes it (Azure: the resource endpoint)
	APIKey  string `yaml:"api_key"`  // used when the client sends none, or for aliases
	// EntraToken, for azure_openai, is a Microsoft Entra ID bearer token
	// sent instead of api_key (Authorization: Bearer).
	EntraToken string `yaml:"entra_token"`
	// APIVersion, for azure_openai, sends aliases to the deployment paths
	// (/openai/deployments/{deployment}/chat/completions?api-version=…);
	// empty sends them to Azure's v1 API (/openai/v1/…, the deployment as
	// the model).
	APIVersion string `yaml:"api_version"`
	// Deployments, for azure_openai, maps a model name (as an alias names
	// it) to the deployment that serves it; a model not listed is its own
	// deployment name.
	Deployments map[string]string `yaml:"deployments"`
	// Region, for bedrock, is the AWS region (us-east-1); base_url
	// defaults to https://bedrock-runtime.{region}.amazonaws.com.
	Region string `yaml:"region"`
	// AWSAccessKeyID, AWSSecretAccessKey and AWSSessionToken, for bedrock,
	// sign requests (SigV4); without them the standard AWS chain is used
	// (AWS_ACCESS_KEY_ID…, AWSProfile or AWS_PROFILE in ~/.aws/config and
	// credentials, SSO, container and instance roles).
	AWSAccessKeyID     string `yaml:"aws_access_key_id"`
	AWSSecretAccessKey string `yaml:"aws_secret_access_key"`
	AWSSessionToken    string `yaml:"aws_session_token"`
	AWSProfile         string `yaml:"aws_profile"`
	// Proxy, when set, replaces the top-level proxy routes for this
	// provider (timeouts and pool stay global).
	Proxy *Routes `yaml:"proxy"`
	// KeyEnv names the environment variables api_key was to come from
	// (${NAME} in the file; OPENAI_API_KEY and ANTHROPIC_API_KEY for the
	// defaults), so that an empty key can be told apart from none wanted
	// (a local server) and the missing variable named. Not read from YAML.
	KeyEnv []string `yaml:"-"`
}

// MissingKey names what is unset when the provider was configured to take
// its key from the environment and got none ("" when it has a key, or was
// never meant to have one).
func (p *Provider) MissingKey() string {
	if p.APIKey != "" || p.EntraToken != "" || len(p.KeyEnv) == 0 {
		return ""
	}
	return strings.Join(p.KeyEnv, ", ")
}

// AliasesWithoutKey lists, sorted, the aliases whose provider should have a
// configured key and has none: calls to them that bring no key of their
// own get a 401 (capture warns at start).
func (f *File) AliasesWithoutKey() []string {
	var out []string
	for _, a := range slices.Sorted(maps.Keys(f.Models)) {
		if p := f.Providers[f.Models[a].Provider]; p != nil && p.MissingKey() != "" {
			out = append(out, a)
		}
	}
	return out
}

// ModelAlias maps a model name clients send to a provider and its model.
type ModelAlias struct {
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
}

// Routes say how upstreams are reached: the http_proxy,
// https_proxy and socks_proxy, credentials, exceptions and an ordered
// fallback list. Empty everywhere: the standard environment variables
// (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY), else direct.
type Routes struct {
	HTTPProxy  string    `yaml:"http_proxy"`  // for http:// upstreams
	HTTPSProxy string    `yaml:"https_proxy"` // for https:// upstreams
	SOCKSProxy string    `yaml:"socks_proxy"` // for both, after the scheme's own proxy
	Auth       ProxyAuth `yaml:"auth"`        // for proxies whose URL carries no user:pass
	NoProxy    []string  `yaml:"no_proxy"`    // hosts reached directly
	// Fallback, when set, is the whole ordered route list ("direct" must be
	// listed to allow going around the proxies).
	Fallback []string `yaml:"fallback"`
	// CAFile holds extra PEM roots for TLS to https:// proxies (corporate CAs).
	CAFile string `yaml:"ca_file"`
}

// Configured reports whether any route is set.
func (r *Routes) Configured() bool {
	return r.HTTPProxy != "" || r.HTTPSProxy != "" || r.SOCKSProxy != "" || len(r.Fallback) > 0
}

// check reports route values that do not parse; where names the section.
func (r *Routes) check(where string, bad func(string, ...string), keys ...string) {
	at := func(k string) []string { return append(append([]string(nil), keys...), k) }
	for _, e := range []struct{ key, v string }{{"http_proxy", r.HTTPProxy}, {"https_proxy", r.HTTPSProxy}, {"socks_proxy", r.SOCKSProxy}} {
		if e.v == "" {
			continue
		}
		if _, err := egress.ParseRoute(e.v, "", ""); err != nil || e.v == "direct" {
			msg := "a proxy URL, not direct (list direct under fallback)"
			if err != nil {
				msg = err.Error()
			}
			bad(fmt.Sprintf("%s.%s: %s", where, e.key, msg), at(e.key)...)
		}
	}
	for _, v := range r.Fallback {
		if _, err := egress.ParseRoute(v, "", ""); err != nil {
			bad(fmt.Sprintf("%s.fallback: %v", where, err), at("fallback")...)
		}
	}
	if r.CAFile != "" {
		if _, err := os.ReadFile(r.CAFile); err != nil {
			bad(fmt.Sprintf("%s.ca_file: %v", where, err), at("ca_file")...)
		}
	}
}

// ProxyAuth holds proxy credentials. The password never reaches records or logs.
type ProxyAuth struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Proxy configures the upstream transport.
type Proxy struct {
	Routes   `yaml:",inline"`
	Timeouts Timeouts `yaml:"timeouts"`
	Pool     Pool     `yaml:"pool"`
}

// Timeouts of the upstream transport. IdleStream aborts a response body
// that delivers no byte for that long.
type Timeouts struct {
	Connect        time.Duration `yaml:"connect"`
	TLSHandshake   time.Duration `yaml:"tls_handshake"`
	ResponseHeader time.Duration `yaml:"response_header"`
	IdleStream     time.Duration `yaml:"idle_stream"`
}

// Pool sizes the upstream keep-alive pool.
type Pool struct {
	MaxIdlePerHost int           `yaml:"max_idle_per_host"`
	IdleTimeout    time.Duration `yaml:"idle_timeout"`
}

// Logging: whether capture records exchanges, where analyze puts its
// database, and how much capture logs on stderr.
type Logging struct {
	Enabled *bool  `yaml:"enabled"`
	Storage string `yaml:"storage"`
	DBPath  string `yaml:"db_path"`
	// Level is the lowest level capture logs: debug, info, warn (problems
	// only) or error. A --log-level flag wins.
	Level string `yaml:"level"`
	// AccessLog logs one line per exchange at info level (always at
	// debug). Off by default: at 400,000 calls a day it is ~80 MB of log,
	// and the segments record every exchange anyway.
	AccessLog bool `yaml:"access_log"`
}

// Provider types. A type names how lessllm reaches a provider; Dialect
// says which API it speaks.
const (
	OpenAI      = string(wire.OpenAI)
	Anthropic   = string(wire.Anthropic)
	AzureOpenAI = "azure_openai" // Azure OpenAI: OpenAI's API under /openai/ paths, keys in api-key
	// Gemini: Google's Generative Language API, keys in x-goog-api-key; it
	// also serves OpenAI's Chat Completions at /v1beta/openai/.
	Gemini = string(wire.Gemini)
	// Bedrock: Amazon Bedrock Runtime, requests signed with SigV4; it runs
	// Anthropic's models with the Messages API inside (invoke).
	Bedrock = string(wire.Bedrock)
)

// Dialect is the provider's own API.
func (p *Provider) Dialect() wire.Dialect {
	if p.Type == AzureOpenAI {
		return wire.OpenAI
	}
	return wire.Dialect(p.Type)
}

// DialectFor is the API lessllm speaks to the provider for a client of
// dialect client: its own, except that a Gemini provider is reached
// through its OpenAI-compatible endpoint by every client that does not
// speak Gemini (ai.google.dev/gemini-api/docs/openai).
//
// A Bedrock provider is reached by the others through invoke, with the
// Messages API of Anthropic's models inside.
func (p *Provider) DialectFor(client wire.Dialect) wire.Dialect {
	switch {
	case p.Type == Gemini && client != wire.Gemini:
		return wire.OpenAI
	case p.Type == Bedrock && client != wire.Bedrock:
		return wire.Anthropic
	}
	return p.Dialect()
}

// ModelOf is the model an Azure deployment serves: the deployments entry
// that names it, else the deployment's own name.
func (p *Provider) ModelOf(deployment string) string {
	for _, model := range slices.Sorted(maps.Keys(p.Deployments)) {
		if p.Deployments[model] == deployment {
			return model
		}
	}
	return deployment
}

// Deployment is the Azure deployment that serves model.
func (p *Provider) Deployment(model string) string {
	if d, ok := p.Deployments[model]; ok && d != "" {
		return d
	}
	return model
}

// Default returns the configuration used without a file: the public APIs
// of OpenAI, Anthropic and Gemini, with keys from OPENAI_API_KEY,
// ANTHROPIC_API_KEY and GEMINI_API_KEY (else GOOGLE_API_KEY, as Google's
// SDKs read it).
func Default() *File {
	enabled := true
	return &File{
		Listen: "127.0.0.1:8000",
		Capture: Capture{
			Dir: "./captures", SegmentMaxBytes: 128 << 20, SegmentMaxAge: time.Hour,
			FlushInterval: 200 * time.Millisecond, MaxBodyBytes: 32 << 20, MaxRequestBytes: 64 << 20,
			OnWriteError: "drop", QueueSize: 4096, ShutdownGrace: 30 * time.Second, ReadHeaderTimeout: 10 * time.Second,
			ReadBodyTimeout: time.Minute,
		},
		Providers: map[string]*Provider{
			OpenAI:    {Type: OpenAI, BaseURL: "https://api.openai.com/v1", APIKey: os.Getenv("OPENAI_API_KEY"), KeyEnv: []string{"OPENAI_API_KEY"}},
			Anthropic: {Type: Anthropic, BaseURL: "https://api.anthropic.com", APIKey: os.Getenv("ANTHROPIC_API_KEY"), KeyEnv: []string{"ANTHROPIC_API_KEY"}},
			Gemini: {Type: Gemini, BaseURL: "https://generativelanguage.googleapis.com", APIKey: cmp.Or(os.Getenv("GEMINI_API_KEY"), os.Getenv("GOOGLE_API_KEY")),
				KeyEnv: []string{"GEMINI_API_KEY", "GOOGLE_API_KEY"}},
		},
		Models: map[string]ModelAlias{},
		Proxy: Proxy{
			Timeouts: Timeouts{Connect: 10 * time.Second, TLSHandshake: 10 * time.Second, ResponseHeader: 60 * time.Second, IdleStream: 5 * time.Minute},
			Pool:     Pool{MaxIdlePerHost: 64, IdleTimeout: 90 * time.Second},
		},
		Logging: Logging{Enabled: &enabled, Storage: "duckdb", DBPath: "./lessllm.duckdb", Level: "info"},
	}
}

// Load reads and validates a configuration file over the defaults (see
// Parse).
func Load(path string, sections ...any) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, sections...)
}

// Parse validates YAML data (named path in errors) over the defaults.
// Providers and aliases in the file are added to (or replace, by name) the
// default ones. sections are the other parts of the file the caller reads
// (pricing, cache, …: see format/configfile), decoded and validated with
// it; a key that neither File nor one of them declares is an error.
func Parse(path string, data []byte, sections ...any) (*File, error) {
	f := Default()
	f.Path = path
	if err := configfile.Parse(path, data, append([]any{f}, sections...)...); err != nil {
		return nil, err
	}
	return f, nil
}

// BeforeExpand notes which variables each provider's key was to come from
// (configfile.BeforeExpander).
func (f *File) BeforeExpand() {
	for _, p := range f.Providers {
		if p != nil {
			p.KeyEnv = configfile.EnvNames(p.APIKey + p.EntraToken)
		}
	}
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// InboundKeyHashes returns the SHA-256 (hex) of every inbound key.
func (f *File) InboundKeyHashes() map[string]bool {
	out := map[string]bool{}
	for _, k := range f.InboundKeys {
		if h, ok := strings.CutPrefix(k, "sha256:"); ok {
			out[h] = true
		} else {
			out[HashKey(k)] = true
		}
	}
	return out
}

// HashKey is the hex SHA-256 of an inbound key, as inbound_keys stores it.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Validate checks values, naming the line of the offending key
// (configfile.Validator).
func (f *File) Validate(c *configfile.Checker) {
	bad := c.Bad
	if _, _, err := net.SplitHostPort(f.Listen); err != nil {
		bad(fmt.Sprintf("listen %q is not host:port (e.g. 127.0.0.1:8000 or :8000)", f.Listen), "listen")
	}
	cp := &f.Capture
	if cp.Dir == "" {
		bad("capture.dir is empty", "capture", "dir")
	}
	if cp.OnWriteError != "drop" && cp.OnWriteError != "reject" {
		bad(fmt.Sprintf("capture.on_write_error %q: want drop or reject", cp.OnWriteError), "capture", "on_write_error")
	}
	for _, p := range []struct {
		v    int64
		name string
	}{{int64(cp.SegmentMaxBytes), "segment_max_bytes"}, {int64(cp.SegmentMaxAge), "segment_max_age"}, {int64(cp.FlushInterval), "flush_interval"},
		{int64(cp.MaxBodyBytes), "max_body_bytes"}, {int64(cp.MaxRequestBytes), "max_request_bytes"}, {int64(cp.QueueSize), "queue_size"},
		{int64(cp.ReadHeaderTimeout), "read_header_timeout"}, {int64(cp.ReadBodyTimeout), "read_body_timeout"}} {
		if p.v <= 0 {
			bad(fmt.Sprintf("capture.%s must be greater than zero", p.name), "capture", p.name)
		}
	}
	names := make([]string, 0, len(f.Providers))
	for name := range f.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := f.Providers[name]
		if p == nil {
			bad(fmt.Sprintf("provider %q is empty (want type, base_url, api_key)", name), "providers", name)
			continue
		}
		if p.Type != OpenAI && p.Type != Anthropic && p.Type != AzureOpenAI && p.Type != Gemini && p.Type != Bedrock {
			bad(fmt.Sprintf("provider %q: type %q, want openai (any OpenAI-compatible API), anthropic, azure_openai, gemini or bedrock", name, p.Type), "providers", name, "type")
		}
		if p.Type == Bedrock {
			if p.Region == "" {
				bad(fmt.Sprintf("provider %q: type bedrock needs region (e.g. us-east-1)", name), "providers", name)
			} else if p.BaseURL == "" {
				p.BaseURL = "https://bedrock-runtime." + p.Region + ".amazonaws.com"
			}
			if (p.AWSAccessKeyID == "") != (p.AWSSecretAccessKey == "") {
				bad(fmt.Sprintf("provider %q: aws_access_key_id and aws_secret_access_key go together", name), "providers", name)
			}
			if p.APIKey != "" {
				bad(fmt.Sprintf("provider %q: bedrock signs with AWS credentials (aws_access_key_id, aws_secret_access_key, or the AWS chain), not api_key", name), "providers", name, "api_key")
			}
		} else if p.Region != "" || p.AWSAccessKeyID != "" || p.AWSSecretAccessKey != "" || p.AWSSessionToken != "" || p.AWSProfile != "" {
			bad(fmt.Sprintf("provider %q: region and the aws_* keys are for type bedrock", name), "providers", name)
		}
		if p.Type != AzureOpenAI && (p.APIVersion != "" || len(p.Deployments) > 0 || p.EntraToken != "") {
			bad(fmt.Sprintf("provider %q: api_version, deployments and entra_token are for type azure_openai", name), "providers", name)
		}
		if u, err := url.Parse(p.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(fmt.Sprintf("provider %q: base_url %q is not an http(s) URL", name, p.BaseURL), "providers", name, "base_url")
		} else if u.User != nil {
			// Credentials in the URL would be sent nowhere (providers take
			// keys in headers) yet travel into every message that names
			// the URL.
			bad(fmt.Sprintf("provider %q: base_url must not carry credentials (user:password@): put the key in api_key", name), "providers", name, "base_url")
		}
	}
	aliases := make([]string, 0, len(f.Models))
	for a := range f.Models {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	for _, a := range aliases {
		m := f.Models[a]
		if _, ok := f.Providers[m.Provider]; !ok {
			bad(fmt.Sprintf("model alias %q: provider %q is not defined (have: %s)", a, m.Provider, strings.Join(names, ", ")), "models", a, "provider")
		}
		if m.Model == "" {
			bad(fmt.Sprintf("model alias %q: model is empty", a), "models", a)
		}
	}
	t := f.Proxy.Timeouts
	for _, d := range []struct {
		v    time.Duration
		name string
	}{{t.Connect, "connect"}, {t.TLSHandshake, "tls_handshake"}, {t.ResponseHeader, "response_header"}, {t.IdleStream, "idle_stream"}} {
		if d.v <= 0 {
			bad(fmt.Sprintf("proxy.timeouts.%s must be greater than zero", d.name), "proxy", "timeouts", d.name)
		}
	}
	if f.Proxy.Pool.MaxIdlePerHost <= 0 || f.Proxy.Pool.IdleTimeout <= 0 {
		bad("proxy.pool: max_idle_per_host and idle_timeout must be greater than zero", "proxy", "pool")
	}
	f.Proxy.Routes.check("proxy", bad, "proxy")
	for _, k := range f.InboundKeys {
		if h, ok := strings.CutPrefix(k, "sha256:"); ok && !sha256Hex.MatchString(h) {
			bad("inbound_keys: a sha256: entry needs 64 hex digits (lessllm hash-key prints one)", "inbound_keys")
		} else if strings.TrimSpace(k) == "" {
			bad("inbound_keys: an entry is empty (an unset ${ENV}?)", "inbound_keys")
		}
	}
	for _, name := range names {
		if p := f.Providers[name]; p != nil && p.Proxy != nil { // an empty provider was reported above
			p.Proxy.check(fmt.Sprintf("providers.%s.proxy", name), bad, "providers", name, "proxy")
		}
	}
	for i, e := range f.AllowedEndpoints {
		if _, err := ParseEndpoint(e); err != nil {
			bad(fmt.Sprintf("allowed_endpoints[%d]: %v", i, err), "allowed_endpoints", fmt.Sprintf("[%d]", i))
		}
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, f.Logging.Level) {
		bad(fmt.Sprintf("logging.level %q: want debug, info, warn or error", f.Logging.Level), "logging", "level")
	}
	if f.Logging.Storage != "duckdb" {
		bad(fmt.Sprintf("logging.storage %q: only duckdb is supported", f.Logging.Storage), "logging", "storage")
	}
}
