package promptcache

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/lessllm/lessllm/format/wire"
)

// Prompt canonicalisation. A provider caches the prompt as its model reads
// it, in a fixed order:
//
//	OpenAI Chat Completions   tools, then messages (role, then content)
//	OpenAI Responses          tools, instructions, then input items
//	Anthropic Messages        tools, then system, then messages
//
// A change anywhere invalidates the cache from that point on: a changed
// tool list invalidates everything, a changed system prompt everything
// after the tools (Anthropic's docs, "What invalidates the cache"). The
// canonical form keeps that order and marks where content blocks and cache
// breakpoints end; the exact bytes a provider tokenises are not public, so
// counts are scaled to the API's own prompt count (replay.go).

// piece is a run of canonical prompt text.
type piece struct {
	text     string
	blockEnd bool          // a content block (message, system block, tool) ends here
	cacheTTL time.Duration // > 0: a cache breakpoint with this TTL ends here
}

// Request is what of a request body the cache sees.
type Request struct {
	pieces []piece
	// CacheKey is OpenAI's prompt_cache_key: part of the routing hash, so
	// prompts under different keys do not share entries.
	CacheKey string
	// Retention is OpenAI's prompt_cache_retention ("in_memory", "24h").
	Retention string
	// ExplicitOnly: OpenAI prompt_cache_options.mode "explicit" (no
	// implicit breakpoint).
	ExplicitOnly bool
}

// Text is the canonical prompt text.
func (r *Request) Text() string {
	n := 0
	for _, p := range r.pieces {
		n += len(p.text)
	}
	b := make([]byte, 0, n)
	for _, p := range r.pieces {
		b = append(b, p.text...)
	}
	return string(b)
}

// Parse canonicalises a request body of the given kind: Chat Completions,
// Responses or Messages. It returns false for a body that is not a JSON
// object.
func Parse(kind wire.Kind, body []byte) (*Request, bool) {
	var req map[string]any
	if json.Unmarshal(body, &req) != nil || req == nil {
		return nil, false
	}
	r := &Request{CacheKey: str(req["prompt_cache_key"]), Retention: str(req["prompt_cache_retention"])}
	if o, ok := req["prompt_cache_options"].(map[string]any); ok {
		r.ExplicitOnly = o["mode"] == "explicit"
	}
	switch kind {
	case wire.KindAnthropicMessages, wire.KindBedrockInvoke: // Bedrock's invoke of Claude: the Messages API
		if tools, ok := req["tools"].([]any); ok {
			for _, t := range tools {
				r.block(canonJSON(t), t)
			}
		}
		r.content(req["system"])
		r.messages(req["messages"])
		// Top-level cache_control: Anthropic places the breakpoint on the
		// last cacheable block, i.e. the end of the prompt.
		if ttl := breakpointTTL(req["cache_control"], 5*time.Minute); ttl > 0 && len(r.pieces) > 0 {
			r.pieces[len(r.pieces)-1].cacheTTL = max(r.pieces[len(r.pieces)-1].cacheTTL, ttl)
		}
	case wire.KindOpenAIChat:
		if tools, ok := req["tools"]; ok {
			r.block(canonJSON(tools), nil)
		}
		r.messages(req["messages"])
	case wire.KindOpenAIResponses:
		if tools, ok := req["tools"]; ok {
			r.block(canonJSON(tools), nil)
		}
		if s := str(req["instructions"]); s != "" {
			r.block(s, nil)
		}
		switch in := req["input"].(type) {
		case string:
			r.add("<|user|>")
			r.block(in, nil)
		case []any:
			r.messages(in)
		}
	case wire.KindBedrockConverse: // tools, system, messages; a cachePoint block ends a cached prefix
		if tc, ok := req["toolConfig"].(map[string]any); ok {
			r.converseBlocks(tc["tools"])
		}
		r.converseBlocks(req["system"])
		r.turns(req["messages"], "content", r.converseBlocks)
	case wire.KindGeminiGenerate: // tools, the system instruction, then the contents
		if tools, ok := req["tools"]; ok {
			r.block(canonJSON(tools), nil)
		}
		if sys, ok := req["systemInstruction"].(map[string]any); ok {
			r.add("<|system|>")
			r.content(sys["parts"])
		}
		r.turns(req["contents"], "parts", r.content)
	default:
		return nil, false
	}
	return r, true
}

func (r *Request) add(s string) { r.pieces = append(r.pieces, piece{text: s}) }

// block adds one content block; from is the JSON object it came from, whose
// cache_control (Anthropic) or prompt_cache_breakpoint (OpenAI) makes it a
// breakpoint.
func (r *Request) block(s string, from any) {
	p := piece{text: s, blockEnd: true}
	if m, ok := from.(map[string]any); ok {
		if ttl := breakpointTTL(m["cache_control"], 5*time.Minute); ttl > 0 {
			p.cacheTTL = ttl
		} else if ttl := breakpointTTL(m["prompt_cache_breakpoint"], 30*time.Minute); ttl > 0 {
			p.cacheTTL = ttl
		}
	}
	r.pieces = append(r.pieces, p)
}

// turns adds a list of turns — a role, then its blocks under key — as
// Converse's messages and Gemini's contents are.
func (r *Request) turns(v any, key string, blocks func(any)) {
	list, _ := v.([]any)
	for _, t := range list {
		turn, _ := t.(map[string]any)
		r.add("<|" + str(turn["role"]) + "|>")
		blocks(turn[key])
	}
}

// converseBlocks adds Converse's content blocks: text as text, a
// cachePoint as the end of a cached prefix at the block before it
// (ttl "1h" or the default five minutes), anything else as its JSON.
func (r *Request) converseBlocks(v any) {
	blocks, _ := v.([]any)
	for _, b := range blocks {
		blk, _ := b.(map[string]any)
		if cp, ok := blk["cachePoint"]; ok {
			if n := len(r.pieces); n > 0 {
				r.pieces[n-1].cacheTTL = max(r.pieces[n-1].cacheTTL, breakpointTTL(cp, 5*time.Minute))
			}
			continue
		}
		if t, ok := blk["text"].(string); ok {
			r.block(t, nil)
		} else {
			r.block(canonJSON(blk), nil)
		}
	}
}

// breakpointTTL reads a cache_control / prompt_cache_breakpoint object:
// its ttl ("5m", "1h", "30m", "12h") or def; 0 when v is not one.
func breakpointTTL(v any, def time.Duration) time.Duration {
	m, ok := v.(map[string]any)
	if !ok {
		return 0
	}
	if d, err := time.ParseDuration(str(m["ttl"])); err == nil && d > 0 {
		return d
	}
	return def
}

func (r *Request) messages(v any) {
	msgs, _ := v.([]any)
	for _, m := range msgs {
		msg, _ := m.(map[string]any)
		if msg == nil {
			continue
		}
		role := str(msg["role"])
		if role == "" { // Responses items other than messages (function_call, …)
			r.block(canonJSON(msg), nil)
			continue
		}
		r.add("<|" + role + "|>")
		r.content(msg["content"])
		if calls, ok := msg["tool_calls"]; ok {
			r.block(canonJSON(calls), nil)
		}
	}
}

// content adds a content field: a string, or a list of blocks.
func (r *Request) content(v any) {
	switch c := v.(type) {
	case string:
		r.block(c, nil)
	case []any:
		for _, b := range c {
			blk, _ := b.(map[string]any)
			if t, ok := blk["text"].(string); ok {
				r.block(t, blk)
			} else {
				r.block(canonJSON(blk), blk)
			}
		}
	}
}

// canonJSON renders a JSON value with sorted keys and without cache
// markers, which are not part of the cached content.
func canonJSON(v any) string {
	if m, ok := v.(map[string]any); ok {
		if _, has := m["cache_control"]; has {
			c := make(map[string]any, len(m))
			for k, x := range m {
				if k != "cache_control" && k != "prompt_cache_breakpoint" {
					c[k] = x
				}
			}
			v = c
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// BlockTokens is the spacing of the hashed prefixes: a shared prefix is
// located to within this many tokens (plus exactly at every block end).
const BlockTokens = 16

// Breakpoint is a cache breakpoint at a token offset.
type Breakpoint struct {
	Token int32
	TTL   time.Duration
}

// Fingerprint is what the replay keeps of one prompt: hashes of its
// prefixes, not its text.
type Fingerprint struct {
	Tokens int32 // our tokenizer's count of the canonical prompt
	// Cuts are token offsets (every BlockTokens tokens, every block end,
	// and the end); Hashes[i] identifies the first Cuts[i] tokens.
	Cuts   []int32
	Hashes []uint64
	// BlockEnds are the indexes in Cuts where a content block ends.
	BlockEnds   []int32
	Breakpoints []Breakpoint
	// Family groups prompts that start alike once digits are masked (the
	// first FamilyBytes bytes): a timestamp or an id early in a prompt
	// keeps calls in one family while it breaks their shared prefix.
	Family uint64
}

// FamilyBytes is how much of a prompt decides its family: about the
// 256 tokens OpenAI routes on.
const FamilyBytes = 1024

// Encoder tokenises canonical prompts, remembering the tokens of long
// pieces (a growing conversation resends every earlier message). It is
// safe for concurrent use.
type Encoder struct {
	encode func(string) []int
	seed   maphash.Seed
	mu     sync.Mutex
	memo   map[uint64][]uint32
	held   int // tokens in memo
}

// memoTokens bounds the memo (4 bytes each).
const memoTokens = 8 << 20

// NewEncoder wraps a tokenizer.
func NewEncoder(encode func(string) []int) *Encoder {
	return &Encoder{encode: encode, seed: maphash.MakeSeed(), memo: map[uint64][]uint32{}}
}

func (e *Encoder) tokens(s string) []uint32 {
	const memoMin = 256 // bytes: shorter pieces are cheaper to encode than to remember
	var key uint64
	if len(s) >= memoMin {
		key = maphash.String(e.seed, s) ^ uint64(len(s))
		e.mu.Lock()
		t, ok := e.memo[key]
		e.mu.Unlock()
		if ok {
			return t
		}
	}
	ids := e.encode(s)
	t := make([]uint32, len(ids))
	for i, id := range ids {
		t[i] = uint32(id)
	}
	if len(s) >= memoMin {
		e.mu.Lock()
		if e.held+len(t) > memoTokens {
			clear(e.memo)
			e.held = 0
		}
		e.memo[key] = t
		e.held += len(t)
		e.mu.Unlock()
	}
	return t
}

// Fingerprint tokenises and hashes a canonical prompt.
func (e *Encoder) Fingerprint(r *Request) *Fingerprint {
	const (
		fnvOffset = 14695981039346656037
		fnvPrime  = 1099511628211
	)
	fp := &Fingerprint{}
	h := uint64(fnvOffset)
	var n int32
	cut := func() {
		if k := len(fp.Cuts); k > 0 && fp.Cuts[k-1] == n {
			return
		}
		fp.Cuts = append(fp.Cuts, n)
		fp.Hashes = append(fp.Hashes, h)
	}
	var fam []byte
	for _, p := range r.pieces {
		for _, id := range e.tokens(p.text) {
			for s := 0; s < 32; s += 8 {
				h ^= uint64(byte(id >> s))
				h *= fnvPrime
			}
			n++
			if n%BlockTokens == 0 {
				cut()
			}
		}
		if p.blockEnd || p.cacheTTL > 0 {
			cut()
			if p.blockEnd {
				fp.BlockEnds = append(fp.BlockEnds, int32(len(fp.Cuts)-1))
			}
			if p.cacheTTL > 0 {
				fp.Breakpoints = append(fp.Breakpoints, Breakpoint{Token: n, TTL: p.cacheTTL})
			}
		}
		if len(fam) < FamilyBytes { // masked whole, then cut: a cut before masking could split a word differently each call
			fam = appendMasked(fam, p.text)
		}
	}
	cut()
	fp.Tokens = n
	fp.Family = familyHash(fam[:min(len(fam), FamilyBytes)])
	return fp
}

// familyHash is FNV-1a: family ids are stored, so they must not change
// between runs (maphash seeds do).
func familyHash(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// FamilyID names a family: its scope (provider, key, model) and the
// masked start its prompts share.
func FamilyID(scope string, family uint64) string {
	b := binary.LittleEndian.AppendUint64([]byte(scope), family)
	return fmt.Sprintf("%016x", familyHash(b))
}

// appendMasked appends s with every word that contains a digit replaced by
// "0": timestamps, dates, counters and ids look alike, words do not.
func appendMasked(dst []byte, s string) []byte {
	isWord := func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
	}
	for i := 0; i < len(s); {
		if !isWord(s[i]) {
			dst = append(dst, s[i])
			i++
			continue
		}
		j, digit := i, false
		for ; j < len(s) && isWord(s[j]); j++ {
			digit = digit || s[j] >= '0' && s[j] <= '9'
		}
		if digit {
			dst = append(dst, '0')
		} else {
			dst = append(dst, s[i:j]...)
		}
		i = j
	}
	return dst
}
