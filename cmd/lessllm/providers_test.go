package main

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// TestAzureAnalysedEndToEnd: calls to Azure OpenAI through the real
// binary — an OpenAI SDK alias to a deployment, and openai-go's Azure
// client — streamed and not, analysed: TTFT and TPOT within the
// simulator's pacing, tokens as the API reported them, the cost at Azure's
// own price for the model the deployment serves (above OpenAI's), and a
// prompt-cache prediction by Azure's rules.
func TestAzureAnalysedEndToEnd(t *testing.T) {
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: 100 * time.Millisecond, TPOT: 10 * time.Millisecond, OutputTokens: 10, NoCache: true}))
	defer sim.Close()
	dir := t.TempDir()
	cmd, url := startCaptureConfig(t, fmt.Sprintf(`listen: 127.0.0.1:0
capture: { dir: %q, node: azure-test, flush_interval: 50ms }
providers:
  azure_openai:
    type: azure_openai
    base_url: %q
    api_key: azure-configured-key
    api_version: 2024-10-21
    deployments: { gpt-4o-mini: prod-mini }
models:
  mini: { provider: azure_openai, model: gpt-4o-mini }
`, dir, sim.URL))
	ctx := context.Background()
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("How fast is the first token?")}
	sdk := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("sk-unused"), option.WithMaxRetries(0))
	az := openai.NewClient(azure.WithEndpoint(url, "2024-10-21"), azure.WithAPIKey("azure-client-key"), azure.WithUnsafeAllowHTTP(), option.WithMaxRetries(0))
	for _, c := range []struct {
		client openai.Client
		model  string
	}{{sdk, "mini"}, {az, "prod-mini"}} {
		for range 2 {
			if _, err := c.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: c.model, Messages: msgs}); err != nil {
				t.Fatal(err)
			}
			s := c.client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: c.model, Messages: msgs,
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
			for s.Next() {
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	db := filepath.Join(t.TempDir(), "azure.duckdb")
	analyzeOK(t, dir, "--db", db)
	rows := queryRows(t, db, `SELECT provider, model, upstream_model, stream, estimated_ttft_ms AS ttft, estimated_tpot_ms AS tpot,
		actual_prompt_tokens AS prompt, actual_completion_tokens AS completion, estimated_cost_usd AS cost, price_source,
		estimated_cached_tokens AS predicted_cached
		FROM api_calls ORDER BY timestamp`)
	if len(rows) != 8 {
		t.Fatalf("%d rows, want 8", len(rows))
	}
	price, _ := pricing.Default().LookupFor("azure", "gpt-4o-mini")
	openAI, _ := pricing.Default().Lookup("gpt-4o-mini")
	if price.Input <= openAI.Input {
		t.Fatalf("the table's Azure price %g is not above OpenAI's %g: the test would not tell them apart", price.Input, openAI.Input)
	}
	for i, r := range rows {
		// Modelled with Azure's published cache rules (short prompts: 0).
		want := map[string]any{"provider": "azure_openai", "upstream_model": "gpt-4o-mini", "price_source": "azure/gpt-4o-mini",
			"model": []string{"mini", "prod-mini"}[i/4], "completion": 10.0, "predicted_cached": 0.0}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("row %d: %s = %v, want %v", i, k, r[k], v)
			}
		}
		prompt, _ := r["prompt"].(float64)
		completion, _ := r["completion"].(float64)
		if cost, _ := r["cost"].(float64); math.Abs(cost-(prompt*price.Input+completion*price.Output)) > 1e-12 || prompt == 0 {
			t.Errorf("row %d: cost %v for %v + %v tokens, want Azure's price (%g, %g per token)", i, r["cost"], prompt, completion, price.Input, price.Output)
		}
		if r["stream"] == true {
			if ttft, tpot := r["ttft"].(float64), r["tpot"].(float64); ttft < 99 || ttft > 125 || math.Abs(tpot-10) > 2 {
				t.Errorf("row %d: TTFT %.1f ms, TPOT %.2f ms; the simulator paced 100 and 10", i, ttft, tpot)
			}
		}
	}
}
