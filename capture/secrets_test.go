package capture

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

const aliasProviderKey = "sk-alias-provider-5e1b9c7d3a0f2e8b4c6d"

// TestNoSecretOnDiskOrInLogs sends traffic with client keys, with the
// configured keys, and through an alias to another provider, then greps
// every byte under the capture directory, the logs and /metrics for every
// key used: zero hits. It also checks that the client's key never reached
// a provider it was not meant for.
func TestNoSecretOnDiskOrInLogs(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: time.Millisecond, TPOT: time.Millisecond, OutputTokens: 5}, func(c *config.File) {
		c.Providers["other"] = &config.Provider{Type: config.OpenAI, BaseURL: c.Providers[config.OpenAI].BaseURL, APIKey: aliasProviderKey}
		c.Models["fast"] = config.ModelAlias{Provider: "other", Model: "gpt-4o-mini"}
		c.Capture.RedactHeaders = []string{"X-Team-Token"}
	})
	ctx := context.Background()
	oc, ac := openAIClient(h), anthropicClient(h)
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
	if _, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: msgs}, withHeader("X-Team-Token", "team-secret-31337")); err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "fast", Messages: msgs}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-3-5-haiku-latest", MaxTokens: 20,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}); err != nil {
		t.Fatal(err)
	}
	// No client key at all: the configured key is used upstream.
	resp, err := http.Post(h.inst.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	metrics := h.metrics(t)

	got := h.sim.Received()
	if len(got) != 4 {
		t.Fatalf("upstream saw %d requests", len(got))
	}
	if a := got[0].Header.Get("Authorization"); a != "Bearer "+clientOpenAIKey {
		t.Errorf("same-provider call: upstream got Authorization %q, want the client's key", a)
	}
	if a := got[1].Header.Get("Authorization"); a != "Bearer "+aliasProviderKey {
		t.Errorf("alias to another provider: upstream got Authorization %q, want that provider's configured key", a)
	}
	if !strings.Contains(string(got[1].Body), `"model":"gpt-4o-mini"`) {
		t.Errorf("alias: upstream got body %s, want the provider's model", got[1].Body)
	}
	if a := got[3].Header.Get("Authorization"); a != "Bearer "+configOpenAIKey {
		t.Errorf("no client key: upstream got Authorization %q, want the configured key", a)
	}

	h.records(t) // shut down, seal
	h.scanForSecrets(t, metrics, append([]string{aliasProviderKey, "team-secret-31337"}, testKeys...)...)
}
