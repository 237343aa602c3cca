package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Charts are drawn here as inline SVG: the report is one file that opens
// offline in any browser, with no script needed to see it. Each chart has
// a title, axis labels with units, an HTML legend, and a <title> on every
// mark (the browser's tooltip). Marks carry class "mark" so a test can
// check that every chart drew data.

// palette is Okabe–Ito, readable with the common colour-vision deficiencies.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#999999", "#882255"}

func color(i int) string { return palette[i%len(palette)] }

// Series is one named row of values, one per category.
type Series struct {
	Name   string
	Values []float64
}

// chart geometry (viewBox units; the SVG scales to its container).
const (
	chartW, chartH         = 760.0, 320.0
	padL, padR, padT, padB = 74.0, 16.0, 16.0, 64.0
)

// Figure is a chart with its title and legend.
type Figure struct {
	ID, Title, Note string
	SVG             template.HTML
	Legend          []LegendItem
	Empty           bool // no data: the figure says so instead of drawing axes
}

// LegendItem is one swatch of a legend.
type LegendItem struct{ Name, Color string }

func esc(s string) string { return html.EscapeString(s) }

// niceMax rounds a maximum up to 1, 2 or 5 × 10^k, for tick labels.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 1000:
		return strings.TrimSuffix(fmt.Sprintf("%.0f", v), ".0")
	case a >= 10:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	default:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
	}
}

// axes draws the frame, y ticks and both axis labels.
func axes(b *strings.Builder, yMax float64, xLabel, yLabel string) {
	plotH := chartH - padT - padB
	// Round steps: 2 × 10^k splits in 4 (0.5 each), 1 and 5 × 10^k in 5.
	ticks := 5
	if m := yMax / math.Pow(10, math.Floor(math.Log10(yMax))); math.Abs(m-2) < 1e-9 {
		ticks = 4
	}
	for i := 0; i <= ticks; i++ {
		v := yMax * float64(i) / float64(ticks)
		y := padT + plotH - plotH*float64(i)/float64(ticks)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="gridline"/>`, padL, y, chartW-padR, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="end">%s</text>`, padL-6, y+4, fmtNum(v))
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="axis"/>`, padL, padT+plotH, chartW-padR, padT+plotH)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" class="label" text-anchor="middle">%s</text>`, padL+(chartW-padL-padR)/2, chartH-6, esc(xLabel))
	fmt.Fprintf(b, `<text transform="translate(16 %.1f) rotate(-90)" class="label" text-anchor="middle">%s</text>`, padT+plotH/2, esc(yLabel))
}

func svgOpen(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, esc(title))
}

// categoryLabel draws an x category label, shortened and slanted when
// there are many.
func categoryLabel(b *strings.Builder, x float64, label string, n int) {
	y := chartH - padB + 16
	if len(label) > 22 {
		label = label[:21] + "…"
	}
	if n > 6 {
		fmt.Fprintf(b, `<text transform="translate(%.1f %.1f) rotate(-25)" class="tick" text-anchor="end">%s</text>`, x, y, esc(label))
		return
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="middle">%s</text>`, x, y, esc(label))
}

// Bars draws one bar per category and series, side by side, or stacked.
func Bars(id, title, xLabel, yLabel, unit string, categories []string, series []Series, stacked bool) Figure {
	f := Figure{ID: id, Title: title}
	for i, s := range series {
		f.Legend = append(f.Legend, LegendItem{s.Name, color(i)})
	}
	max := 0.0
	for c := range categories {
		sum := 0.0
		for _, s := range series {
			v := s.Values[c]
			if math.IsNaN(v) {
				continue
			}
			if stacked {
				sum += v
			} else {
				max = math.Max(max, v)
			}
		}
		max = math.Max(max, sum)
	}
	if len(categories) == 0 || max == 0 {
		f.Empty = true
		return f
	}
	yMax := niceMax(max)
	var b strings.Builder
	svgOpen(&b, title)
	axes(&b, yMax, xLabel, yLabel)
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	slot := plotW / float64(len(categories))
	barW := math.Min(slot*0.7, 90) // a lone category does not become a wall
	if !stacked {
		barW = math.Min(slot*0.7/float64(len(series)), 48)
	}
	groupW := barW
	if !stacked {
		groupW = barW * float64(len(series))
	}
	for c, cat := range categories {
		x0 := padL + slot*float64(c) + (slot-groupW)/2
		base := padT + plotH
		for si, s := range series {
			v := s.Values[c]
			if math.IsNaN(v) || v <= 0 {
				continue
			}
			h := plotH * v / yMax
			x := x0
			y := base - h
			if stacked {
				base -= h
			} else {
				x = x0 + barW*float64(si)
				y = padT + plotH - h
			}
			fmt.Fprintf(&b, `<rect class="mark" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s · %s: %s %s</title></rect>`,
				x, y, math.Max(barW-1, 1), math.Max(h, 0.5), color(si), esc(cat), esc(s.Name), fmtNum(v), esc(unit))
		}
		categoryLabel(&b, padL+slot*float64(c)+slot/2, cat, len(categories))
	}
	b.WriteString(`</svg>`)
	f.SVG = template.HTML(b.String())
	return f
}

// Box is one distribution: percentiles 5, 25, 50, 75, 95 and its count.
type Box struct {
	Label                  string
	P5, P25, P50, P75, P95 float64
	N                      int64
}

// Boxes draws a box plot per group: whiskers p5–p95, box p25–p75, a line
// at the median, and p50 / p95 written above.
func Boxes(id, title, xLabel, yLabel, unit string, boxes []Box) Figure {
	f := Figure{ID: id, Title: title, Legend: []LegendItem{{"p25–p75 box, p50 line, p5–p95 whiskers", color(0)}}}
	max := 0.0
	for _, bx := range boxes {
		max = math.Max(max, bx.P95)
	}
	if len(boxes) == 0 || max == 0 {
		f.Empty = true
		return f
	}
	yMax := niceMax(max * 1.12) // room for the labels above
	var b strings.Builder
	svgOpen(&b, title)
	axes(&b, yMax, xLabel, yLabel)
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	y := func(v float64) float64 { return padT + plotH - plotH*v/yMax }
	slot := plotW / float64(len(boxes))
	w := math.Min(slot*0.5, 60)
	for i, bx := range boxes {
		cx := padL + slot*float64(i) + slot/2
		tip := fmt.Sprintf("%s: p5 %s, p25 %s, p50 %s, p75 %s, p95 %s %s (n=%d)", bx.Label, fmtNum(bx.P5), fmtNum(bx.P25), fmtNum(bx.P50), fmtNum(bx.P75), fmtNum(bx.P95), unit, bx.N)
		fmt.Fprintf(&b, `<g class="mark"><title>%s</title>`, esc(tip))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="whisker"/>`, cx, y(bx.P5), cx, y(bx.P95))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="whisker"/>`, cx-w/4, y(bx.P95), cx+w/4, y(bx.P95))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="whisker"/>`, cx-w/4, y(bx.P5), cx+w/4, y(bx.P5))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.35" stroke="%s"/>`,
			cx-w/2, y(bx.P75), w, math.Max(y(bx.P25)-y(bx.P75), 1), color(0), color(0))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`, cx-w/2, y(bx.P50), cx+w/2, y(bx.P50), color(3))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="value" text-anchor="middle">p50 %s · p95 %s</text></g>`, cx, y(bx.P95)-6, fmtNum(bx.P50), fmtNum(bx.P95))
		categoryLabel(&b, cx, bx.Label, len(boxes))
	}
	b.WriteString(`</svg>`)
	f.SVG = template.HTML(b.String())
	return f
}

// Shares draws one horizontal 100% bar per row, split by series: parts of
// a whole (network vs compute time).
func Shares(id, title, xLabel string, rows []string, series []Series) Figure {
	f := Figure{ID: id, Title: title}
	for i, s := range series {
		f.Legend = append(f.Legend, LegendItem{s.Name, color(i)})
	}
	if len(rows) == 0 {
		f.Empty = true
		return f
	}
	h := 44.0*float64(len(rows)) + 60
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, h, esc(title))
	left := 200.0
	plotW := chartW - left - padR
	for i := 0; i <= 4; i++ {
		x := left + plotW*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="8" x2="%.1f" y2="%.1f" class="gridline"/>`, x, x, h-40)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="middle">%d%%</text>`, x, h-24, i*25)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="label" text-anchor="middle">%s</text>`, left+plotW/2, h-4, esc(xLabel))
	drew := false
	for r, row := range rows {
		total := 0.0
		for _, s := range series {
			if !math.IsNaN(s.Values[r]) {
				total += s.Values[r]
			}
		}
		y := 12 + 44*float64(r)
		label := row
		if len(label) > 30 {
			label = label[:29] + "…"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="end">%s</text>`, left-8, y+18, esc(label))
		if total <= 0 {
			continue
		}
		x := left
		for si, s := range series {
			v := s.Values[r]
			if math.IsNaN(v) || v <= 0 {
				continue
			}
			w := plotW * v / total
			fmt.Fprintf(&b, `<rect class="mark" x="%.1f" y="%.1f" width="%.1f" height="28" fill="%s"><title>%s · %s: %.1f%%</title></rect>`,
				x, y, w, color(si), esc(row), esc(s.Name), 100*v/total)
			if w > 48 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="inbar" text-anchor="middle">%.0f%%</text>`, x+w/2, y+19, 100*v/total)
			}
			x += w
			drew = true
		}
	}
	b.WriteString(`</svg>`)
	f.Empty = !drew
	f.SVG = template.HTML(b.String())
	return f
}
