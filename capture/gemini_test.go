package capture

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"google.golang.org/genai"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// Gemini keys used by the tests; the secret scans grep for them.
const (
	clientGeminiKey = "AIzaSy-client-4b7e1d9c2a6f8e0b3d5c"
	configGeminiKey = "AIzaSy-configured-9e3a7c1f5b2d8e6a0c4f"
	urlGeminiKey    = "AIzaSy-in-the-url-2f8c6a0e4b1d7f3a9e5c"
)

// geminiClient is Google's official Go SDK pointed at capture.
func geminiClient(t *testing.T, h *harness, key string) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{APIKey: key, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: h.inst.URL + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGemini: every way to Gemini through capture — Google's SDK with its
// own key, with none (the configured one goes), through a model alias to
// another gemini provider, with the key in the URL, and unchanged OpenAI
// and Anthropic SDK calls to an alias on Gemini's OpenAI-compatible
// endpoint — gets the simulator's answer intact, streamed and not; the
// upstream sees Gemini's paths and the right key in the right place, an
// alias Gemini's API cannot reach is refused in Gemini's error shape, and
// no key reaches a record or a log.
func TestGemini(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: 20 * time.Millisecond, TPOT: 2 * time.Millisecond, OutputTokens: 8}, func(c *config.File) {
		c.Providers[config.Gemini] = &config.Provider{Type: config.Gemini, BaseURL: h0URL(c), APIKey: configGeminiKey}
		c.Providers["gemini-eu"] = &config.Provider{Type: config.Gemini, BaseURL: h0URL(c), APIKey: configGeminiKey}
		c.Models["fast"] = config.ModelAlias{Provider: config.Gemini, Model: "gemini-2.5-flash"}
		c.Models["eu-flash"] = config.ModelAlias{Provider: "gemini-eu", Model: "gemini-2.5-flash"}
		c.Models["gpt"] = config.ModelAlias{Provider: config.OpenAI, Model: "gpt-4o"}
	})
	ctx := context.Background()
	want := apitest.Text(8)
	generate := func(t *testing.T, c *genai.Client, model string) {
		t.Helper()
		got, err := c.Models.GenerateContent(ctx, model, genai.Text("Hello"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Text() != want || got.UsageMetadata.CandidatesTokenCount != 8 || got.ModelVersion != "gemini-2.5-flash" {
			t.Fatalf("got %q, usage %+v, model %q", got.Text(), got.UsageMetadata, got.ModelVersion)
		}
		var text strings.Builder
		var last *genai.GenerateContentResponse
		for r, err := range c.Models.GenerateContentStream(ctx, model, genai.Text("Hello"), nil) {
			if err != nil {
				t.Fatal(err)
			}
			text.WriteString(r.Text())
			last = r
		}
		if text.String() != want || last.UsageMetadata.CandidatesTokenCount != 8 || last.Candidates[0].FinishReason != genai.FinishReasonStop {
			t.Fatalf("streamed %q, last %+v", text.String(), last)
		}
	}
	// expect checks the last two requests the upstream got (a call and its
	// streamed twin).
	expect := func(t *testing.T, paths []string, key string) {
		t.Helper()
		r := h.sim.Received()
		for i, got := range r[len(r)-len(paths):] {
			if got.Path != paths[i] || got.Header.Get("X-Goog-Api-Key") != key || got.Header.Get("Authorization") != "" {
				t.Errorf("upstream got %s?%s x-goog-api-key %q authorization %q; want %s, key %q",
					got.Path, got.Query, got.Header.Get("X-Goog-Api-Key"), got.Header.Get("Authorization"), paths[i], key)
			}
		}
	}
	// The SDK speaks the v1 API; its paths go upstream as they came.
	native := []string{"/v1/models/gemini-2.5-flash:generateContent", "/v1/models/gemini-2.5-flash:streamGenerateContent"}

	t.Run("genai_sdk", func(t *testing.T) {
		generate(t, geminiClient(t, h, clientGeminiKey), "gemini-2.5-flash")
		expect(t, native, clientGeminiKey)
		if r := h.sim.Received(); r[len(r)-1].Query != "alt=sse" {
			t.Errorf("stream query %q", r[len(r)-1].Query)
		}
	})
	t.Run("genai_sdk_alias", func(t *testing.T) {
		generate(t, geminiClient(t, h, clientGeminiKey), "fast")
		expect(t, native, clientGeminiKey) // the provider named gemini: the client's key is for it
		generate(t, geminiClient(t, h, clientGeminiKey), "eu-flash")
		expect(t, native, configGeminiKey) // another provider: its own key, never the client's
	})
	t.Run("key_in_the_url", func(t *testing.T) {
		for _, path := range []string{"/v1beta/models/gemini-2.5-flash:generateContent?key=", "/v1beta/models/eu-flash:generateContent?key="} {
			resp, err := http.Post(h.inst.URL+path+urlGeminiKey, "application/json", strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}`))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			r := h.sim.Received()
			last := r[len(r)-1]
			wantQuery, wantHeader := "key="+urlGeminiKey, ""
			if strings.Contains(path, "eu-flash") { // not the client's provider: its key stays behind
				wantQuery, wantHeader = "", configGeminiKey
			}
			if resp.StatusCode != 200 || last.Query != wantQuery || last.Header.Get("X-Goog-Api-Key") != wantHeader {
				t.Errorf("%s: status %d, upstream query %q, x-goog-api-key %q", path, resp.StatusCode, last.Query, last.Header.Get("X-Goog-Api-Key"))
			}
		}
	})
	t.Run("no_client_key", func(t *testing.T) {
		resp, err := http.Post(h.inst.URL+native[0], "application/json", strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if r := h.sim.Received(); resp.StatusCode != 200 || r[len(r)-1].Header.Get("X-Goog-Api-Key") != configGeminiKey {
			t.Fatalf("status %d, upstream key %q", resp.StatusCode, r[len(r)-1].Header.Get("X-Goog-Api-Key"))
		}
	})
	openAICompatible := []string{"/v1beta/openai/chat/completions", "/v1beta/openai/chat/completions"}
	t.Run("openai_sdk_alias", func(t *testing.T) {
		c := openAIClient(h)
		msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}
		got, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "fast", Messages: msgs})
		if err != nil || got.Choices[0].Message.Content != want || got.Model != "fast" && got.Model != "gemini-2.5-flash-sim" {
			t.Fatalf("%v %+v", err, got)
		}
		s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "fast", Messages: msgs})
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if s.Err() != nil || acc.Choices[0].Message.Content != want {
			t.Fatalf("streamed %v %q", s.Err(), acc.Choices[0].Message.Content)
		}
		r := h.sim.Received()
		for _, got := range r[len(r)-2:] {
			if got.Path != openAICompatible[0] || got.Header.Get("Authorization") != "Bearer "+configGeminiKey || got.Header.Get("X-Goog-Api-Key") != "" ||
				!strings.Contains(string(got.Body), `"model":"gemini-2.5-flash"`) {
				t.Errorf("upstream got %s, authorization %q, body %s", got.Path, got.Header.Get("Authorization"), got.Body)
			}
		}
	})
	t.Run("anthropic_sdk_alias", func(t *testing.T) {
		messagesBothWays(t, h, "fast", want)
		if r := h.sim.Received(); r[len(r)-1].Path != openAICompatible[0] {
			t.Errorf("translated call went to %s", r[len(r)-1].Path)
		}
	})
	t.Run("alias_gemini_cannot_reach", func(t *testing.T) {
		_, err := geminiClient(t, h, clientGeminiKey).Models.GenerateContent(ctx, "gpt", genai.Text("Hello"), nil)
		var apiErr genai.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != http.StatusBadRequest || apiErr.Status != "INVALID_ARGUMENT" || !strings.Contains(apiErr.Message, "does not translate Gemini's API") {
			t.Fatalf("%T %v", err, err)
		}
	})

	metrics := h.metrics(t)
	recs := h.records(t)
	models := map[string]int{}
	for _, r := range recs {
		if r.Route != nil {
			models[r.Route.Provider+" "+r.Route.Dialect+" "+r.Route.Model+"→"+r.Route.UpstreamModel]++
		}
	}
	if models["gemini gemini gemini-2.5-flash→gemini-2.5-flash"] != 4 || models["gemini gemini fast→gemini-2.5-flash"] != 2 || models["gemini-eu gemini eu-flash→gemini-2.5-flash"] != 3 ||
		models["gemini openai fast→gemini-2.5-flash"] != 2 || models["gemini anthropic fast→gemini-2.5-flash"] != 2 || len(recs) != 14 {
		t.Errorf("%d records, routes %v", len(recs), models)
	}
	h.scanForSecrets(t, metrics, append(testKeys, clientGeminiKey, configGeminiKey, urlGeminiKey)...)
}
