package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Charts are drawn here as inline SVG: the report is one file that opens
// offline in any browser, with no script needed to see it. Each chart has
// a title, axis labels with units, an HTML legend, and a <title> on every
// mark (the browser's tooltip). Marks carry class "mark" so a test can
// check that every chart drew data.

// palette is Okabe–Ito (readable with the common colour-vision
// deficiencies) followed by Paul Tol's muted scheme for the 9th colour on.
// Grey is kept for "other" (Other).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
	"#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499"}

// Other is the colour of the series that folds the rest ("other").
const Other = "#999999"

func color(i int) string { return palette[i%len(palette)] }

// Series is one named row of values, one per category. Color is the
// series' fixed colour (report.go gives every series one, so a model or a
// kind of call has the same colour in every chart and every report); empty:
// the palette's, by position.
type Series struct {
	Name   string
	Values []float64
	Color  string
}

func (s Series) color(i int) string {
	if s.Color != "" {
		return s.Color
	}
	return color(i)
}

// chart geometry, in viewBox units (the SVG scales to its container): a
// fixed plot area; the margin below grows with the category labels.
const (
	chartW, plotH    = 760.0, 240.0
	padL, padR, padT = 74.0, 16.0, 16.0
	// charW is a generous average advance of a 12px system-ui character:
	// label layout errs toward room to spare (the browser test measures
	// the real boxes).
	charW = 7.2
	// lineGap is the least distance between two lines of 12px labels.
	lineGap = 15.0
	// slant is the angle of category labels that do not fit side by side.
	slant = 40 * math.Pi / 180
	// maxLabel is the longest category label drawn, in characters; longer
	// ones are shortened in the middle (the tooltip has them whole).
	maxLabel = 24
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

// tickLabels writes the n+1 ticks 0, max/n, …, max with as many decimals
// as the step needs and no more, so no two are alike (a 0.00005 step reads
// 0.00005, 0.0001, 0.00015 rather than 0.0001 twice), and large values in
// thousands or millions (250k, 1.5M).
func tickLabels(max float64, n int) []string {
	scale, suffix := 1.0, ""
	switch {
	case max >= 1e6:
		scale, suffix = 1e6, "M"
	case max >= 1e4:
		scale, suffix = 1e3, "k"
	}
	step := max / float64(n) / scale
	dec := 0
	for ; dec < 12; dec++ {
		p := math.Pow10(dec)
		if math.Abs(math.Round(step*p)-step*p) <= 1e-6*step*p {
			break
		}
	}
	out := make([]string, n+1)
	for i := range out {
		out[i] = strconv.FormatFloat(step*float64(i), 'f', dec, 64)
		if dec > 0 {
			out[i] = strings.TrimRight(strings.TrimRight(out[i], "0"), ".")
		}
		if i > 0 {
			out[i] += suffix
		}
	}
	return out
}

// frame is one chart's geometry: the plot area and what sits below it.
type frame struct {
	left, height float64 // left margin (room for slanted labels), whole height
	labels       xLabels
}

func (f frame) plotW() float64 { return chartW - f.left - padR }
func (f frame) axisY() float64 { return padT + plotH }

// xLabels are a chart's category labels as drawn.
type xLabels struct {
	text    []string // shortened to maxLabel
	slanted bool     // at slant, anchored at their end, when they do not fit side by side
	every   int      // every n-th is drawn, when even slanted ones would touch
	below   float64  // the height they take under the axis
}

// layoutLabels decides how n categories' labels fit their slots: side by
// side if the widest fits; else slanted, every k-th when slots are too
// narrow for slanted lines lineGap apart. It returns the frame, with a left
// margin wide enough for the first slanted label.
func layoutLabels(categories []string) frame {
	l := xLabels{text: make([]string, len(categories)), every: 1}
	widest := 0.0
	for i, c := range categories {
		l.text[i] = shorten(c, maxLabel)
		widest = math.Max(widest, textWidth(l.text[i]))
	}
	f := frame{left: padL}
	slot := f.plotW() / float64(max(len(categories), 1))
	if widest <= slot-8 {
		l.below = 22
	} else {
		l.slanted = true
		// Parallel slanted lines a slot apart are slot·sin(slant) apart.
		l.every = int(math.Ceil(lineGap / (slot * math.Sin(slant))))
		l.below = 16 + widest*math.Sin(slant) + 12*math.Cos(slant)
		// The first label reaches left of its anchor by its width·cos.
		for i, t := range l.text {
			if i%l.every != 0 {
				continue
			}
			if over := textWidth(t)*math.Cos(slant) - (padL + slot*(float64(i)+0.5)); over > 0 {
				f.left = math.Max(f.left, padL+over+4)
			}
		}
	}
	f.labels = l
	f.height = f.axisY() + l.below + 26 // and the axis title
	return f
}

func textWidth(s string) float64 { return charW * float64(utf8.RuneCountInString(s)) }

// shorten cuts s to n characters in the middle, keeping its start and its
// end: rotated key fingerprints and dated model names differ at the end.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	tail := (n - 1) / 3
	return string(r[:n-1-tail]) + "…" + string(r[len(r)-tail:])
}

// axes draws the frame, y ticks and both axis labels.
func axes(b *strings.Builder, f frame, yMax float64, xLabel, yLabel string) {
	// Round steps: 2 × 10^k splits in 4 (0.5 each), 1 and 5 × 10^k in 5.
	ticks := 5
	if m := yMax / math.Pow(10, math.Floor(math.Log10(yMax))); math.Abs(m-2) < 1e-9 {
		ticks = 4
	}
	for i, label := range tickLabels(yMax, ticks) {
		y := f.axisY() - plotH*float64(i)/float64(ticks)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="gridline"/>`, f.left, y, chartW-padR, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="end">%s</text>`, f.left-6, y+4, label)
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="axis"/>`, f.left, f.axisY(), chartW-padR, f.axisY())
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" class="label" text-anchor="middle">%s</text>`, f.left+f.plotW()/2, f.height-8, esc(xLabel))
	fmt.Fprintf(b, `<text transform="translate(16 %.1f) rotate(-90)" class="label" text-anchor="middle">%s</text>`, padT+plotH/2, esc(yLabel))
}

func svgOpen(b *strings.Builder, height float64, title string) {
	fmt.Fprintf(b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, height, esc(title))
}

// categoryLabel draws the i-th category's label under the axis at x, as
// layoutLabels laid it out; its tooltip names the category whole.
func categoryLabel(b *strings.Builder, f frame, i int, x float64, full string) {
	l := f.labels
	if i%l.every != 0 {
		return
	}
	y := f.axisY() + 16
	if l.slanted {
		fmt.Fprintf(b, `<text transform="translate(%.1f %.1f) rotate(%.0f)" class="tick category" text-anchor="end"><title>%s</title>%s</text>`,
			x, y, -slant*180/math.Pi, esc(full), esc(l.text[i]))
		return
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" class="tick category" text-anchor="middle"><title>%s</title>%s</text>`, x, y, esc(full), esc(l.text[i]))
}

// Bars draws one bar per category and series, side by side, or stacked.
func Bars(id, title, xLabel, yLabel, unit string, categories []string, series []Series, stacked bool) Figure {
	f := Figure{ID: id, Title: title}
	for i, s := range series {
		f.Legend = append(f.Legend, LegendItem{s.Name, s.color(i)})
	}
	top := 0.0
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
				top = math.Max(top, v)
			}
		}
		top = math.Max(top, sum)
	}
	if len(categories) == 0 || top == 0 {
		f.Empty = true
		return f
	}
	yMax := niceMax(top)
	fr := layoutLabels(categories)
	var b strings.Builder
	svgOpen(&b, fr.height, title)
	axes(&b, fr, yMax, xLabel, yLabel)
	slot := fr.plotW() / float64(len(categories))
	barW := math.Min(slot*0.7, 90) // a lone category does not become a wall
	if !stacked {
		barW = math.Min(slot*0.7/float64(len(series)), 48)
	}
	groupW := barW
	if !stacked {
		groupW = barW * float64(len(series))
	}
	for c, cat := range categories {
		x0 := fr.left + slot*float64(c) + (slot-groupW)/2
		base := fr.axisY()
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
				y = fr.axisY() - h
			}
			fmt.Fprintf(&b, `<rect class="mark" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s · %s: %s %s</title></rect>`,
				x, y, math.Max(barW-1, 1), math.Max(h, 0.5), s.color(si), esc(cat), esc(s.Name), fmtNum(v), esc(unit))
		}
		categoryLabel(&b, fr, c, fr.left+slot*float64(c)+slot/2, cat)
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
	top := 0.0
	for _, bx := range boxes {
		top = math.Max(top, bx.P95)
	}
	if len(boxes) == 0 || top == 0 {
		f.Empty = true
		return f
	}
	yMax := niceMax(top * 1.15) // room for the labels above
	labels := make([]string, len(boxes))
	for i, bx := range boxes {
		labels[i] = bx.Label
	}
	fr := layoutLabels(labels)
	var b strings.Builder
	svgOpen(&b, fr.height, title)
	axes(&b, fr, yMax, xLabel, yLabel)
	y := func(v float64) float64 { return fr.axisY() - plotH*v/yMax }
	slot := fr.plotW() / float64(len(boxes))
	w := math.Min(slot*0.5, 60)
	for i, bx := range boxes {
		cx := fr.left + slot*float64(i) + slot/2
		tip := fmt.Sprintf("%s: p5 %s, p25 %s, p50 %s, p75 %s, p95 %s %s (n=%d)", bx.Label, fmtNum(bx.P5), fmtNum(bx.P25), fmtNum(bx.P50), fmtNum(bx.P75), fmtNum(bx.P95), unit, bx.N)
		fmt.Fprintf(&b, `<g class="mark"><title>%s</title>`, esc(tip))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="whisker"/>`, cx, y(bx.P5), cx, y(bx.P95))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="whisker"/>`, cx-w/4, y(bx.P95), cx+w/4, y(bx.P95))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="whisker"/>`, cx-w/4, y(bx.P5), cx+w/4, y(bx.P5))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.35" stroke="%s"/>`,
			cx-w/2, y(bx.P75), w, math.Max(y(bx.P25)-y(bx.P75), 1), color(0), color(0))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`, cx-w/2, y(bx.P50), cx+w/2, y(bx.P50), color(3))
		// p50 and p95 above the whisker: on one line where the slot is
		// wide enough, on two where it is not, else only in the tooltip.
		p50, p95 := "p50 "+fmtNum(bx.P50), "p95 "+fmtNum(bx.P95)
		switch value := 6.2; {
		case value*float64(len(p50)+len(p95)+3) <= slot-6:
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="value" text-anchor="middle">%s · %s</text>`, cx, y(bx.P95)-6, p50, p95)
		case value*float64(max(len(p50), len(p95))) <= slot-6:
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="value" text-anchor="middle">%s</text>`, cx, y(bx.P95)-19, p50)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="value" text-anchor="middle">%s</text>`, cx, y(bx.P95)-6, p95)
		}
		b.WriteString(`</g>`)
		categoryLabel(&b, fr, i, cx, bx.Label)
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
		f.Legend = append(f.Legend, LegendItem{s.Name, s.color(i)})
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
		anchor := "middle"
		if i == 4 {
			anchor = "end" // 100% ends at the plot's edge, inside the chart
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="%s">%d%%</text>`, x, h-24, anchor, i*25)
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
		label := shorten(row, int((left-12)/charW))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick category" text-anchor="end"><title>%s</title>%s</text>`, left-8, y+18, esc(row), esc(label))
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
				x, y, w, s.color(si), esc(row), esc(s.Name), 100*v/total)
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
