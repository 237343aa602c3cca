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
	axes(&b, 50, "x", "y")
	for _, tick := range []string{">0<", ">10<", ">20<", ">30<", ">40<", ">50<"} {
		if !strings.Contains(b.String(), tick) {
			t.Errorf("axis to 50 lacks tick %s: %s", tick, b.String())
		}
	}
}

func TestChartsMarkDataAndEscapeLabels(t *testing.T) {
	f := Bars("c", "Cost", "day", "USD", "USD", []string{"<script>", "d2"}, []Series{{"m&m", []float64{1, 2}}, {"n", []float64{0.5, math.NaN()}}}, true)
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
