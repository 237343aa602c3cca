package capture

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// Azure keys used by the tests; the secret scan greps for both.
const (
	clientAzureKey = "azkey-client-5e1b9c7d3a0f4e82b6c1"
	configAzureKey = "azkey-configured-8d2f6a4c0e9b1d7f3a5e"
)

// TestAzureOpenAI: every way into Azure OpenAI through capture — a client
// built for Azure (openai-go's azure option), and unchanged OpenAI and
// Anthropic SDK calls to aliases on a deployment path (api_version set)
// and on the v1 API — gets the simulator's answer intact, streamed and
// not; the upstream sees Azure's paths and the right key in api-key, and
// no key reaches a record or a log.
func TestAzureOpenAI(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: 20 * time.Millisecond, TPOT: 2 * time.Millisecond, OutputTokens: 8}, func(c *config.File) {
		c.Providers[config.AzureOpenAI] = &config.Provider{Type: config.AzureOpenAI, BaseURL: h0URL(c), APIKey: configAzureKey,
			APIVersion: "2024-10-21", Deployments: map[string]string{"gpt-4o-mini": "prod-mini"}}
		c.Providers["azure-v1"] = &config.Provider{Type: config.AzureOpenAI, BaseURL: h0URL(c), APIKey: configAzureKey}
		c.Models["fast"] = config.ModelAlias{Provider: config.AzureOpenAI, Model: "gpt-4o-mini"}
		c.Models["fast-v1"] = config.ModelAlias{Provider: "azure-v1", Model: "gpt-4o-mini"}
	})
	ctx := context.Background()
	want := apitest.Text(8)
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}
	chat := func(t *testing.T, c openai.Client, model string) {
		t.Helper()
		got, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		if got.Choices[0].Message.Content != want || got.Usage.CompletionTokens != 8 {
			t.Fatalf("got %q, usage %+v", got.Choices[0].Message.Content, got.Usage)
		}
		s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: model, Messages: msgs,
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Choices[0].Message.Content != want || acc.Usage.CompletionTokens != 8 {
			t.Fatalf("streamed %q, usage %+v", acc.Choices[0].Message.Content, acc.Usage)
		}
	}
	// lastTwo are the last two requests the upstream got (a call and its
	// streamed twin).
	lastTwo := func(t *testing.T) []apitest.Received {
		t.Helper()
		r := h.sim.Received()
		return r[len(r)-2:]
	}
	expect := func(t *testing.T, path, query, key, model string) {
		t.Helper()
		for _, r := range lastTwo(t) {
			var body struct {
				Model string `json:"model"`
			}
			json.Unmarshal(r.Body, &body)
			if r.Path != path || r.Query != query || r.Header.Get("Api-Key") != key || r.Header.Get("Authorization") != "" || body.Model != model {
				t.Errorf("upstream got %s?%s api-key %q authorization %q model %q; want %s?%s key %q model %q",
					r.Path, r.Query, r.Header.Get("Api-Key"), r.Header.Get("Authorization"), body.Model, path, query, key, model)
			}
		}
	}

	t.Run("azure_client", func(t *testing.T) {
		c := openai.NewClient(azure.WithEndpoint(h.inst.URL, "2024-10-21"), azure.WithAPIKey(clientAzureKey),
			azure.WithUnsafeAllowHTTP(), option.WithMaxRetries(0))
		chat(t, c, "gpt-4o-mini")
		expect(t, "/openai/deployments/gpt-4o-mini/chat/completions", "api-version=2024-10-21", clientAzureKey, "gpt-4o-mini")
	})
	t.Run("openai_sdk_alias_deployment", func(t *testing.T) {
		chat(t, openAIClient(h), "fast")
		expect(t, "/openai/deployments/prod-mini/chat/completions", "api-version=2024-10-21", configAzureKey, "prod-mini")
	})
	t.Run("openai_sdk_alias_v1", func(t *testing.T) {
		chat(t, openAIClient(h), "fast-v1")
		expect(t, "/openai/v1/chat/completions", "", configAzureKey, "gpt-4o-mini")
	})
	t.Run("anthropic_sdk_alias", func(t *testing.T) {
		messagesBothWays(t, h, "fast", want)
		expect(t, "/openai/deployments/prod-mini/chat/completions", "api-version=2024-10-21", configAzureKey, "prod-mini")
	})
	t.Run("configured_key_when_the_client_sends_none", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, h.inst.URL+"/openai/deployments/x/chat/completions?api-version=2024-10-21",
			strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// No client key: the configured one goes, in api-key.
		if r := h.sim.Received(); resp.StatusCode != 200 || r[len(r)-1].Header.Get("Api-Key") != configAzureKey {
			t.Fatalf("status %d, upstream api-key %q", resp.StatusCode, r[len(r)-1].Header.Get("Api-Key"))
		}
	})

	metrics := h.metrics(t)
	recs := h.records(t)
	var routed []string
	for _, r := range recs {
		if r.Route != nil {
			routed = append(routed, r.Route.Provider+" "+r.Route.URL)
		}
	}
	if len(recs) != 9 || !strings.Contains(strings.Join(routed, "\n"), "azure-v1 "+h.up.URL+"/openai/v1/chat/completions") {
		t.Errorf("%d records, routes:\n%s", len(recs), strings.Join(routed, "\n"))
	}
	h.scanForSecrets(t, metrics, append(testKeys, clientAzureKey, configAzureKey)...)
}

// h0URL is the simulator's root as the harness configured it.
func h0URL(c *config.File) string {
	return strings.TrimSuffix(c.Providers[config.OpenAI].BaseURL, "/v1")
}

// TestCheckThroughProxies: `lessllm check` reaches an Azure OpenAI
// resource, Gemini and Bedrock through an HTTP proxy (tinyproxy, Basic
// auth) and a SOCKS5 one (dante, username/password), each with its
// credential where its API wants it (api-key, x-goog-api-key, a SigV4
// signature the simulator recomputes: it answers 200 only then), and
// shows neither key, secret nor password.
func TestCheckThroughProxies(t *testing.T) {
	tiny := startTinyproxy(t)
	socks := startDanted(t, true)
	// The simulator recomputes every Bedrock signature with the secret.
	h := bedrockHarness(t, func(c *config.File) {
		c.Proxy.Timeouts.Connect = time.Second
		c.Proxy.Fallback = []string{"http://" + proxyUser + ":" + proxyPass + "@" + tiny.addr, "socks5://" + proxyUser + ":" + proxyPass + "@" + socks.addr}
	})
	h.cfg.Providers[config.AzureOpenAI] = &config.Provider{Type: config.AzureOpenAI, BaseURL: h0URL(h.cfg), APIKey: configAzureKey}
	h.cfg.Providers[config.Gemini] = &config.Provider{Type: config.Gemini, BaseURL: h0URL(h.cfg), APIKey: configGeminiKey}
	modelsPath := map[string]string{config.AzureOpenAI: "/openai/v1/models", config.Gemini: "/v1beta/models", config.Bedrock: "/foundation-models"}
	routes := map[string][]string{}
	for _, r := range Check(context.Background(), h.cfg) {
		if s := fmt.Sprintf("%+v", r); strings.Contains(s, proxyPass) || strings.Contains(s, configAzureKey) || strings.Contains(s, configGeminiKey) ||
			strings.Contains(s, configAWSSecret) || strings.Contains(s, configAWSSession) {
			t.Errorf("check result shows a secret: %s", s)
		}
		path, ok := modelsPath[r.Provider]
		if !ok {
			continue
		}
		routes[r.Provider] = append(routes[r.Provider], r.Route)
		if !r.OK || r.Status != 200 || !strings.Contains(r.Detail, path) {
			t.Errorf("%s through %s: %+v", r.Provider, r.Route, r)
		}
	}
	if len(routes[config.AzureOpenAI]) != 2 || len(routes[config.Gemini]) != 2 || len(routes[config.Bedrock]) != 2 || tiny.tunnels(t) == 0 || socks.sessions(t) == 0 {
		t.Errorf("checked over %v; tunnels at tinyproxy %d, sessions at dante %d", routes, tiny.tunnels(t), socks.sessions(t))
	}
}
