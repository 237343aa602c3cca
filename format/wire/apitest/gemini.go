package apitest

import (
	"net/http"
	"strings"
	"time"

	"github.com/lessllm/lessllm/format/wire"
)

// Gemini, Google's Generative Language API (ai.google.dev/api), as the
// google-genai SDKs speak it: POST /v1beta/models/{model}:generateContent
// answers a GenerateContentResponse; :streamGenerateContent streams them,
// as server-sent events with ?alt=sse and as one JSON array without it;
// the key comes in x-goog-api-key or ?key=; usageMetadata counts the
// prompt (cached tokens inside it) and the candidates. Its
// OpenAI-compatible endpoint, /v1beta/openai/, is the OpenAI handlers.

func (s *Simulator) routeGemini() {
	s.mux.HandleFunc("POST /v1beta/models/{method}", s.geminiKey(s.generateContent))
	s.mux.HandleFunc("POST /v1/models/{method}", s.geminiKey(s.generateContent))
	s.mux.HandleFunc("GET /v1beta/models", s.geminiKey(s.geminiModels)) // GET /v1/models is OpenAI's
	s.mux.HandleFunc("POST /v1beta/openai/chat/completions", s.geminiKey(s.chat))
	s.mux.HandleFunc("POST /v1beta/openai/embeddings", s.geminiKey(s.embeddings))
	s.mux.HandleFunc("GET /v1beta/openai/models", s.geminiKey(s.models))
}

// geminiKey refuses a call without a key, as the API does.
func (s *Simulator) geminiKey(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Goog-Api-Key") == "" && r.URL.Query().Get("key") == "" && !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			writeError(w, wire.Gemini, http.StatusForbidden, "", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API (simulated).")
			return
		}
		h(w, r)
	}
}

// geminiMinTokens is the shortest prefix Gemini's implicit caching keeps,
// from its context-caching page (ai.google.dev/gemini-api/docs/caching,
// read 2026-12-06): 2,048 tokens for Gemini 2.5, 4,096 for later models.
func geminiMinTokens(model string) int {
	if strings.HasPrefix(model, "gemini-2.") {
		return 2048
	}
	return 4096
}

// geminiStep is the granularity of the simulated implicit cache. Google
// publishes none; the simulator's is its own.
const geminiStep = 128

// generateContent serves POST /v1beta/models/{model}:generateContent and
// :streamGenerateContent.
func (s *Simulator) generateContent(w http.ResponseWriter, r *http.Request) {
	model, method, _ := strings.Cut(r.PathValue("method"), ":")
	if method != "generateContent" && method != "streamGenerateContent" {
		writeError(w, wire.Gemini, http.StatusNotFound, "", "method "+method+" is not simulated")
		return
	}
	c, req := s.start(w, r, wire.Gemini, "maxOutputTokens")
	if c == nil {
		return
	}
	c.stream = method == "streamGenerateContent"
	prompt := geminiPrompt(req)
	pt, cached := prompt.total(), 0
	if !s.opts.NoCache {
		now := s.opts.Now()
		key := r.Header.Get("X-Goog-Api-Key") + r.URL.Query().Get("key")
		cached = s.cache.prefix(cacheScope(key, model, nil), prompt, geminiMinTokens(model), geminiStep, openAITTL, now, now.Add(max(c.ttft, 0)))
	}
	id := s.id("sim")
	finish := "STOP"
	if c.limited {
		finish = "MAX_TOKENS"
	}
	response := func(text string, n int, fin string) []byte {
		cand := map[string]any{"content": map[string]any{"parts": []any{map[string]any{"text": text}}, "role": "model"}, "index": 0}
		if fin != "" {
			cand["finishReason"] = fin
		}
		usage := map[string]any{"promptTokenCount": pt, "candidatesTokenCount": n, "totalTokenCount": pt + n,
			"promptTokensDetails": []any{map[string]any{"modality": "TEXT", "tokenCount": pt}}}
		if cached > 0 {
			usage["cachedContentTokenCount"] = cached
		}
		return mustJSON(map[string]any{"candidates": []any{cand}, "usageMetadata": usage, "modelVersion": model, "responseId": id})
	}
	if !c.stream {
		if !s.waitUntil(c, c.begun.Add(s.jittered(c.ttft+time.Duration(max(c.tokens-1, 0))*max(c.tpot, 0)))) {
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		w.Write(response(Text(c.tokens), c.tokens, finish))
		return
	}
	sseFraming := r.URL.Query().Get("alt") == "sse"
	if sseFraming {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	// Each event is a whole response with the usage so far; Gemini frames
	// events with CRLF, and the last carries the finishReason.
	emit := func(i int) {
		fin := ""
		if i == c.tokens-1 {
			fin = finish
		}
		body := response(c.token(i), i+1, fin)
		switch {
		case sseFraming:
			w.Write([]byte("data: "))
			w.Write(body)
			w.Write([]byte("\r\n\r\n"))
		case i == 0:
			w.Write([]byte("["))
			w.Write(body)
		default:
			w.Write([]byte(",\r\n"))
			w.Write(body)
		}
		w.(http.Flusher).Flush()
	}
	if !s.stream(c, emit) {
		return
	}
	if !sseFraming {
		w.Write([]byte("]"))
	}
}

// geminiPrompt serialises a generateContent request in prompt order:
// tools, system instruction, then the contents.
func geminiPrompt(req map[string]any) promptTokens {
	var p promptTokens
	if tools, ok := req["tools"]; ok {
		p.add(string(mustJSON(tools)))
	}
	if sys, ok := req["systemInstruction"].(map[string]any); ok {
		p.add("<|system|>")
		p.addContent(sys["parts"])
	}
	p.addTurns(req["contents"], "parts")
	return p
}

func (s *Simulator) geminiModels(w http.ResponseWriter, r *http.Request) {
	var models []map[string]any
	for _, m := range []string{"gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-pro-preview"} {
		models = append(models, map[string]any{"name": "models/" + m, "displayName": m,
			"supportedGenerationMethods": []string{"generateContent", "countTokens"}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": models})
}
