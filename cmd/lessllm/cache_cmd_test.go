package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lessllm/lessllm/format/wire/apitest"
)

// handbook is a long, stable instruction text (~1,700 tokens).
var handbook = strings.Repeat("Follow the support handbook: answer precisely, cite the policy section, never invent facts, escalate refunds over limits to a human. ", 60)

// cacheWorkload is one client's sequence of calls, each workload under its
// own API key (its own cache scope) so workloads can run side by side.
type cacheWorkload struct {
	name string
	run  func(t *testing.T, url string, turn int) error
}

func cacheWorkloads() []cacheWorkload {
	oc := func(url, key string) openai.Client {
		return openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	ac := func(url, key string) anthropic.Client {
		return anthropic.NewClient(aoption.WithBaseURL(url), aoption.WithAPIKey(key), aoption.WithMaxRetries(0))
	}
	ctx := context.Background()
	question := func(i int) string { return fmt.Sprintf("Question %d: how do I return item %d?", i, i*37) }
	var mu sync.Mutex
	history := map[string][]openai.ChatCompletionMessageParamUnion{}
	aHistory := []anthropic.MessageParam{}
	return []cacheWorkload{
		{"openai_repeated_system", func(t *testing.T, url string, i int) error {
			c := oc(url, "sk-cache-repeated")
			p := openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{
				openai.SystemMessage(handbook), openai.UserMessage(question(i))}}
			if i%2 == 0 {
				_, err := c.Chat.Completions.New(ctx, p)
				return err
			}
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			s := c.Chat.Completions.NewStreaming(ctx, p)
			for s.Next() {
			}
			return s.Err()
		}},
		{"openai_timestamp_first", func(t *testing.T, url string, i int) error {
			c := oc(url, "sk-cache-timestamp")
			now := time.Now().UTC().Format(time.RFC3339Nano)
			_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{
				openai.SystemMessage("Current time: " + now + ". " + handbook), openai.UserMessage(question(i))}})
			return err
		}},
		{"openai_agent", func(t *testing.T, url string, i int) error {
			c := oc(url, "sk-cache-agent")
			mu.Lock()
			msgs := append(history["agent"], openai.UserMessage(question(i)+" "+strings.Repeat("Context line. ", 20)))
			if i == 0 {
				msgs = append([]openai.ChatCompletionMessageParamUnion{openai.SystemMessage(handbook)}, msgs...)
			}
			mu.Unlock()
			r, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: msgs})
			if err != nil {
				return err
			}
			mu.Lock()
			history["agent"] = append(msgs, openai.AssistantMessage(r.Choices[0].Message.Content))
			mu.Unlock()
			return nil
		}},
		{"anthropic_system_breakpoint", func(t *testing.T, url string, i int) error {
			c := ac(url, "sk-ant-cache-system")
			_, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-sonnet-4-20250514", MaxTokens: 64,
				System:   []anthropic.TextBlockParam{{Text: handbook, CacheControl: anthropic.NewCacheControlEphemeralParam()}},
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(question(i)))}})
			return err
		}},
		{"anthropic_agent_last_message", func(t *testing.T, url string, i int) error {
			// The breakpoint moves to the newest message each turn; the
			// previous turn's entry is found by the 20-block look-back.
			c := ac(url, "sk-ant-cache-agent")
			mu.Lock()
			turn := anthropic.NewTextBlock(question(i) + " " + strings.Repeat("Tool output line. ", 30))
			turn.OfText.CacheControl = anthropic.NewCacheControlEphemeralParam()
			msgs := append([]anthropic.MessageParam{}, aHistory...)
			msgs = append(msgs, anthropic.NewUserMessage(turn))
			mu.Unlock()
			r, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-sonnet-4-20250514", MaxTokens: 64,
				System: []anthropic.TextBlockParam{{Text: handbook}}, Messages: msgs})
			if err != nil {
				return err
			}
			mu.Lock()
			plain := anthropic.NewUserMessage(anthropic.NewTextBlock(question(i) + " " + strings.Repeat("Tool output line. ", 30)))
			aHistory = append(aHistory, plain, anthropic.NewAssistantMessage(anthropic.NewTextBlock(r.Content[0].Text)))
			mu.Unlock()
			return nil
		}},
	}
}

// cacheRound runs turns [from, to) of every workload through one capture
// process (one segment), workloads side by side, turns in order.
func cacheRound(t *testing.T, upstream, dir string, ws []cacheWorkload, from, to int) {
	cmd, url, stderr := startCapture(t, upstream, dir)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			for i := from; i < to; i++ {
				if err := w.run(t, url, i); err != nil {
					t.Errorf("%s turn %d: %v", w.name, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture: %v\n%s", err, stderr)
	}
}

// TestCacheModelAgainstSimulator: the simulator caches by the providers'
// published rules; the analyzer, seeing only the prompts, predicts what it
// did. Two capture rounds (the second continues every conversation), so
// the incremental analysis has to carry cache state across segments.
func TestCacheModelAgainstSimulator(t *testing.T) {
	sim := httptest.NewServer(apitest.New(apitest.Options{TTFT: 5 * time.Millisecond, TPOT: time.Millisecond, OutputTokens: 8}))
	t.Cleanup(sim.Close)
	first, second := t.TempDir(), t.TempDir()
	ws := cacheWorkloads()
	const turns = 12
	cacheRound(t, sim.URL, first, ws, 0, turns/2)
	cacheRound(t, sim.URL, second, ws, turns/2, turns)
	if t.Failed() {
		t.FailNow()
	}

	work := t.TempDir()
	incremental, full := work+"/inc.duckdb", work+"/full.duckdb"
	analyzeOK(t, first, "--db", incremental, "--no-progress")
	analyzeOK(t, first, second, "--db", incremental, "--no-progress")
	analyzeOK(t, first, second, "--db", full, "--full", "--no-progress")

	t.Run("prediction_within_128_tokens", func(t *testing.T) {
		rows := queryRows(t, full, `SELECT c.request_id, c.model, c.api_key_fingerprint, c.actual_prompt_tokens, c.actual_cached_tokens,
			c.estimated_cached_tokens, p.miss_reason FROM api_calls c JOIN cache_predictions p USING (request_id) ORDER BY c.timestamp`)
		if len(rows) != len(ws)*turns {
			t.Fatalf("%d predicted calls, want %d", len(rows), len(ws)*turns)
		}
		agree, hits := 0, 0
		for _, r := range rows {
			actual, est := num(r["actual_cached_tokens"]), num(r["estimated_cached_tokens"])
			if actual > 0 {
				hits++
			}
			if d := actual - est; d >= -128 && d <= 128 {
				agree++
			} else {
				t.Logf("off by %d: %v", int64(d), r)
			}
		}
		share := float64(agree) / float64(len(rows))
		t.Logf("predicted within 128 tokens of the API on %d of %d calls (%.1f%%); %d calls had cache hits", agree, len(rows), 100*share, hits)
		if share < 0.95 {
			t.Errorf("agreement %.1f%% < 95%%", 100*share)
		}
		if hits < len(rows)/2 {
			t.Errorf("only %d of %d calls hit the simulator's cache: the workload does not exercise the cache", hits, len(rows))
		}
	})

	t.Run("q4_shows_predicted_and_actual", func(t *testing.T) {
		q4, err := os.ReadFile(filepath.Join("testdata", "user-queries", "q4.sql")) // the users' query, verbatim
		if err != nil {
			t.Fatal(err)
		}
		rows := queryRows(t, full, string(q4))
		if len(rows) < 3 {
			t.Fatalf("q4: %v", rows)
		}
		for _, r := range rows {
			if r["predicted_hit_rate"] == nil || r["actual_hit_rate"] == nil {
				t.Errorf("q4 row without both rates: %v", r)
			}
			t.Logf("q4: %v", r)
		}
	})

	t.Run("timestamp_family_is_an_opportunity", func(t *testing.T) {
		out, stderr, code := runLessllm(t, "cache", "--db", full, "--format", "json")
		if code != 0 {
			t.Fatalf("lessllm cache: %d %s", code, stderr)
		}
		t.Logf("lessllm cache:\n%s", out)
		rows := queryRows(t, full, `SELECT * FROM cache_opportunities WHERE reason = 'dynamic_prefix'`)
		if len(rows) != 1 {
			t.Logf("%s", queryOK(t, full, "csv", `SELECT * FROM cache_opportunities`))
			t.Fatalf("want the timestamp family as the one dynamic_prefix opportunity, got %v", rows)
		}
		o := rows[0]
		at := num(o["divergence_token"])
		excerpt, _ := o["divergence_excerpt"].(string)
		// The prompts differ from the timestamp's changing digits on: a few
		// dozen tokens in ("<|system|>Current time: 2026-11-26T00:08:…").
		if at < 5 || at > 48 || !strings.Contains(excerpt, "####-##-##T##:##:##") {
			t.Errorf("divergence at token %v, excerpt %q: want the timestamp near the start, masked", o["divergence_token"], excerpt)
		}
		if num(o["saving_usd_per_day"]) <= 0 || num(o["repeated_prefix_tokens"]) < 1024 || num(o["calls"]) != turns {
			t.Errorf("opportunity: %v", o)
		}
		if !strings.Contains(out, "dynamic_prefix") {
			t.Errorf("lessllm cache does not list it")
		}
		acc := queryRows(t, full, `SELECT * FROM cache_accuracy ORDER BY provider, model`)
		if len(acc) < 3 {
			t.Errorf("cache_accuracy: %v", acc)
		}
		for _, r := range acc {
			t.Logf("cache_accuracy: %v", r)
		}
	})

	t.Run("incremental_equals_full", func(t *testing.T) {
		for _, q := range []string{
			`SELECT request_id, estimated_cached_tokens, estimated_cache_hit_rate FROM api_calls ORDER BY request_id`,
			`SELECT * FROM cache_predictions ORDER BY request_id`,
			`SELECT * EXCLUDE (saving_usd, saving_usd_per_day), round(saving_usd, 9), round(saving_usd_per_day, 9) FROM cache_opportunities ORDER BY family`,
		} {
			a, b := queryOK(t, incremental, "csv", q), queryOK(t, full, "csv", q)
			if a != b {
				t.Errorf("incremental and full differ for %s:\n%s", q, firstDiff(a, b))
			}
		}
	})
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}
