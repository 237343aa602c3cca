package capture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format/wire"
)

// dialectOf is the API a client speaks, by its request (ARCHITECTURE.md §4).
func dialectOf(r *http.Request) wire.Dialect {
	return wire.DialectOf(r.URL.Path, r.Header)
}

// route is the routing decision for one request.
type route struct {
	dialect       wire.Dialect
	providerName  string
	provider      *config.Provider
	model         string // as the client asked ("" when the body names none)
	upstreamModel string
	// bodyModel is the model the upstream request's body names: the
	// upstream model, or for Azure OpenAI its deployment ("" for Gemini,
	// whose path names the model).
	bodyModel string
	alias     bool
	url       string
	// upstreamDialect is the API spoken to the provider
	// (config.Provider.DialectFor).
	upstreamDialect wire.Dialect
	// clientAuth: the client's own credential may go upstream. Only the
	// dialect's default provider is the one the client's key was meant for.
	clientAuth bool
	// queryKey: the client's credential is in the URL (Gemini's ?key=),
	// and goes upstream there.
	queryKey bool
	// translate: a chat request for a provider of the other dialect,
	// translated both ways (format/wire).
	translate bool
}

// resolve picks the provider for a request. body is the client's body; the
// model is read from it only when aliases are configured (no alias, no
// parse: the common case costs nothing).
func resolve(cfg *config.File, dialect wire.Dialect, r *http.Request, body []byte) (*route, error) {
	if _, ok := wire.AzureAsOpenAIPath(r.URL.Path); ok {
		return resolveAzure(cfg, r, body)
	}
	switch dialect {
	case wire.Gemini:
		return resolveGemini(cfg, r)
	case wire.Bedrock:
		return resolveBedrock(cfg, r)
	}
	rt := &route{dialect: dialect, providerName: string(dialect), clientAuth: true}
	if len(cfg.Models) > 0 && len(body) > 0 && r.Method == http.MethodPost {
		rt.model = wire.RequestModel(body)
	}
	rt.upstreamModel = rt.model
	if a, ok := cfg.Models[rt.model]; ok && rt.model != "" {
		rt.alias, rt.providerName, rt.upstreamModel = true, a.Provider, a.Model
	}
	rt.bodyModel = rt.upstreamModel
	rt.provider = cfg.Providers[rt.providerName]
	if rt.provider == nil {
		return nil, fmt.Errorf("no provider %q is configured for %s requests", rt.providerName, dialect)
	}
	rt.clientAuth = rt.providerName == string(dialect)
	rt.upstreamDialect = rt.provider.DialectFor(dialect)
	path := r.URL
	if rt.upstreamDialect != dialect {
		// Only the two chat APIs translate into each other: Chat
		// Completions ⇄ Messages.
		target, ok := translatedPaths[string(dialect)+" "+r.URL.Path]
		if !ok {
			return nil, fmt.Errorf("model %q is an alias for provider %q (%s API); lessllm translates chat completions ⇄ messages, not %s %s",
				rt.model, rt.providerName, rt.provider.Type, dialect, r.URL.Path)
		}
		rt.translate = true
		path = &url.URL{Path: target}
	}
	var err error
	switch rt.provider.Type {
	case config.AzureOpenAI:
		rt.bodyModel = rt.provider.Deployment(rt.upstreamModel)
		rt.url, err = azureURL(rt.provider, path.Path, rt.bodyModel)
	case config.Gemini: // its OpenAI-compatible endpoint
		rt.url, err = upstreamURL(rt.provider.BaseURL, &url.URL{Path: geminiOpenAIPrefix + strings.TrimPrefix(path.Path, "/v1/"), RawQuery: path.RawQuery})
	case config.Bedrock: // invoke, the Messages API of Anthropic's models inside
		if path.Path != "/v1/messages" {
			return nil, fmt.Errorf("model %q is an alias for provider %q (bedrock): lessllm sends chat calls there, not %s", rt.model, rt.providerName, r.URL.Path)
		}
		var peek struct {
			Stream bool `json:"stream"`
		}
		_ = json.Unmarshal(body, &peek)
		rt.bodyModel = ""
		rt.url, err = bedrockInvokeURL(rt.provider.BaseURL, rt.upstreamModel, peek.Stream)
	default:
		rt.url, err = upstreamURL(rt.provider.BaseURL, path)
	}
	if err != nil {
		return nil, err
	}
	return rt, nil
}

// geminiOpenAIPrefix is where Gemini serves OpenAI's API
// (ai.google.dev/gemini-api/docs/openai): /v1/chat/completions there is
// /v1beta/openai/chat/completions.
const geminiOpenAIPrefix = "/v1beta/openai/"

// resolveGemini routes a Gemini client's request
// (/v1beta/models/{model}:generateContent, …) to the provider named gemini,
// or to the gemini-type provider an alias names, with the path's model
// replaced. lessllm does not translate Gemini's API: an alias to another
// type is refused.
func resolveGemini(cfg *config.File, r *http.Request) (*route, error) {
	rt := &route{dialect: wire.Gemini, providerName: config.Gemini, upstreamDialect: wire.Gemini, clientAuth: true}
	rt.model = wire.GeminiModel(r.URL.Path)
	rt.upstreamModel = rt.model
	if a, ok := cfg.Models[rt.model]; ok && rt.model != "" {
		rt.alias, rt.providerName, rt.upstreamModel = true, a.Provider, a.Model
	}
	rt.provider = cfg.Providers[rt.providerName]
	switch {
	case rt.provider == nil:
		return nil, fmt.Errorf("no provider %q is configured for gemini requests", rt.providerName)
	case rt.provider.Type != config.Gemini && rt.alias:
		return nil, fmt.Errorf("model %q is an alias for provider %q (%s API); lessllm does not translate Gemini's API: call that model with the OpenAI SDK, or alias a gemini provider",
			rt.model, rt.providerName, rt.provider.Type)
	case rt.provider.Type != config.Gemini:
		return nil, fmt.Errorf("%s is a Gemini API path, and provider %q is of type %s, not gemini", r.URL.Path, rt.providerName, rt.provider.Type)
	}
	rt.clientAuth = rt.providerName == config.Gemini
	u := *r.URL
	u.Path = wire.WithGeminiModel(u.Path, rt.upstreamModel)
	if q := u.Query(); q.Has("key") {
		// The client's key may go only where it was meant to.
		if rt.queryKey = rt.clientAuth; !rt.queryKey {
			q.Del("key")
			u.RawQuery = q.Encode()
		}
	}
	var err error
	rt.url, err = upstreamURL(rt.provider.BaseURL, &u)
	if err != nil {
		return nil, err
	}
	return rt, nil
}

// resolveAzure routes a request a client built for Azure OpenAI sends
// (openai-go's azure.WithEndpoint, Python's AzureOpenAI): its path and
// query go as they are to the azure_openai provider — the one named so, or
// the only one of that type — with the client's own key. The deployment
// (from the path, or the v1 API's body) is recorded as the model, mapped
// back through the provider's deployments: to the model it serves.
func resolveAzure(cfg *config.File, r *http.Request, body []byte) (*route, error) {
	name, err := providerOfType(cfg, config.AzureOpenAI, r.URL.Path)
	if err != nil {
		return nil, err
	}
	rt := &route{dialect: wire.OpenAI, providerName: name, provider: cfg.Providers[name], upstreamDialect: wire.OpenAI, clientAuth: true}
	deployment, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, wire.AzurePrefix+"deployments/"), "/")
	if !strings.HasPrefix(r.URL.Path, wire.AzurePrefix+"deployments/") {
		deployment = wire.RequestModel(body)
	}
	rt.model, rt.upstreamModel, rt.bodyModel = deployment, rt.provider.ModelOf(deployment), deployment
	u, err := upstreamURL(rt.provider.BaseURL, r.URL)
	if err != nil {
		return nil, err
	}
	rt.url = u
	return rt, nil
}

// providerOfType is the provider a request on a path of that type's own
// API goes to: the one named as the type, else the only one of the type.
func providerOfType(cfg *config.File, typ, path string) (string, error) {
	if p := cfg.Providers[typ]; p != nil && p.Type == typ {
		return typ, nil
	}
	var found []string
	for n, p := range cfg.Providers {
		if p != nil && p.Type == typ {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%s is a path of the %s API: configure one provider of type %s (or name one %s); found %d", path, typ, typ, typ, len(found))
	}
	return found[0], nil
}

// azureDeploymentPaths are the OpenAI endpoints Azure serves under a
// deployment (/openai/deployments/{deployment}/…?api-version=…); the rest
// are reached through its v1 API only.
var azureDeploymentPaths = map[string]bool{"/v1/chat/completions": true, "/v1/completions": true, "/v1/embeddings": true}

// azureURL is where an OpenAI-path request for deployment goes on an Azure
// OpenAI resource: the deployment path with api_version when the provider
// sets one, else Azure's v1 API (learn.microsoft.com, "Azure OpenAI v1
// API"), which takes the deployment as the body's model.
func azureURL(p *config.Provider, openAIPath, deployment string) (string, error) {
	rest := strings.TrimPrefix(openAIPath, "/v1/")
	if p.APIVersion != "" && azureDeploymentPaths[openAIPath] {
		q := url.Values{"api-version": {p.APIVersion}}
		return upstreamURL(p.BaseURL, &url.URL{Path: "/openai/deployments/" + url.PathEscape(deployment) + "/" + rest, RawQuery: q.Encode()})
	}
	return upstreamURL(p.BaseURL, &url.URL{Path: "/openai/v1/" + rest})
}

// upstreamURL joins the provider's API root with the request path. SDK
// base URLs differ in whether they include /v1 (OpenAI's does, Anthropic's
// does not), so a /v1 at the end of the root absorbs the path's /v1.
func upstreamURL(base string, in *url.URL) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	root, rawRoot := strings.TrimSuffix(b.Path, "/"), strings.TrimSuffix(b.EscapedPath(), "/")
	p, raw := in.Path, in.EscapedPath()
	if strings.HasSuffix(root, "/v1") && strings.HasPrefix(p, "/v1/") {
		p, raw = p[len("/v1"):], raw[len("/v1"):]
	}
	b.Path = root + p
	b.RawPath = rawRoot + raw // keeps an escaped slash escaped (a Bedrock ARN)
	b.RawQuery = in.RawQuery
	return b.String(), nil
}

// translatedPaths maps a client's dialect and path onto the upstream path
// of the other dialect.
var translatedPaths = map[string]string{
	string(wire.OpenAI) + " /v1/chat/completions": "/v1/messages",
	string(wire.Anthropic) + " /v1/messages":      "/v1/chat/completions",
}

// hopHeaders are connection-level headers a proxy must not forward
// (RFC 9110 §7.6.1), plus those it sets itself.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length",
}

// authHeaders carry a client's credential for one provider.
var authHeaders = []string{"Authorization", "X-Api-Key", "Api-Key", "X-Goog-Api-Key"}

// providerHeaders belong to one provider's API; on a translated call they
// are dropped and the target provider's own are set.
var providerHeaders = []string{"Openai-Organization", "Openai-Project", "Openai-Beta", "Anthropic-Version", "Anthropic-Beta"}

// upstreamHeader builds the headers sent upstream: the client's, minus
// hop-by-hop and lessllm's own, with credentials decided by the route.
func upstreamHeader(in http.Header, rt *route) http.Header {
	out := make(http.Header, len(in))
	for k, vs := range in {
		out[k] = vs
	}
	if c := in.Get("Connection"); c != "" {
		for _, f := range strings.Split(c, ",") {
			out.Del(strings.TrimSpace(f))
		}
	}
	for _, h := range hopHeaders {
		out.Del(h)
	}
	for k := range out {
		if strings.HasPrefix(k, "X-Lessllm-") {
			delete(out, k)
		}
	}
	hasClientKey := clientKey(out) || rt.queryKey
	if !rt.clientAuth {
		for _, h := range authHeaders {
			out.Del(h)
		}
		hasClientKey = false
	}
	if rt.translate || rt.provider.Type == config.Bedrock {
		for _, h := range providerHeaders {
			out.Del(h)
		}
	}
	if !hasClientKey {
		switch p := rt.provider; {
		case p.Type == config.AzureOpenAI && p.EntraToken != "":
			out.Set("Authorization", "Bearer "+p.EntraToken)
		case p.APIKey == "": // none configured: none sent (Bedrock: signed later)
		case p.Type == config.AzureOpenAI:
			out.Set("Api-Key", p.APIKey)
		case rt.upstreamDialect == wire.Gemini:
			out.Set("X-Goog-Api-Key", p.APIKey)
		case p.Dialect() == wire.Anthropic:
			out.Set("X-Api-Key", p.APIKey)
		default:
			out.Set("Authorization", "Bearer "+p.APIKey)
		}
	}
	if rt.upstreamDialect == wire.Anthropic && rt.provider.Type == config.Anthropic && out.Get("Anthropic-Version") == "" {
		out.Set("Anthropic-Version", "2023-06-01") // required by the Messages API
	}
	return out
}

// clientKey reports whether the client sent a provider credential.
func clientKey(h http.Header) bool {
	for _, name := range authHeaders {
		if h.Get(name) != "" {
			return true
		}
	}
	return false
}

// usesConfiguredKey reports whether the request goes upstream with an API
// key from the config: the client sent none, or the route may not carry
// the client's (upstreamHeader decides the same way).
func usesConfiguredKey(in http.Header, rt *route) bool {
	if rt.provider.Type == config.Bedrock {
		return true // lessllm always signs with the provider's AWS credentials
	}
	return (rt.provider.APIKey != "" || rt.provider.EntraToken != "") && (!rt.clientAuth || !(clientKey(in) || rt.queryKey))
}

// endpointAllowed reports whether allowed_endpoints lets a configured key
// be spent on method and path. An Azure OpenAI path is judged as the OpenAI
// path it stands for; a Gemini model method as
// /v1beta/models/{model}:method, whatever its version and model; a Bedrock
// one as /model/{model}/method. path is the escaped path: an ARN as a
// Bedrock model id keeps its slash escaped.
func endpointAllowed(list []config.Endpoint, method, path string) bool {
	if p, ok := wire.AzureAsOpenAIPath(path); ok {
		path = p
	}
	if model := wire.GeminiModel(path); model != "" && wire.DialectOf(path, nil) == wire.Gemini {
		if _, m, ok := strings.Cut(path, "/models/"+model+":"); ok {
			path = "/v1beta/models/{model}:" + m
		}
	}
	if model := wire.BedrockModel(path); model != "" {
		path = wire.WithBedrockModel(path, "{model}")
	} else if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	for _, e := range list {
		if e.Matches(method, path) {
			return true
		}
	}
	return false
}

// rewriteModel replaces the top-level "model" of a JSON body. Other values
// keep their content; keys come out sorted.
func rewriteModel(body []byte, model string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	m["model"], _ = json.Marshal(model)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
