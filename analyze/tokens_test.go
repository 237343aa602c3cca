package analyze

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// TestBoundedEncodingKeepsOrdinaryText: on text made of words, and on code,
// the windows cut where the tokenizer's own pre-split ends a piece, so the
// tokens are exactly the unbounded encoder's.
func TestBoundedEncodingKeepsOrdinaryText(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cl100k_base", "o200k_base"} {
		enc := encoding(name)
		// Go imports indented with tabs: runs without a word-starting space
		// longer than longRunBytes, cut at a letter → punctuation boundary.
		imports := "import (\n" + strings.Repeat("\t\"github.com/lessllm/lessllm/analyze/promptcache\"\n\t\"github.com/lessllm/lessllm/analyze/budget\"\n", 12) + ")\n"
		for _, text := range []string{string(readme), strings.Repeat("Grüße, 世界! The quick brown fox — 123 456.\n\n", 400), imports} {
			want := enc.EncodeOrdinary(text)
			got := encodeBounded(enc, text)
			if len(got) != len(want) {
				t.Errorf("%s: %d tokens bounded, %d unbounded", name, len(got), len(want))
				continue
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s: token %d differs", name, i)
					break
				}
			}
		}
	}
}

// TestBoundedEncodingIsLinear: a prompt that is one enormous piece (the
// BPE merge is quadratic in a piece's length) costs time in proportion to
// its length. Compared by ratio in one run, not by a clock limit: ten
// times the text must cost well under the hundred times a quadratic
// encoder would (the absolute time is in BENCHMARKS.md).
func TestBoundedEncodingIsLinear(t *testing.T) {
	enc := encoding("cl100k_base")
	r := rand.New(rand.NewPCG(1, 2))
	random := func(alphabet string) string {
		b := make([]byte, 400_000)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	// Random, so that no two windows are equal (equal ones are encoded
	// once: a run of one letter costs next to nothing).
	for _, tc := range []struct{ name, text string }{
		{"letters", random("abcdefghijklmnopqrstuvwxyz")},
		{"dna", random("ACGT")},
		{"punctuation", random("!#$%&*+-./:;<=>?@^_|~")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			small, large := tc.text[:40_000], tc.text
			elapsed := func(s string) time.Duration {
				best := time.Duration(1 << 62)
				for range 3 {
					start := time.Now()
					countText(enc, s)
					best = min(best, time.Since(start))
				}
				return best
			}
			ts, tl := elapsed(small), elapsed(large)
			if ratio := float64(tl) / float64(ts); ratio > 30 {
				t.Errorf("10× the text took %.0f× the time (%v vs %v): not linear", ratio, tl, ts)
			}
			// The estimate stays close to the unbounded count where that
			// can still be computed.
			want := len(enc.EncodeOrdinary(small))
			got := int(countText(enc, small))
			if d := float64(got-want) / float64(want); d > 0.05 || d < -0.05 {
				t.Errorf("bounded count %d, unbounded %d", got, want)
			}
		})
	}
}
