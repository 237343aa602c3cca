// Package config reads lessllm.yaml: the capture proxy's listen address,
// segment settings, providers, model aliases and upstream transport, plus
// the sections other commands read (logging). A Go program can also build a
// File directly, starting from Default.
//
// Errors name the file, the line and what was expected; unknown keys are
// errors, never silently ignored.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lessllm/lessllm/capture/egress"
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
	// Pricing overrides or adds model prices for `lessllm analyze`.
	Pricing map[string]Price `yaml:"pricing"`
	// Cache overrides the prompt-cache rules `lessllm analyze` replays
	// (analyze/promptcache/params.json), per provider name or model.
	Cache CacheRules `yaml:"cache"`
	// Sensitive configures the secret and personal-data scan of analyze.
	Sensitive Sensitive `yaml:"sensitive"`
	// Budgets are spending limits `lessllm budget check`, stats and the
	// report compare spend against.
	Budgets []Budget `yaml:"budgets"`
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
	Dir             string        `yaml:"dir"`
	Node            string        `yaml:"node"` // "" = host name
	SegmentMaxBytes ByteSize      `yaml:"segment_max_bytes"`
	SegmentMaxAge   time.Duration `yaml:"segment_max_age"`
	FlushInterval   time.Duration `yaml:"flush_interval"`
	// MaxBodyBytes caps the captured bytes of each body; beyond it the
	// record says truncated and the client still gets every byte.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// MaxRequestBytes refuses larger request bodies with 413.
	MaxRequestBytes ByteSize `yaml:"max_request_bytes"`
	RedactHeaders   []string `yaml:"redact_headers"`
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
	Type    string `yaml:"type"`     // openai | anthropic
	BaseURL string `yaml:"base_url"` // API root as the provider's official SDK takes it
	APIKey  string `yaml:"api_key"`  // used when the client sends none, or for aliases
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
	if p.APIKey != "" || len(p.KeyEnv) == 0 {
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

// Price is a model's price in USD per million tokens, as providers
// publish them. Omitted cache prices default to the input price (no
// discount); cache_write_1h defaults to cache_write.
type Price struct {
	Input        *float64 `yaml:"input"`
	Output       *float64 `yaml:"output"`
	CacheRead    *float64 `yaml:"cache_read"`
	CacheWrite   *float64 `yaml:"cache_write"`
	CacheWrite1h *float64 `yaml:"cache_write_1h"`
}

// CacheRules override the prompt-cache model's parameters. Providers are
// named as under providers:; "openai" and "anthropic" follow the providers'
// published rules, any other (an OpenAI-compatible server) is modelled only
// when listed here. Models match by a substring of the model name.
type CacheRules struct {
	// Enabled, when false, turns the prompt-cache model off: analyze
	// leaves the estimated cache columns NULL and builds no cache advice
	// (it still keeps the prompts' fingerprints, so turning it on again
	// needs no --full). Nil means true.
	Enabled   *bool                `yaml:"enabled"`
	Providers map[string]CacheRule `yaml:"providers"`
	Models    map[string]CacheRule `yaml:"models"`
}

// Budget is a spending limit on one model, provider, user or key
// fingerprint (or on everything when none is named) per period.
type Budget struct {
	Model    string  `yaml:"model"`
	Provider string  `yaml:"provider"`
	User     string  `yaml:"user"`
	Key      string  `yaml:"key"` // an API key fingerprint (fp:…), never a key
	Period   string  `yaml:"period"`
	USD      float64 `yaml:"usd"`
}

// Sensitive turns built-in detectors off (by kind) and adds patterns
// (e.g. national ID formats of other countries).
type Sensitive struct {
	Disable []string        `yaml:"disable"`
	Rules   []SensitiveRule `yaml:"rules"`
	// Keep leaves found values in the analysis outputs' request_json and
	// response_json; by default they are replaced by masked excerpts.
	Keep bool `yaml:"keep_in_outputs"`
}

// SensitiveRule is a detector from the config: a kind and an RE2 pattern.
type SensitiveRule struct {
	Kind    string `yaml:"kind"`
	Pattern string `yaml:"pattern"`
}

// CacheRule is one set of overrides; unset fields keep the table's value.
type CacheRule struct {
	Mode        string        `yaml:"mode"`         // prefix | breakpoints
	MinTokens   int           `yaml:"min_tokens"`   // shortest cacheable prompt or prefix
	Step        int           `yaml:"step"`         // granularity of cached counts (prefix mode)
	TTL         time.Duration `yaml:"ttl"`          // idle lifetime of an entry
	ExtendedTTL time.Duration `yaml:"extended_ttl"` // prompt_cache_retention 24h / cache_control ttl 1h
}

// CacheModel reports whether analyze runs the prompt-cache model
// (cache.enabled, default true).
func (f *File) CacheModel() bool { return f.Cache.Enabled == nil || *f.Cache.Enabled }

// Provider types. A type names how lessllm reaches a provider; Dialect
// says which API it speaks (today each type speaks the dialect of its name).
const (
	OpenAI    = string(wire.OpenAI)
	Anthropic = string(wire.Anthropic)
)

// Dialect is the API the provider speaks.
func (p *Provider) Dialect() wire.Dialect { return wire.Dialect(p.Type) }

// Default returns the configuration used without a file: the two public
// APIs with keys from OPENAI_API_KEY and ANTHROPIC_API_KEY.
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
		},
		Models: map[string]ModelAlias{},
		Proxy: Proxy{
			Timeouts: Timeouts{Connect: 10 * time.Second, TLSHandshake: 10 * time.Second, ResponseHeader: 60 * time.Second, IdleStream: 5 * time.Minute},
			Pool:     Pool{MaxIdlePerHost: 64, IdleTimeout: 90 * time.Second},
		},
		Logging: Logging{Enabled: &enabled, Storage: "duckdb", DBPath: "./lessllm.duckdb", Level: "info"},
	}
}

// Load reads and validates a configuration file over the defaults.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates YAML data (named path in errors) over the defaults.
// Providers and aliases in the file are added to (or replace, by name) the
// default ones.
func Parse(path string, data []byte) (*File, error) {
	f, err := parse(path, data)
	if err != nil {
		// Errors quote the file (a value of the wrong type, a YAML tag): a
		// proxy password typed in the wrong place must not reach a log.
		msg := credentials.ReplaceAllString(err.Error(), "$1:xxxxx@")
		msg = yamlTag.ReplaceAllString(msg, "$1$2:…")
		return nil, errors.New(yamlQuote.ReplaceAllString(msg, "`$1:…`"))
	}
	return f, nil
}

// yamlQuote matches a value yaml's own messages quote in backticks. yaml
// cuts values longer than 10 bytes to 7 and "...", which can split
// user:password@ before its @ — past the credentials pattern — and leave
// the password's first letters ("user:se..."): what follows the colon is
// masked. (explain rewrites the messages it understands the same way.)
var yamlQuote = regexp.MustCompile("`([^`:]*):[^`]*`")

// yamlTag matches a YAML tag (!name) with a colon in yaml's messages
// ("cannot unmarshal !user:pass ..."): a tag is the user's own text and is
// never cut short, so what follows its colon is masked like a quote's.
var yamlTag = regexp.MustCompile("(^|\\s)(![^\\s:`]*):\\S*")

// credentials matches the user:password@ of a URL's userinfo, with or
// without a scheme before it.
var credentials = regexp.MustCompile("([^\\s:/@\"'`]+):[^\\s/@\"'`]+@")

func parse(path string, data []byte) (*File, error) {
	f := Default()
	f.Path = path
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) == 0 { // empty file: defaults
		return f, nil
	}
	if err := checkEnv(path, &root); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		return nil, explain(path, err)
	}
	for _, p := range f.Providers {
		if p == nil {
			continue
		}
		for _, m := range envRef.FindAllStringSubmatch(p.APIKey, -1) { // before expansion: ${NAME} still there
			p.KeyEnv = append(p.KeyEnv, m[1])
		}
	}
	expandStrings(reflect.ValueOf(f).Elem())
	if err := f.validate(&root); err != nil {
		return nil, err
	}
	return f, nil
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

// ByteSize is a size in bytes; YAML accepts an integer or "64KiB", "128MiB",
// "1GiB" (also KB/MB/GB as powers of 1000).
type ByteSize int64

var sizeUnits = map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30}

func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimSpace(n.Value)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToUpper(strings.TrimSpace(s[i:]))
	}
	mult, ok := sizeUnits[unit]
	v, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a size (want bytes, or a number with KiB, MiB, GiB)", n.Line, n.Value)
	}
	*b = ByteSize(v * float64(mult))
	return nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

// expand replaces ${VAR} and ${VAR:-default} in s. Only the braced form is
// expanded, so a literal '$' in a password stays as it is.
func expand(s string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRef.FindStringSubmatch(m)
		if v, ok := os.LookupEnv(sub[1]); ok && v != "" {
			return v
		}
		return strings.TrimPrefix(sub[2], ":-")
	})
}

// checkEnv rejects malformed ${...} references with their line.
func checkEnv(path string, n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		rest := envRef.ReplaceAllString(n.Value, "")
		if strings.Contains(rest, "${") {
			return fmt.Errorf("%s:%d: malformed environment reference in %q (want ${NAME} or ${NAME:-default})", path, n.Line, n.Value)
		}
	}
	for _, c := range n.Content {
		if err := checkEnv(path, c); err != nil {
			return err
		}
	}
	return nil
}

// expandStrings expands environment references in every string reachable
// from v (struct fields, map values, slice elements).
func expandStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(expand(v.String()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			expandStrings(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				expandStrings(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			expandStrings(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := v.MapIndex(k)
			if e.Kind() == reflect.String {
				v.SetMapIndex(k, reflect.ValueOf(expand(e.String())))
				continue
			}
			if e.Kind() == reflect.Struct { // map values are not addressable
				c := reflect.New(e.Type()).Elem()
				c.Set(e)
				expandStrings(c)
				v.SetMapIndex(k, c)
				continue
			}
			expandStrings(e)
		}
	}
}

var (
	lineMsg     = regexp.MustCompile(`^line (\d+): (.*)$`)
	notFoundMsg = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	cannotMsg   = regexp.MustCompile(`^cannot unmarshal !!(\w+) ` + "`" + `?(.*?)` + "`" + `? into (\S+)$`)
	// typeSections maps the type names yaml.v3 puts in its errors
	// ("config.Routes") to the types, for every struct reachable from File.
	typeSections = sectionTypes(reflect.TypeOf(File{}), map[string]reflect.Type{})
)

// explain turns yaml.v3's decode errors into "file:line: what is wrong,
// what is expected" lines.
func explain(path string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := lineMsg.FindStringSubmatch(msg); m != nil {
			return fmt.Errorf("%s:%s: %s", path, m[1], m[2])
		}
		return fmt.Errorf("%s: %s", path, msg)
	}
	var out []string
	for _, e := range te.Errors {
		m := lineMsg.FindStringSubmatch(e)
		if m == nil {
			out = append(out, path+": "+e)
			continue
		}
		line, msg := m[1], m[2]
		if nf := notFoundMsg.FindStringSubmatch(msg); nf != nil {
			msg = fmt.Sprintf("unknown key %q (expected one of: %s)", maskAfterColon(nf[1]), strings.Join(yamlKeys(typeSections[nf[2]]), ", "))
		} else if cu := cannotMsg.FindStringSubmatch(msg); cu != nil {
			msg = fmt.Sprintf("%q is not a valid %s", maskAfterColon(cu[2]), describeType(cu[3]))
		}
		out = append(out, fmt.Sprintf("%s:%s: %s", path, line, msg))
	}
	return errors.New(strings.Join(out, "\n"))
}

// maskAfterColon hides what follows the first colon of a value yaml quoted
// in an error. yaml cuts values longer than 10 bytes to 7 and "...", which
// can split user:password@ before its @ — past the credentials pattern —
// and leave the password's first letters in the message ("user:se...").
func maskAfterColon(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		return v[:i+1] + "…"
	}
	return v
}

func describeType(goType string) string {
	switch goType {
	case "time.Duration":
		return "duration (e.g. 200ms, 30s, 1h)"
	case "int", "int64", "config.ByteSize":
		return "number"
	case "bool", "*bool":
		return "boolean (true or false)"
	case "string":
		return "string"
	}
	if strings.HasPrefix(goType, "map[") {
		return "mapping (key: value lines)"
	}
	if strings.HasPrefix(goType, "[]") {
		return "list"
	}
	if t, ok := typeSections[strings.TrimPrefix(goType, "*")]; ok {
		return "mapping with keys " + strings.Join(yamlKeys(t), ", ")
	}
	return goType
}

// sectionTypes adds t and every struct type reachable from it (through
// fields, pointers, maps and slices) to into, under the name yaml.v3's
// errors use for it.
func sectionTypes(t reflect.Type, into map[string]reflect.Type) map[string]reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Map || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || into[t.String()] != nil || t.PkgPath() != reflect.TypeOf(File{}).PkgPath() {
		return into
	}
	into[t.String()] = t
	for i := 0; i < t.NumField(); i++ {
		sectionTypes(t.Field(i).Type, into)
	}
	return into
}

// yamlKeys lists the keys a section accepts, those of inline structs
// (proxy's routes) included, in declaration order.
func yamlKeys(t reflect.Type) []string {
	if t == nil {
		return nil
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		switch {
		case opts == "inline":
			keys = append(keys, yamlKeys(t.Field(i).Type)...)
		case name != "" && name != "-":
			keys = append(keys, name)
		}
	}
	return keys
}

// validate checks values, naming the line of the offending key.
func (f *File) validate(root *yaml.Node) error {
	var errs []string
	bad := func(msg string, keys ...string) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s", f.Path, lineOf(root, keys...), msg))
	}
	if _, _, err := net.SplitHostPort(f.Listen); err != nil {
		bad(fmt.Sprintf("listen %q is not host:port (e.g. 127.0.0.1:8000 or :8000)", f.Listen), "listen")
	}
	c := &f.Capture
	if c.Dir == "" {
		bad("capture.dir is empty", "capture", "dir")
	}
	if c.OnWriteError != "drop" && c.OnWriteError != "reject" {
		bad(fmt.Sprintf("capture.on_write_error %q: want drop or reject", c.OnWriteError), "capture", "on_write_error")
	}
	for _, p := range []struct {
		v    int64
		name string
	}{{int64(c.SegmentMaxBytes), "segment_max_bytes"}, {int64(c.SegmentMaxAge), "segment_max_age"}, {int64(c.FlushInterval), "flush_interval"},
		{int64(c.MaxBodyBytes), "max_body_bytes"}, {int64(c.MaxRequestBytes), "max_request_bytes"}, {int64(c.QueueSize), "queue_size"},
		{int64(c.ReadHeaderTimeout), "read_header_timeout"}, {int64(c.ReadBodyTimeout), "read_body_timeout"}} {
		if p.v <= 0 {
			bad(fmt.Sprintf("capture.%s must be greater than zero", p.name), "capture", p.name)
		}
	}
	for _, model := range slices.Sorted(maps.Keys(f.Pricing)) {
		p := f.Pricing[model]
		if p.Input == nil || p.Output == nil {
			bad(fmt.Sprintf("pricing %q: input and output (USD per million tokens) are required", model), "pricing", model)
		}
		for _, v := range []*float64{p.Input, p.Output, p.CacheRead, p.CacheWrite, p.CacheWrite1h} {
			if v != nil && *v < 0 {
				bad(fmt.Sprintf("pricing %q: prices cannot be negative", model), "pricing", model)
				break
			}
		}
	}
	for _, group := range []struct {
		key   string
		rules map[string]CacheRule
	}{{"providers", f.Cache.Providers}, {"models", f.Cache.Models}} {
		for _, name := range slices.Sorted(maps.Keys(group.rules)) {
			r := group.rules[name]
			if r.Mode != "" && r.Mode != "prefix" && r.Mode != "breakpoints" {
				bad(fmt.Sprintf("cache.%s.%s.mode %q: want prefix or breakpoints", group.key, name, r.Mode), "cache", group.key, name, "mode")
			}
			if r.MinTokens < 0 || r.Step < 0 || r.TTL < 0 || r.ExtendedTTL < 0 {
				bad(fmt.Sprintf("cache.%s.%s: values cannot be negative", group.key, name), "cache", group.key, name)
			}
			if group.key == "providers" && name != OpenAI && name != Anthropic && r.TTL == 0 {
				bad(fmt.Sprintf("cache.providers.%s: an OpenAI-compatible provider needs ttl (and usually min_tokens, step)", name), "cache", group.key, name)
			}
		}
	}
	for i, b := range f.Budgets {
		if b.Period != "daily" && b.Period != "weekly" && b.Period != "monthly" {
			bad(fmt.Sprintf("budgets[%d].period %q: want daily, weekly or monthly", i, b.Period), "budgets", fmt.Sprintf("[%d]", i), "period")
		}
		if b.USD <= 0 {
			bad(fmt.Sprintf("budgets[%d].usd: a positive limit in USD is required", i), "budgets", fmt.Sprintf("[%d]", i), "usd")
		}
		if b.Key != "" && !strings.HasPrefix(b.Key, "fp:") {
			bad(fmt.Sprintf("budgets[%d].key: name a key by its fingerprint (fp:…, as api_key_fingerprint shows it), never the key itself", i), "budgets", fmt.Sprintf("[%d]", i), "key")
		}
	}
	for i, r := range f.Sensitive.Rules {
		if r.Kind == "" {
			bad(fmt.Sprintf("sensitive.rules[%d]: kind is required", i), "sensitive", "rules", fmt.Sprintf("[%d]", i))
		}
		if _, err := regexp.Compile(r.Pattern); err != nil || r.Pattern == "" {
			bad(fmt.Sprintf("sensitive.rules[%d] %q: pattern is not a regular expression (RE2): %v", i, r.Kind, err), "sensitive", "rules", fmt.Sprintf("[%d]", i), "pattern")
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
		if p.Type != OpenAI && p.Type != Anthropic {
			bad(fmt.Sprintf("provider %q: type %q, want openai (any OpenAI-compatible API) or anthropic", name, p.Type), "providers", name, "type")
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
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// lineOf finds the line of the deepest existing key along keys (the
// document's first line when none exists).
func lineOf(root *yaml.Node, keys ...string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, k := range keys {
		found := false
		// "[i]" steps into the i-th item of a sequence.
		if idx, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(k, "["), "]")); err == nil && strings.HasPrefix(k, "[") && n.Kind == yaml.SequenceNode {
			if idx < len(n.Content) {
				n = n.Content[idx]
				line, found = n.Line, true
			}
			if !found {
				break
			}
			continue
		}
		for i := 0; i+1 < len(n.Content) && n.Kind == yaml.MappingNode; i += 2 {
			if n.Content[i].Value == k {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			break
		}
	}
	return line
}

// Document returns the YAML data as written — no defaults merged, no
// ${ENV} reference expanded — as values encoding/json can write (string
// keys, scalars as YAML typed them). `lessllm config json` prints it, so a
// program can take a user's file as its starting point.
func Document(path string, data []byte) (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc == nil {
		doc = map[string]any{}
	}
	return doc, nil
}
