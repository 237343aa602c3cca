package apitest

import (
	"crypto/sha256"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"
)

// Simulated tokens: 4 bytes of the canonical prompt each. Real tokenizers
// differ, but the cache rules below only need a prefix-stable count.
const bytesPerToken = 4

func countTokens(s string) int { return (len(s) + bytesPerToken - 1) / bytesPerToken }

// promptTokens is a prompt serialised in the order the provider caches it,
// with the byte offsets where Anthropic cache_control breakpoints end.
type promptTokens struct {
	canon       []byte
	breakpoints []breakpoint
	blockEnds   []int // byte offsets where content blocks end (Anthropic's look-back counts blocks)
}

type breakpoint struct {
	end int // byte offset in canon
	ttl time.Duration
}

func (p promptTokens) total() int { return countTokens(string(p.canon)) }

func (p *promptTokens) add(s string) { p.canon = append(p.canon, s...) }

// markBreakpoint ends a cacheable prefix here if block has cache_control.
func (p *promptTokens) markBreakpoint(block map[string]any) {
	if n := len(p.blockEnds); n == 0 || p.blockEnds[n-1] != len(p.canon) {
		p.blockEnds = append(p.blockEnds, len(p.canon))
	}
	cc, ok := block["cache_control"].(map[string]any)
	if !ok {
		return
	}
	ttl := 5 * time.Minute
	if cc["ttl"] == "1h" {
		ttl = time.Hour
	}
	p.breakpoints = append(p.breakpoints, breakpoint{end: len(p.canon), ttl: ttl})
}

// addContent serialises a content field (string or list of blocks).
func (p *promptTokens) addContent(content any) {
	switch c := content.(type) {
	case string:
		p.add(c)
		p.markBreakpoint(nil) // a block end, never a breakpoint
	case []any:
		for _, b := range c {
			blk, _ := b.(map[string]any)
			if t, ok := blk["text"].(string); ok {
				p.add(t)
			} else {
				p.add(string(mustJSON(blk)))
			}
			p.markBreakpoint(blk)
		}
	}
}

// addTurns serialises a list of turns: each role, then its content under
// key (messages' content, Gemini's parts).
func (p *promptTokens) addTurns(v any, key string) {
	turns, _ := v.([]any)
	for _, t := range turns {
		turn, _ := t.(map[string]any)
		p.add("<|" + str(turn["role"]) + "|>")
		p.addContent(turn[key])
	}
}

// openAIPrompt serialises a chat request: tools, then messages.
func openAIPrompt(req map[string]any) promptTokens {
	var p promptTokens
	if tools, ok := req["tools"]; ok {
		p.add(string(mustJSON(tools)))
	}
	p.addTurns(req["messages"], "content")
	return p
}

// responsesPrompt serialises a Responses request: instructions, then input.
func responsesPrompt(req map[string]any) promptTokens {
	var p promptTokens
	if tools, ok := req["tools"]; ok {
		p.add(string(mustJSON(tools)))
	}
	p.add(str(req["instructions"]))
	switch in := req["input"].(type) {
	case string:
		p.add("<|user|>" + in)
	case []any:
		p.addTurns(in, "content")
	}
	return p
}

// anthropicPrompt serialises a Messages request in Anthropic's cache order:
// tools, then system, then messages; a top-level cache_control marks the
// end of the whole prompt.
func anthropicPrompt(req map[string]any) promptTokens {
	var p promptTokens
	if tools, ok := req["tools"].([]any); ok {
		for _, t := range tools {
			tool, _ := t.(map[string]any)
			p.add(string(mustJSON(tool)))
			p.markBreakpoint(tool)
		}
	}
	p.addContent(req["system"])
	p.addTurns(req["messages"], "content")
	p.markBreakpoint(req)
	return p
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// cacheModel follows the providers' published prompt-caching rules:
//
//   - OpenAI (platform.openai.com/docs/guides/prompt-caching): automatic for
//     prompts of at least 1,024 tokens; hits are the longest cached prefix,
//     counted in 128-token steps; entries expire after minutes of
//     inactivity (5 here), refreshed on use; scoped by key and model, plus
//     prompt_cache_key when given.
//   - Anthropic (docs.anthropic.com prompt caching): only prefixes ending at
//     a cache_control breakpoint are cached, if at least the model's minimum
//     (anthropicMinTokens); for each breakpoint the cache is checked at its
//     block and up to 20 blocks before it, the longest hit is read and the
//     rest up to the last breakpoint is written; entries live 5 minutes (or
//     1 hour), refreshed on every hit.
//   - Gemini (ai.google.dev/gemini-api/docs/caching): implicit caching as
//     OpenAI's, from the model's minimum (geminiMinTokens), in steps of
//     the simulator's own choosing.
//
// Either way an entry can be read once the response that wrote it has
// begun (its first token), not by requests running alongside it.
type cacheModel struct {
	mu      sync.Mutex
	entries map[[32]byte]cacheEntry // prefix hash → entry
}

type cacheEntry struct {
	usable, expires time.Time
	ttl             time.Duration
}

func (e cacheEntry) live(now time.Time) bool { return !now.Before(e.usable) && now.Before(e.expires) }

func newCacheModel() *cacheModel { return &cacheModel{entries: map[[32]byte]cacheEntry{}} }

const (
	openAIMinTokens = 1024
	openAIStep      = 128
	openAITTL       = 5 * time.Minute
)

func scopedHash(scope string, prefix []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write(prefix)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// openAI returns the cached tokens of a prompt and records its prefixes,
// readable from usable on.
func (c *cacheModel) openAI(scope string, p promptTokens, now, usable time.Time) int {
	return c.prefix(scope, p, openAIMinTokens, openAIStep, openAITTL, now, usable)
}

// prefix is automatic prefix caching: a prompt of at least minTokens is
// cached in step-token prefixes for ttl after its last use; a hit is the
// longest live prefix.
func (c *cacheModel) prefix(scope string, p promptTokens, minTokens, step int, ttl time.Duration, now, usable time.Time) int {
	tokens := p.total()
	if tokens < minTokens {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cached := 0
	for n := minTokens; n <= tokens; n += step {
		h := scopedHash(scope, p.canon[:min(n*bytesPerToken, len(p.canon))])
		e := cacheEntry{usable: usable, expires: now.Add(ttl), ttl: ttl}
		if old, ok := c.entries[h]; ok && old.live(now) {
			cached = n
			e.usable = old.usable
		}
		c.entries[h] = e
	}
	return cached
}

// anthropicUsage is what the cache model says of one Messages call.
type anthropicUsage struct {
	input, cacheRead, cacheWrite5m, cacheWrite1h int
}

// anthropicMinTokens is the shortest cacheable prefix per model, from
// Anthropic's prompt-caching table as of 2026-11.
func anthropicMinTokens(model string) int {
	for _, m := range []struct {
		match string
		min   int
	}{
		{"claude-opus-5", 512},
		{"claude-opus-4-5", 4096}, {"claude-opus-4-6", 4096}, {"claude-haiku-4-5", 4096},
		{"claude-sonnet-4-6", 2048}, {"claude-3-5-haiku", 2048}, {"claude-3-haiku", 2048},
	} {
		if strings.Contains(model, m.match) {
			return m.min
		}
	}
	return 1024
}

// anthropicLookback is how many blocks before a breakpoint are checked.
const anthropicLookback = 20

func (c *cacheModel) anthropic(scope, model string, p promptTokens, now, usable time.Time) anthropicUsage {
	total := p.total()
	u := anthropicUsage{input: total}
	minTokens := anthropicMinTokens(model)
	tokensAt := func(end int) int { return countTokens(string(p.canon[:end])) }
	c.mu.Lock()
	defer c.mu.Unlock()
	readEnd := 0
	for _, b := range p.breakpoints {
		k := sort.SearchInts(p.blockEnds, b.end+1) // block ends at or before the breakpoint
		for j := k - 1; j >= 0 && j >= k-1-anthropicLookback; j-- {
			end := p.blockEnds[j]
			if tokensAt(end) < minTokens {
				break
			}
			h := scopedHash(scope, p.canon[:end])
			if e, ok := c.entries[h]; ok && e.live(now) {
				readEnd = max(readEnd, end)
				e.expires = now.Add(e.ttl) // refreshed on every hit
				c.entries[h] = e
				break
			}
		}
	}
	u.cacheRead = tokensAt(readEnd)
	written := readEnd
	for _, b := range p.breakpoints {
		if b.end <= readEnd || tokensAt(b.end) < minTokens {
			continue
		}
		c.entries[scopedHash(scope, p.canon[:b.end])] = cacheEntry{usable: usable, expires: now.Add(b.ttl), ttl: b.ttl}
		n := tokensAt(b.end) - tokensAt(written)
		if b.ttl == time.Hour {
			u.cacheWrite1h += n
		} else {
			u.cacheWrite5m += n
		}
		written = b.end
	}
	u.input = total - u.cacheRead - u.cacheWrite5m - u.cacheWrite1h
	return u
}

// cacheScope keys the cache by credential, model and an optional routing
// key, as providers scope caches to an organisation.
func cacheScope(auth, model string, req map[string]any) string {
	key, _ := json.Marshal(req["prompt_cache_key"])
	return auth + "\x00" + model + "\x00" + string(key)
}
