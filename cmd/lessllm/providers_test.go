package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
	"google.golang.org/genai"

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
	db := sealAndAnalyze(t, cmd, dir)
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

// TestGeminiAnalysedEndToEnd: calls to Gemini through the real binary —
// Google's SDK (streamed as server-sent events and not), a stream without
// ?alt=sse (one JSON array), and an OpenAI SDK alias to Gemini's
// OpenAI-compatible endpoint — analysed: TTFT and TPOT within the
// simulator's pacing, tokens and implicit-cache hits as usageMetadata
// reported them, the cost at the table's Gemini price with the cache
// discount, and no cache prediction (Google publishes no lifetime for
// implicit cache entries: not modelled).
func TestGeminiAnalysedEndToEnd(t *testing.T) {
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: 100 * time.Millisecond, TPOT: 10 * time.Millisecond, OutputTokens: 10}))
	defer sim.Close()
	dir := t.TempDir()
	cmd, url := startCaptureConfig(t, fmt.Sprintf(`listen: 127.0.0.1:0
capture: { dir: %q, node: gemini-test, flush_interval: 50ms }
providers:
  gemini: { type: gemini, base_url: %q, api_key: gemini-configured-key }
models:
  flash: { provider: gemini, model: gemini-2.5-flash }
`, dir, sim.URL))
	ctx := context.Background()
	// 12,000 bytes: 3,000 simulated tokens, above Gemini 2.5's 2,048-token
	// caching minimum, so that repeats hit the simulated implicit cache.
	long := strings.Repeat("The same long preamble. ", 500)
	g, err := genai.NewClient(ctx, &genai.ClientConfig{APIKey: "gemini-client-key", Backend: genai.BackendGeminiAPI, HTTPOptions: genai.HTTPOptions{BaseURL: url + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := g.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text(long), nil); err != nil {
			t.Fatal(err)
		}
		for _, err := range g.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text(long), nil) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	resp, err := http.Post(url+"/v1beta/models/gemini-2.5-flash:streamGenerateContent", "application/json",
		strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"no alt=sse"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	streamOpenAI(t, url, "flash")
	db := sealAndAnalyze(t, cmd, dir)
	rows := queryRows(t, db, `SELECT provider, dialect, upstream_dialect, endpoint, model, stream, estimated_ttft_ms AS ttft, estimated_tpot_ms AS tpot,
		actual_prompt_tokens AS prompt, actual_completion_tokens AS completion, actual_cached_tokens AS cached, estimated_cost_usd AS cost,
		price_source, finish_reason, estimated_cached_tokens AS predicted, problems
		FROM api_calls ORDER BY timestamp`)
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 6", len(rows))
	}
	price, ok := pricing.Default().LookupFor("gemini", "gemini-2.5-flash")
	if !ok || price.CacheRead >= price.Input {
		t.Fatalf("no Gemini price with a cache discount in the table: %+v", price)
	}
	for i, r := range rows {
		want := map[string]any{"provider": "gemini", "dialect": "gemini", "price_source": "gemini/gemini-2.5-flash", "completion": 10.0,
			"model": "gemini-2.5-flash", "finish_reason": "STOP", "predicted": nil, "problems": nil}
		if i == 5 { // the OpenAI SDK's alias, through the OpenAI-compatible endpoint
			want["dialect"], want["model"], want["finish_reason"] = "openai", "flash", "stop"
		}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("row %d: %s = %v, want %v", i, k, r[k], v)
			}
		}
		prompt, _ := r["prompt"].(float64)
		cached, _ := r["cached"].(float64)
		with, _ := price.Cost(pricing.Tokens{Prompt: int64(prompt), Completion: 10, CachedRead: int64(cached)})
		if cost, _ := r["cost"].(float64); math.Abs(cost-with) > 1e-12 || prompt == 0 {
			t.Errorf("row %d: cost %v for %v prompt (%v cached) + 10 tokens, want %g", i, r["cost"], prompt, cached, with)
		}
		if i > 0 && i < 4 && (cached < 2048 || cached > prompt) {
			t.Errorf("row %d: %v cached of %v prompt tokens: the repeated long prompt should hit the implicit cache", i, cached, prompt)
		}
		if i%2 == 1 || i >= 4 { // streamed: SSE, the JSON array, and the OpenAI SDK's stream
			if ttft, tpot := r["ttft"].(float64), r["tpot"].(float64); r["stream"] != true || ttft < 99 || ttft > 125 || math.Abs(tpot-10) > 2 {
				t.Errorf("row %d (%v): stream %v, TTFT %.1f ms, TPOT %.2f ms; the simulator paced 100 and 10", i, r["endpoint"], r["stream"], ttft, tpot)
			}
		}
	}
}

// TestBedrockAnalysedEndToEnd: calls to Bedrock through the real binary —
// AWS's SDK with InvokeModel, InvokeModelWithResponseStream (a cached
// system prompt), Converse and ConverseStream, and an OpenAI SDK alias on
// the same Claude model — analysed: the event streams decoded, TTFT and
// TPOT within the simulator's pacing, tokens, cache reads and writes as the
// API reported them and as Bedrock's rules predict them (the scope is the
// caller's access key, whatever each request's signature), the cost at the
// table's price for the Bedrock model id, and the server's own time from
// Bedrock's latency header.
func TestBedrockAnalysedEndToEnd(t *testing.T) {
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: 100 * time.Millisecond, TPOT: 10 * time.Millisecond, OutputTokens: 10,
		AWSCredentials: map[string]string{"AKIAE2ETEST": "e2e-secret"}}))
	defer sim.Close()
	const model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
	dir := t.TempDir()
	cmd, url := startCaptureConfig(t, fmt.Sprintf(`listen: 127.0.0.1:0
capture: { dir: %q, node: bedrock-test, flush_interval: 50ms }
providers:
  bedrock: { type: bedrock, region: us-east-1, base_url: %q, aws_access_key_id: AKIAE2ETEST, aws_secret_access_key: e2e-secret }
models:
  haiku: { provider: bedrock, model: %s }
`, dir, sim.URL, model))
	ctx := context.Background()
	bc := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), HTTPClient: apitest.BufferingClient{},
		Credentials: credentials.NewStaticCredentialsProvider("AKIACLIENT", "client-secret", "")})
	// 33,000 bytes of system prompt behind a cache_control breakpoint: above
	// Claude Haiku 4.5's 4,096-token minimum both in the simulator's 4-byte
	// tokens and as analysis counts them.
	system := strings.Repeat("A long and stable system prompt. ", 1000)
	body := []byte(fmt.Sprintf(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"system":[{"type":"text","text":%q,"cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"Hi"}]}`, system))
	if _, err := bc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")}); err != nil {
		t.Fatal(err)
	}
	st, err := bc.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")})
	if err != nil {
		t.Fatal(err)
	}
	for range st.GetStream().Events() {
	}
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hello"}}}}
	if _, err := bc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: msgs}); err != nil {
		t.Fatal(err)
	}
	cs, err := bc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	for range cs.GetStream().Events() {
	}
	streamOpenAI(t, url, "haiku")
	db := sealAndAnalyze(t, cmd, dir)
	rows := queryRows(t, db, `SELECT provider, dialect, upstream_dialect, endpoint, upstream_model, stream, estimated_ttft_ms AS ttft, estimated_tpot_ms AS tpot,
		actual_prompt_tokens AS prompt, actual_completion_tokens AS completion, actual_cached_tokens AS cached, actual_cache_creation_tokens AS written,
		estimated_cost_usd AS cost, price_source, finish_reason, server_processing_ms AS server, problems, estimated_cached_tokens AS predicted
		FROM api_calls ORDER BY timestamp`)
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5", len(rows))
	}
	price, ok := pricing.Default().Lookup(model)
	if !ok {
		t.Fatalf("no price for %s in the table", model)
	}
	for i, r := range rows {
		want := map[string]any{"provider": "bedrock", "dialect": "bedrock", "upstream_dialect": "bedrock", "upstream_model": model, "price_source": price.Source,
			"completion": 10.0, "finish_reason": "end_turn", "problems": nil}
		if i == 4 {
			want["dialect"], want["finish_reason"] = "openai", "stop"
		}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("row %d (%v): %s = %v, want %v", i, r["endpoint"], k, r[k], v)
			}
		}
		prompt, _ := r["prompt"].(float64)
		cached, _ := r["cached"].(float64)
		written, _ := r["written"].(float64)
		with, _ := price.Cost(pricing.Tokens{Prompt: int64(prompt), Completion: 10, CachedRead: int64(cached), CacheWrite5m: int64(written)})
		if cost, _ := r["cost"].(float64); math.Abs(cost-with) > 1e-12 || prompt == 0 {
			t.Errorf("row %d: cost %v for %v prompt (%v cached, %v written) + 10 tokens, want %g", i, r["cost"], prompt, cached, written, with)
		}
		switch i {
		case 0: // the first call writes the system prompt to the cache…
			if written < 4096 || r["server"] == nil || r["predicted"] != 0.0 {
				t.Errorf("row 0: %v written, server time %v, %v predicted cached", written, r["server"], r["predicted"])
			}
		case 1: // …the second reads it, and the cache model (Bedrock's rules) predicts it
			if predicted, _ := r["predicted"].(float64); cached < 4096 || predicted < 4096 {
				t.Errorf("row 1: %v cached, %v predicted", cached, r["predicted"])
			}
		}
		if r["stream"] == true {
			if ttft, tpot := r["ttft"].(float64), r["tpot"].(float64); ttft < 99 || ttft > 125 || math.Abs(tpot-10) > 2 {
				t.Errorf("row %d (%v): TTFT %.1f ms, TPOT %.2f ms; the simulator paced 100 and 10", i, r["endpoint"], ttft, tpot)
			}
		} else if i == 1 || i == 3 || i == 4 {
			t.Errorf("row %d (%v) is not a stream", i, r["endpoint"])
		}
	}
}

// streamOpenAI makes one streamed Chat Completions call with the OpenAI SDK
// through capture at url.
func streamOpenAI(t *testing.T, url, model string) {
	t.Helper()
	sdk := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("sk-unused"), option.WithMaxRetries(0))
	s := sdk.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: model,
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	for s.Next() {
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

// sealAndAnalyze stops capture (SIGTERM seals its segments) and analyses
// dir into a new database, whose path it returns.
func sealAndAnalyze(t *testing.T, capture *exec.Cmd, dir string) string {
	t.Helper()
	capture.Process.Signal(syscall.SIGTERM)
	capture.Wait()
	db := filepath.Join(t.TempDir(), "calls.duckdb")
	analyzeOK(t, dir, "--db", db)
	return db
}
