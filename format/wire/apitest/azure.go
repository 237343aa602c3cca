package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/lessllm/lessllm/format/wire"
)

// Azure OpenAI serves OpenAI's API under /openai/: per deployment,
// /openai/deployments/{deployment}/chat/completions?api-version=… (the
// deployment picks the model; the body's model is not used), and the v1
// API, /openai/v1/chat/completions, where the body's model names the
// deployment. Keys come in api-key, or an Entra ID token as a bearer.
// The simulator answers both ways with the OpenAI handlers, the
// deployment as the model, after checking that a credential came and,
// on deployment paths, an api-version; a stream starts with the prompt's
// content-filter results, as Azure's do.

func (s *Simulator) routeAzure() {
	for _, e := range []struct {
		path    string
		handler http.HandlerFunc
	}{{"chat/completions", s.chat}, {"completions", s.completions}, {"embeddings", s.embeddings}, {"responses", s.responses}} {
		s.mux.HandleFunc("POST /openai/deployments/{deployment}/"+e.path, s.azure(e.handler, true))
		s.mux.HandleFunc("POST /openai/v1/"+e.path, s.azure(e.handler, false))
	}
	s.mux.HandleFunc("GET /openai/v1/models", s.azure(s.models, false))
	s.mux.HandleFunc("GET /openai/models", s.azure(s.models, true))
}

// azure wraps an OpenAI handler for an Azure path.
func (s *Simulator) azure(h http.HandlerFunc, versioned bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Api-Key") == "" && !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			azureError(w, http.StatusUnauthorized, "401", "Access denied: no api-key header and no bearer token (simulated).")
			return
		}
		if versioned && r.URL.Query().Get("api-version") == "" {
			azureError(w, http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests (simulated).")
			return
		}
		if d := r.PathValue("deployment"); d != "" && r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			var req map[string]any
			if json.Unmarshal(body, &req) == nil {
				req["model"] = d
				body, _ = json.Marshal(req)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h(w, r)
	}
}

// azurePath reports whether r came in on an Azure OpenAI path.
func azurePath(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, wire.AzurePrefix) }

// azurePromptFilterEvent is the event an Azure stream of Chat Completions
// starts with: no choices, no id, no model, the prompt's content-filter
// results (the shape of testdata/recorded/fantasy__azure_*.sse).
var azurePromptFilterEvent = []byte(`{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,` +
	`"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},` +
	`"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]}`)

// azureError writes Azure's error shape: a code and a message.
func azureError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}
