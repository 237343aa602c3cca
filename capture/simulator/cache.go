package simulator

import (
	"crypto/sha256"
	"encoding/json"
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
}

type breakpoint struct {
	end int // byte offset in canon
	ttl time.Duration
}

func (p promptTokens) total() int { return countTokens(string(p.canon)) }

func (p *promptTokens) add(s string) { p.canon = append(p.canon, s...) }

// markBreakpoint ends a cacheable prefix here if block has cache_control.
func (p *promptTokens) markBreakpoint(block map[string]any) {
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

// openAIPrompt serialises a chat request: tools, then messages.
func openAIPrompt(req map[string]any) promptTokens {
	var p promptTokens
	if tools, ok := req["tools"]; ok {
		p.add(string(mustJSON(tools)))
	}
	msgs, _ := req["messages"].([]any)
	for _, m := range msgs {
		msg, _ := m.(map[string]any)
		p.add("<|" + str(msg["role"]) + "|>")
		p.addContent(msg["content"])
	}
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
		for _, m := range in {
			msg, _ := m.(map[string]any)
			p.add("<|" + str(msg["role"]) + "|>")
			p.addContent(msg["content"])
		}
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
	msgs, _ := req["messages"].([]any)
	for _, m := range msgs {
		msg, _ := m.(map[string]any)
		p.add("<|" + str(msg["role"]) + "|>")
		p.addContent(msg["content"])
	}
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
//     (1,024 tokens; 2,048 for Haiku models); a hit reads the longest cached
//     breakpoint prefix, the rest up to the last breakpoint is written;
//     entries live 5 minutes (or 1 hour), refreshed on every hit.
type cacheModel struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time // prefix hash → expiry
}

func newCacheModel() *cacheModel { return &cacheModel{entries: map[[32]byte]time.Time{}} }

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

// openAI returns the cached tokens of a prompt and records its prefixes.
func (c *cacheModel) openAI(scope string, p promptTokens, now time.Time) int {
	tokens := p.total()
	if tokens < openAIMinTokens {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cached := 0
	for n := openAIMinTokens; n <= tokens; n += openAIStep {
		h := scopedHash(scope, p.canon[:min(n*bytesPerToken, len(p.canon))])
		if exp, ok := c.entries[h]; ok && now.Before(exp) {
			cached = n
		}
		c.entries[h] = now.Add(openAITTL)
	}
	return cached
}

// anthropicUsage is what the cache model says of one Messages call.
type anthropicUsage struct {
	input, cacheRead, cacheWrite5m, cacheWrite1h int
}

func anthropicMinTokens(model string) int {
	if strings.Contains(model, "haiku") {
		return 2048
	}
	return 1024
}

func (c *cacheModel) anthropic(scope, model string, p promptTokens, now time.Time) anthropicUsage {
	total := p.total()
	u := anthropicUsage{input: total}
	minTokens := anthropicMinTokens(model)
	c.mu.Lock()
	defer c.mu.Unlock()
	readEnd := 0
	for _, b := range p.breakpoints {
		if countTokens(string(p.canon[:b.end])) < minTokens {
			continue
		}
		h := scopedHash(scope, p.canon[:b.end])
		if exp, ok := c.entries[h]; ok && now.Before(exp) {
			readEnd = b.end
			c.entries[h] = now.Add(b.ttl) // refreshed on every hit
		}
	}
	u.cacheRead = countTokens(string(p.canon[:readEnd]))
	written := readEnd
	for _, b := range p.breakpoints {
		if b.end <= readEnd || countTokens(string(p.canon[:b.end])) < minTokens {
			continue
		}
		c.entries[scopedHash(scope, p.canon[:b.end])] = now.Add(b.ttl)
		n := countTokens(string(p.canon[:b.end])) - countTokens(string(p.canon[:written]))
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
