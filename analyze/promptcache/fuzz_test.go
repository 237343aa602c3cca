package promptcache

import (
	"testing"

	"github.com/lessllm/lessllm/format/wire"
)

// FuzzFingerprint: any request body parses or is refused without a panic,
// and a fingerprint's cuts rise, pair with their hashes and end at its
// token count; block ends and breakpoints point inside it.
func FuzzFingerprint(f *testing.F) {
	for _, seed := range []string{
		`{"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":[{"type":"text","text":"hi","prompt_cache_breakpoint":{"ttl":"30m"}}]}],"prompt_cache_key":"k"}`,
		`{"tools":[{"name":"t","cache_control":{"type":"ephemeral"}}],"system":[{"type":"text","text":"long","cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[{"role":"user","content":"q"}],"cache_control":{"type":"ephemeral"}}`,
		`{"instructions":"be brief","input":[{"role":"user","content":"x"},{"type":"function_call","name":"f"}]}`,
		`{"messages":[null,{"role":5}]}`, `[]`, `{`,
	} {
		for _, kind := range []wire.Kind{wire.KindOpenAIChat, wire.KindAnthropicMessages, wire.KindOpenAIResponses} {
			f.Add(kind.String(), []byte(seed)) // by its stored name, as analyze reads it back
		}
	}
	enc := NewEncoder(byteTokens)
	f.Fuzz(func(t *testing.T, kind string, body []byte) {
		r, ok := Parse(wire.KindNamed(kind), body)
		if !ok {
			return
		}
		fp := enc.Fingerprint(r)
		if len(fp.Cuts) != len(fp.Hashes) || len(fp.Cuts) == 0 || fp.Cuts[len(fp.Cuts)-1] != fp.Tokens {
			t.Fatalf("cuts %v, %d hashes, %d tokens", fp.Cuts, len(fp.Hashes), fp.Tokens)
		}
		for i := 1; i < len(fp.Cuts); i++ {
			if fp.Cuts[i] <= fp.Cuts[i-1] {
				t.Fatalf("cuts do not rise: %v", fp.Cuts)
			}
		}
		for _, b := range fp.BlockEnds {
			if b < 0 || int(b) >= len(fp.Cuts) {
				t.Fatalf("block end %d outside %d cuts", b, len(fp.Cuts))
			}
		}
		for _, bp := range fp.Breakpoints {
			if _, ok := cutAt(fp, bp.Token); !ok {
				t.Fatalf("breakpoint at %d is not a cut", bp.Token)
			}
		}
	})
}
