package report

import (
	"math"
	"strings"
	"testing"
)

func TestNiceMaxAndTicks(t *testing.T) {
	for in, want := range map[float64]float64{0.058: 0.1, 27: 50, 172: 200, 1000: 1000, 1001: 2000, 0: 1} {
		if got := niceMax(in); math.Abs(got-want) > 1e-12 {
			t.Errorf("niceMax(%v) = %v, want %v", in, got, want)
		}
	}
	var b strings.Builder
	axes(&b, layoutLabels([]string{"a"}), 50, "x", "y")
	for _, tick := range []string{">0<", ">10<", ">20<", ">30<", ">40<", ">50<"} {
		if !strings.Contains(b.String(), tick) {
			t.Errorf("axis to 50 lacks tick %s: %s", tick, b.String())
		}
	}
}

// TestTickLabelsDistinct: every tick reads differently, with no more
// decimals than the step needs (a cost axis once read 0.0001, 0.0001,
// 0.0002, 0.0002).
func TestTickLabelsDistinct(t *testing.T) {
	for _, c := range []struct {
		max  float64
		n    int
		want string
	}{
		{0.0002, 4, "0 0.00005 0.0001 0.00015 0.0002"},
		{0.0005, 5, "0 0.0001 0.0002 0.0003 0.0004 0.0005"},
		{0.1, 5, "0 0.02 0.04 0.06 0.08 0.1"},
		{2, 4, "0 0.5 1 1.5 2"},
		{50, 5, "0 10 20 30 40 50"},
		{20000, 4, "0 5k 10k 15k 20k"},
		{2000000, 4, "0 0.5M 1M 1.5M 2M"},
		{100000, 5, "0 20k 40k 60k 80k 100k"},
	} {
		if got := strings.Join(tickLabels(c.max, c.n), " "); got != c.want {
			t.Errorf("tickLabels(%g, %d) = %s; want %s", c.max, c.n, got, c.want)
		}
	}
}

func TestShortenKeepsBothEnds(t *testing.T) {
	for in, want := range map[string]string{
		"team-a":                               "team-a",
		"key:3f2a9c1b7d4e5f60718293a4b5c6d7e8": "key:3f2a9c1b7d…5c6d7e8",
		"claude-3-5-haiku-20241022":            "claude-3-5-hai…0241022",
	} {
		if got := shorten(in, 22); got != want || len([]rune(got)) > 22 {
			t.Errorf("shorten(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestChartsMarkDataAndEscapeLabels(t *testing.T) {
	f := Bars("c", "Cost", "day", "USD", "USD", []string{"<script>", "d2"}, []Series{{Name: "m&m", Values: []float64{1, 2}}, {Name: "n", Values: []float64{0.5, math.NaN()}}}, true)
	svg := string(f.SVG)
	if strings.Count(svg, `class="mark"`) != 3 || strings.Contains(svg, "<script>") || !strings.Contains(svg, "&lt;script&gt;") {
		t.Fatalf("bars: %s", svg)
	}
	if e := Bars("e", "Empty", "x", "y", "", nil, nil, false); !e.Empty || e.SVG != "" {
		t.Fatal("no data must say so, not draw empty axes")
	}
	bx := Boxes("b", "TTFT", "model", "ms", "ms", []Box{{Label: "gpt-4o", P5: 100, P25: 120, P50: 150, P75: 160, P95: 190, N: 9}})
	if !strings.Contains(string(bx.SVG), "p50 150 · p95 190") {
		t.Fatalf("box plot labels: %s", bx.SVG)
	}
}
