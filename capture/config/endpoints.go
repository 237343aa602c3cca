package config

import (
	"fmt"
	"net/http"
	"strings"
)

// DefaultAllowedEndpoints are the requests a key from the config may be
// spent on when allowed_endpoints is not set: the inference endpoints
// lessllm analyses, the model lists and Anthropic's and Gemini's token
// counting. File management, fine-tuning, batches, cached contents, vector
// stores and organisation admin need the client's own key or an explicit
// entry. A Gemini model path is matched in its canonical form,
// /v1beta/models/{model}:method, whatever its version and model; a Bedrock
// one as /model/{model}/method.
var DefaultAllowedEndpoints = []string{
	"POST /v1/chat/completions",
	"POST /v1/responses",
	"POST /v1/completions",
	"POST /v1/embeddings",
	"POST /v1/messages",
	"POST /v1/messages/count_tokens",
	"GET /v1/models",
	"GET /v1/models/*",
	"POST /v1beta/models/{model}:generateContent",
	"POST /v1beta/models/{model}:streamGenerateContent",
	"POST /v1beta/models/{model}:countTokens",
	"POST /v1beta/models/{model}:embedContent",
	"POST /v1beta/models/{model}:batchEmbedContents",
	"GET /v1beta/models",
	"GET /v1beta/models/*",
	"POST /model/{model}/invoke",
	"POST /model/{model}/invoke-with-response-stream",
	"POST /model/{model}/converse",
	"POST /model/{model}/converse-stream",
}

// Endpoint is one allowed_endpoints entry: a method (or * for any) and a
// path, exact or (ending in /*) a prefix of whole segments.
type Endpoint struct {
	Method string
	Path   string
	Prefix bool
}

// ParseEndpoint reads "METHOD /path" or "METHOD /path/*".
func ParseEndpoint(s string) (Endpoint, error) {
	method, path, ok := strings.Cut(strings.TrimSpace(s), " ")
	path = strings.TrimSpace(path)
	if !ok || !strings.HasPrefix(path, "/") {
		return Endpoint{}, fmt.Errorf("%q: want \"METHOD /path\" (e.g. \"POST /v1/chat/completions\", \"GET /v1/models/*\")", s)
	}
	method = strings.ToUpper(method)
	switch method {
	case "*", http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
	default:
		return Endpoint{}, fmt.Errorf("%q: unknown method %q (want GET, POST, PUT, PATCH, DELETE, HEAD or *)", s, method)
	}
	e := Endpoint{Method: method, Path: path}
	if p, ok := strings.CutSuffix(path, "/*"); ok {
		e.Path, e.Prefix = p, true
	}
	if strings.Contains(e.Path, "*") {
		return Endpoint{}, fmt.Errorf("%q: * stands only at the end, as /*", s)
	}
	return e, nil
}

// Matches reports whether a request's method and (canonical) path fall
// under the entry.
func (e Endpoint) Matches(method, path string) bool {
	if e.Method != "*" && e.Method != method {
		return false
	}
	if e.Prefix {
		return strings.HasPrefix(path, e.Path+"/") && len(path) > len(e.Path)+1
	}
	return path == e.Path
}

// Endpoints returns the parsed allow-list in force (validated by Parse;
// entries a Go caller got wrong are skipped).
func (f *File) Endpoints() []Endpoint {
	list := f.AllowedEndpoints
	if list == nil {
		list = DefaultAllowedEndpoints
	}
	out := make([]Endpoint, 0, len(list))
	for _, s := range list {
		if e, err := ParseEndpoint(s); err == nil {
			out = append(out, e)
		}
	}
	return out
}
