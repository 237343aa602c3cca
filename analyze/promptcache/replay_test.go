package promptcache

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/lessllm/lessllm/format/wire"
)

// byteTokens is a tokenizer with one token per byte, so token counts in
// the tests are the lengths of the strings.
func byteTokens(s string) []int {
	out := make([]int, len(s))
	for i := range len(s) {
		out[i] = int(s[i])
	}
	return out
}

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// text is n bytes of prompt text that differs by seed.
func text(seed string, n int) string {
	return strings.Repeat(seed+" ", n/(len(seed)+1)+1)[:n]
}

type step struct {
	at      time.Duration // after t0
	kind    wire.Kind
	model   string
	body    any // marshalled to the request body
	want    int64
	wantW5  int64
	wantW1  int64
	miss    string
	usableA time.Duration // response began this long after the request (default 100 ms)
}

func replay(t *testing.T, provider string, steps []step) {
	t.Helper()
	replayWith(t, Default(), provider, steps)
}

func replayWith(t *testing.T, rules *Table, provider string, steps []step) {
	t.Helper()
	enc := NewEncoder(byteTokens)
	calls := make([]Call, len(steps))
	for i, s := range steps {
		b, _ := json.Marshal(s.body)
		r, ok := Parse(s.kind, b)
		if !ok {
			t.Fatalf("step %d: not parsed", i)
		}
		fp := enc.Fingerprint(r)
		u := s.usableA
		if u == 0 {
			u = 100 * time.Millisecond
		}
		calls[i] = Call{ID: string(rune('a' + i)), Provider: provider, Model: s.model, Scope: "k\x00" + s.model + "\x00" + r.CacheKey,
			At: t0.Add(s.at), Usable: t0.Add(s.at + u), FP: fp, Retention: r.Retention, ExplicitOnly: r.ExplicitOnly,
			ActualPrompt: int64(fp.Tokens), ActualCached: -1}
	}
	preds := Replay(rules, calls)
	for i, s := range steps {
		p := preds[i]
		if p.Cached != s.want || p.Written5m != s.wantW5 || p.Written1h != s.wantW1 || p.Miss != s.miss {
			t.Errorf("call %d at %v: cached %d, written 5m %d / 1h %d, miss %q; want %d, %d / %d, %q",
				i, s.at, p.Cached, p.Written5m, p.Written1h, p.Miss, s.want, s.wantW5, s.wantW1, s.miss)
		}
	}
}

func chat(system, user string) map[string]any {
	return map[string]any{"model": "gpt-4o", "messages": []any{
		map[string]any{"role": "system", "content": system},
		map[string]any{"role": "user", "content": user},
	}}
}

// "<|system|>" + system + "<|user|>" + user: 10 + len(system) + 8 + len(user) tokens.
func TestOpenAIPrefixRules(t *testing.T) {
	long := text("policy", 3000)
	t.Run("minimum_length", func(t *testing.T) {
		short := text("short", 900)
		replay(t, "openai", []step{
			{at: 0, kind: wire.KindOpenAIChat, model: "gpt-4o", body: chat(short, "q1"), miss: "below_minimum"},
			{at: time.Minute, kind: wire.KindOpenAIChat, model: "gpt-4o", body: chat(short, "q2"), miss: "below_minimum"},
		})
	})
	t.Run("step_rounding", func(t *testing.T) {
		// Shared prefix: 10 + 3000 + 8 = 3018 tokens (the user text differs
		// from its first byte), located to a block of 16: 3008 → steps of
		// 128 from 1024: 1024 + 15×128 = 2944.
		replay(t, "openai", []step{
			{at: 0, kind: wire.KindOpenAIChat, model: "gpt-4o", body: chat(long, "first question"), miss: "first_seen"},
			{at: time.Minute, kind: wire.KindOpenAIChat, model: "gpt-4o", body: chat(long, "second question"), want: 2944},
		})
	})
	t.Run("ttl_expiry_and_refresh", func(t *testing.T) {
		replay(t, "openai", []step{
			{at: 0, kind: wire.KindOpenAIChat, model: "gpt-4o", body: chat(long, "a"), miss: "first_seen"},
			{at: 4 * time.Minute, kind: wire.KindOpenAIChat, model: "gpt-4o", body: chat(long, "b"), want: 2944},
			{at: 8 * time.Minute, kind: wire.KindOpenAIChat, model: "gpt-4o", body: chat(long, "c"), want: 2944}, // alive: refreshed at 4 min
			{at: 14 * time.Minute, kind: wire.KindOpenAIChat, model: "gpt-4o", body: chat(long, "d"), miss: "expired"},
		})
	})
	t.Run("retention_24h", func(t *testing.T) {
		b := func(u string) map[string]any {
			m := chat(long, u)
			m["prompt_cache_retention"] = "24h"
			return m
		}
		replay(t, "openai", []step{
			{at: 0, kind: wire.KindOpenAIChat, model: "gpt-4o", body: b("a"), miss: "first_seen"},
			{at: 3 * time.Hour, kind: wire.KindOpenAIChat, model: "gpt-4o", body: b("b"), want: 2944},
		})
	})
	t.Run("prompt_cache_key_scopes", func(t *testing.T) {
		b := func(key, u string) map[string]any {
			m := chat(long, u)
			m["prompt_cache_key"] = key
			return m
		}
		replay(t, "openai", []step{
			{at: 0, kind: wire.KindOpenAIChat, model: "gpt-4o", body: b("tenant-1", "a"), miss: "first_seen"},
			{at: time.Minute, kind: wire.KindOpenAIChat, model: "gpt-4o", body: b("tenant-2", "b"), miss: "first_seen"},
			{at: 2 * time.Minute, kind: wire.KindOpenAIChat, model: "gpt-4o", body: b("tenant-1", "c"), want: 2944},
		})
	})
	t.Run("not_usable_before_the_response_began", func(t *testing.T) {
		replay(t, "openai", []step{
			{at: 0, kind: wire.KindOpenAIChat, model: "gpt-4o", body: chat(long, "a"), miss: "first_seen", usableA: 2 * time.Second},
			{at: time.Second, kind: wire.KindOpenAIChat, model: "gpt-4o", body: chat(long, "b"), miss: "first_seen"},
			{at: 3 * time.Second, kind: wire.KindOpenAIChat, model: "gpt-4o", body: chat(long, "c"), want: 2944},
		})
	})
}

// TestGeminiConfiguredRules: Gemini publishes no lifetime for its implicit
// cache, so params.json has no rules for it (not modelled); with rules
// from cache: providers:, a generateContent request is fingerprinted in
// prompt order (system instruction, then contents) and replayed by them.
func TestGeminiConfiguredRules(t *testing.T) {
	if _, ok := Default().Lookup("gemini", "gemini-2.5-flash"); ok {
		t.Fatal("params.json models Gemini: update this test and README's Prompt cache analysis")
	}
	rules, err := Default().WithOverrides(map[string]Override{"gemini": {Mode: "prefix", MinTokens: 2048, Step: 1, TTL: 5 * time.Minute}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	long := text("policy", 3000)
	body := func(user string) map[string]any {
		return map[string]any{"systemInstruction": map[string]any{"parts": []any{map[string]any{"text": long}}},
			"contents": []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": user}}}}}
	}
	// Shared: "<|system|>" + 3000 + "<|user|>" = 3018 tokens, of which the
	// fingerprint's hashing blocks locate 3010 (in steps of 1).
	replayWith(t, rules, "gemini", []step{
		{at: 0, kind: wire.KindGeminiGenerate, model: "gemini-2.5-flash", body: body("first question"), miss: "first_seen"},
		{at: time.Minute, kind: wire.KindGeminiGenerate, model: "gemini-2.5-flash", body: body("second question"), want: 3010},
		{at: 7 * time.Minute, kind: wire.KindGeminiGenerate, model: "gemini-2.5-flash", body: body("third question"), miss: "expired"},
	})
}

// TestBedrockRules: Bedrock runs Claude with Anthropic's caching rules —
// cache_control in an invoke body, a cachePoint block in Converse (which
// ends the cached prefix at the block before it) — with Claude's per-model
// minimum (4,096 for Haiku 4.5).
func TestBedrockRules(t *testing.T) {
	const model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
	long := text("policy", 6000)
	converse := func(user string) map[string]any {
		return map[string]any{"system": []any{map[string]any{"text": long}, map[string]any{"cachePoint": map[string]any{"type": "default"}}},
			"messages": []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": user}}}}}
	}
	invoke := func(user string) map[string]any {
		return map[string]any{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
			"system":   []any{map[string]any{"type": "text", "text": text("rules", 6000), "cache_control": map[string]any{"type": "ephemeral"}}},
			"messages": []any{map[string]any{"role": "user", "content": user}}}
	}
	short := func(user string) map[string]any {
		b := converse(user)
		b["system"].([]any)[0] = map[string]any{"text": text("policy", 3000)}
		return b
	}
	replay(t, "bedrock", []step{
		{at: 0, kind: wire.KindBedrockConverse, model: model, body: converse("a"), wantW5: 6000, miss: "first_seen"},
		{at: time.Minute, kind: wire.KindBedrockConverse, model: model, body: converse("b"), want: 6000},
		{at: 2 * time.Minute, kind: wire.KindBedrockInvoke, model: model, body: invoke("c"), wantW5: 6000, miss: "first_seen"},
		{at: 3 * time.Minute, kind: wire.KindBedrockInvoke, model: model, body: invoke("d"), want: 6000},
		{at: 4 * time.Minute, kind: wire.KindBedrockConverse, model: model, body: short("e"), miss: "below_minimum"},
	})
}

func TestLearnedStep(t *testing.T) {
	enc := NewEncoder(byteTokens)
	body, _ := json.Marshal(chat(text("policy", 3000), "q"))
	r, _ := Parse(wire.KindOpenAIChat, body)
	fp := enc.Fingerprint(r)
	mk := func(id string, at time.Duration, cached int64) Call {
		return Call{ID: id, Provider: "openai", Model: "gpt-4o", Scope: "s", At: t0.Add(at), Usable: t0.Add(at),
			FP: fp, ActualPrompt: int64(fp.Tokens), ActualCached: cached}
	}
	// The API reported 4,012: not a multiple of 128, so counts are not
	// rounded to 128 (gcd 4): the whole prompt (3,019 tokens, the last
	// cut) is predicted, to a multiple of 4 above the minimum.
	preds := Replay(Default(), []Call{mk("a", 0, 0), mk("b", time.Minute, 4012)})
	if got := preds[1].Cached; got != 1024+(3019-1024)/4*4 {
		t.Fatalf("cached %d with a learned step of 4", got)
	}
	preds = Replay(Default(), []Call{mk("a", 0, 0), mk("b", time.Minute, 2944)})
	if got := preds[1].Cached; got != 2944 {
		t.Fatalf("cached %d with counts in steps of 128", got)
	}
}

// messages builds an Anthropic request: tools, system blocks, messages.
func messages(model string, tools []any, system []any, msgs ...any) map[string]any {
	m := map[string]any{"model": model, "max_tokens": 100, "system": system, "messages": msgs}
	if tools != nil {
		m["tools"] = tools
	}
	return m
}

func sys(text string, cache string) map[string]any {
	b := map[string]any{"type": "text", "text": text}
	if cache != "" {
		b["cache_control"] = map[string]any{"type": "ephemeral", "ttl": cache}
	}
	return b
}

func user(text string, cache bool) map[string]any {
	b := map[string]any{"type": "text", "text": text}
	if cache {
		b["cache_control"] = map[string]any{"type": "ephemeral"}
	}
	return map[string]any{"role": "user", "content": []any{b}}
}

func TestAnthropicBreakpointRules(t *testing.T) {
	const sonnet = "claude-sonnet-4-20250514"
	long := text("handbook", 2000)
	tool := func(desc string) []any {
		return []any{map[string]any{"name": "lookup", "description": desc, "input_schema": map[string]any{"type": "object"}}}
	}
	t.Run("no_breakpoint", func(t *testing.T) {
		replay(t, "anthropic", []step{
			{kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, []any{sys(long, "")}, user("q1", false)), miss: "no_breakpoint"},
			{at: time.Minute, kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, []any{sys(long, "")}, user("q2", false)), miss: "no_breakpoint"},
		})
	})
	t.Run("system_breakpoint_write_then_read", func(t *testing.T) {
		replay(t, "anthropic", []step{
			{kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, []any{sys(long, "5m")}, user("q1", false)), wantW5: 2000, miss: "first_seen"},
			{at: time.Minute, kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, []any{sys(long, "5m")}, user("q2", false)), want: 2000},
			// Five idle minutes after the last hit: expired.
			{at: 6*time.Minute + time.Second, kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, []any{sys(long, "5m")}, user("q3", false)), wantW5: 2000, miss: "expired"},
		})
	})
	t.Run("one_hour_ttl", func(t *testing.T) {
		replay(t, "anthropic", []step{
			{kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, []any{sys(long, "1h")}, user("q1", false)), wantW1: 2000, miss: "first_seen"},
			{at: 50 * time.Minute, kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, []any{sys(long, "1h")}, user("q2", false)), want: 2000},
		})
	})
	t.Run("minimum_per_model", func(t *testing.T) {
		const haiku = "claude-3-5-haiku-20241022"
		mid := text("handbook", 1500) // enough for Sonnet (1,024), not for Haiku 3.5 (2,048)
		replay(t, "anthropic", []step{
			{kind: wire.KindAnthropicMessages, model: haiku, body: messages(haiku, nil, []any{sys(mid, "5m")}, user("q1", false)), miss: "below_minimum"},
			{at: time.Minute, kind: wire.KindAnthropicMessages, model: haiku, body: messages(haiku, nil, []any{sys(mid, "5m")}, user("q2", false)), miss: "below_minimum"},
			{at: 2 * time.Minute, kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, []any{sys(mid, "5m")}, user("q2", false)), wantW5: 1500, miss: "first_seen"},
		})
	})
	t.Run("tools_system_messages_order", func(t *testing.T) {
		// Breakpoints after the tools and after the system prompt: a new
		// system prompt keeps the tools' entry; a new tool invalidates both.
		body := func(desc, system, q string) map[string]any {
			tl := tool(desc)
			tl[0].(map[string]any)["cache_control"] = map[string]any{"type": "ephemeral"}
			return messages(sonnet, tl, []any{sys(system, "5m")}, user(q, false))
		}
		desc := text("tooldoc", 1200)
		toolTokens := int64(len(canonJSON(tool(desc)[0])))
		replay(t, "anthropic", []step{
			{kind: wire.KindAnthropicMessages, model: sonnet, body: body(desc, long, "q1"), wantW5: toolTokens + 2000, miss: "first_seen"},
			{at: time.Minute, kind: wire.KindAnthropicMessages, model: sonnet, body: body(desc, text("other", 2000), "q2"), want: toolTokens, wantW5: 2000},
			{at: 2 * time.Minute, kind: wire.KindAnthropicMessages, model: sonnet, body: body(text("newtool", 1200), long, "q3"), wantW5: toolTokens + 2000, miss: "first_seen"},
		})
	})
	t.Run("lookback_20_blocks", func(t *testing.T) {
		// An agent marks only its last message. The next call's breakpoint
		// is further on, and the earlier entry is found by looking back —
		// within 20 blocks, not beyond.
		turns := func(n int) []any {
			out := []any{}
			for i := range n {
				out = append(out, user(text("turn", 60)+string(rune('a'+i%26)), i == n-1))
			}
			return out
		}
		base := []any{sys(long, "")}
		replay(t, "anthropic", []step{
			{kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, base, turns(2)...), wantW5: 2000 + 2*(8+61), miss: "first_seen"},
			{at: time.Minute, kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, base, turns(4)...), want: 2000 + 2*(8+61), wantW5: 2 * (8 + 61)},
			// 22 blocks later: the look-back does not reach the entry at turn 4.
			{at: 2 * time.Minute, kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, base, turns(26)...), wantW5: 2000 + 26*(8+61), miss: "first_seen"},
		})
	})
	t.Run("breakpoint_after_the_changing_part", func(t *testing.T) {
		// The breakpoint is on the user turn, which changes every call: the
		// entry written never matches the next prompt.
		replay(t, "anthropic", []step{
			{kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, []any{sys(long, "")}, user("q1", true)), wantW5: 2000 + 8 + 2, miss: "first_seen"},
			{at: time.Minute, kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, []any{sys(long, "")}, user("q2", true)), wantW5: 2000 + 8 + 2, miss: "first_seen"},
		})
	})
	t.Run("at_most_four_breakpoints", func(t *testing.T) {
		blocks := []any{}
		for i := range 5 {
			blocks = append(blocks, sys(text("part"+string(rune('a'+i)), 600), "5m"))
		}
		// Only the first four count: 4×600 written, the fifth part not.
		replay(t, "anthropic", []step{
			{kind: wire.KindAnthropicMessages, model: sonnet, body: messages(sonnet, nil, blocks, user("q", false)), wantW5: 2400, miss: "first_seen"},
		})
	})
}

func TestOpenAIExplicitBreakpoints(t *testing.T) {
	long := text("policy", 3000)
	body := func(q string, explicitOnly bool) map[string]any {
		m := map[string]any{"model": "gpt-5.6", "messages": []any{
			map[string]any{"role": "system", "content": []any{map[string]any{"type": "text", "text": long, "prompt_cache_breakpoint": map[string]any{"mode": "explicit"}}}},
			map[string]any{"role": "user", "content": q},
		}}
		if explicitOnly {
			m["prompt_cache_options"] = map[string]any{"mode": "explicit"}
		}
		return m
	}
	sysEnd := int64(10 + 3000)
	replay(t, "openai", []step{
		// Implicit mode: the explicit breakpoint and the whole prompt are written.
		{kind: wire.KindOpenAIChat, model: "gpt-5.6", body: body("first", false), wantW5: sysEnd + 8 + 5, miss: "first_seen"},
		// Read up to the system prompt (not rounded), write the new tail.
		{at: time.Minute, kind: wire.KindOpenAIChat, model: "gpt-5.6", body: body("second", true), want: sysEnd},
	})
}

func TestFamilyMasksDigits(t *testing.T) {
	enc := NewEncoder(byteTokens)
	fp := func(system string) *Fingerprint {
		b, _ := json.Marshal(chat(system, "q"))
		r, _ := Parse(wire.KindOpenAIChat, b)
		return enc.Fingerprint(r)
	}
	rest := text("policy", 2000)
	a, b := fp("Now: 2026-11-25T09:00:01Z id=req_8f3a. "+rest), fp("Now: 2026-11-25T09:05:17Z id=req_9c2d. "+rest)
	if a.Family != b.Family {
		t.Fatal("prompts that differ only in a timestamp and an id are in different families")
	}
	if a.Hashes[1] == b.Hashes[1] {
		t.Fatal("the prefixes of prompts with different timestamps hash alike")
	}
	if c := fp("Other instructions entirely. " + rest); c.Family == a.Family {
		t.Fatal("different prompts in one family")
	}
}

// TestResumeEqualsWholeReplay: a replay that starts from a checkpoint (and
// the checkpoint through its encoding) predicts for the calls after it
// exactly what a replay of the whole scope predicts — wherever the
// checkpoint falls, in all three ways of caching, across expiries and the
// cache's periodic forgetting of expired entries.
func TestResumeEqualsWholeReplay(t *testing.T) {
	const sonnet = "claude-sonnet-4-20250514"
	enc := NewEncoder(byteTokens)
	r := rand.New(rand.NewPCG(1, 2))
	systems := []string{text("handbook", 2400), text("manual", 1800), text("policy", 3000)}
	var calls []Call
	at := t0
	for i := range 240 {
		var kind wire.Kind
		var model string
		var body any
		system, q := systems[r.IntN(len(systems))], fmt.Sprintf("question %d %s", i, text("q", r.IntN(400)))
		switch i % 3 {
		case 0:
			kind, model, body = wire.KindOpenAIChat, "gpt-4o", chat(system, q)
		case 1:
			kind, model, body = wire.KindAnthropicMessages, sonnet, messages(sonnet, nil, []any{sys(system, []string{"5m", "1h"}[r.IntN(2)])}, user(q, r.IntN(2) == 0))
		default:
			kind, model = wire.KindOpenAIChat, "gpt-5.6"
			body = map[string]any{"model": "gpt-5.6", "messages": []any{
				map[string]any{"role": "system", "content": []any{map[string]any{"type": "text", "text": system, "prompt_cache_breakpoint": map[string]any{"mode": "explicit"}}}},
				map[string]any{"role": "user", "content": q},
			}}
		}
		b, _ := json.Marshal(body)
		req, ok := Parse(kind, b)
		if !ok {
			t.Fatalf("call %d: not parsed", i)
		}
		fp := enc.Fingerprint(req)
		// Mostly seconds apart, sometimes beyond a 5-minute or 1-hour TTL,
		// sometimes at once (before the last response began).
		at = at.Add([]time.Duration{0, time.Second, 20 * time.Second, 6 * time.Minute, 61 * time.Minute}[r.IntN(5)])
		provider := map[wire.Kind]string{wire.KindOpenAIChat: "openai", wire.KindAnthropicMessages: "anthropic"}[kind]
		calls = append(calls, Call{ID: fmt.Sprintf("c%03d", i), Provider: provider, Model: model, Scope: "k\x00" + model,
			At: at, Usable: at.Add(300 * time.Millisecond), FP: fp, ActualPrompt: int64(fp.Tokens), ActualCached: -1})
	}
	rules := Default()
	params := ParamsOf(rules, calls)
	whole := ReplayWith(rules, calls, params)
	hits := 0
	for _, p := range whole {
		if p.Cached > 0 {
			hits++
		}
	}
	if hits < 20 {
		t.Fatalf("%d predicted hits: the workload does not exercise the cache", hits)
	}
	last := calls[len(calls)-1].At
	for _, lag := range []time.Duration{time.Second, 30 * time.Second, 10 * time.Minute, time.Hour, 3 * time.Hour, 9 * time.Hour} {
		_, kept := Resume(rules, calls, params, Checkpoints{Lag: lag, MinCalls: 1})
		if len(kept) != 3 {
			t.Fatalf("lag %v: %d checkpoints, want one per scope", lag, len(kept))
		}
		from := map[string]*Checkpoint{}
		for _, k := range kept {
			if !k.At.After(last.Add(-lag - 62*time.Minute)) {
				t.Errorf("lag %v: checkpoint of %q at %v, before the lag", lag, k.Scope, k.At)
			}
			state, err := k.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			restored := &Checkpoint{Scope: k.Scope, At: k.At, ID: k.ID}
			if err := restored.UnmarshalBinary(state); err != nil {
				t.Fatal(err)
			}
			from[k.Scope] = restored
		}
		var rest []Call
		var want []Prediction
		for i, c := range calls {
			k := from[c.Scope]
			if c.At.After(k.At) || c.At.Equal(k.At) && c.ID >= k.ID {
				rest, want = append(rest, c), append(want, whole[i])
			}
		}
		got, _ := Resume(rules, rest, params, Checkpoints{From: from})
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("lag %v, call %s: resumed %+v, whole %+v", lag, rest[i].ID, got[i], want[i])
			}
		}
	}
	if err := new(Checkpoint).UnmarshalBinary([]byte{1, 2, 3}); err == nil {
		t.Error("a damaged checkpoint restored")
	}
}
