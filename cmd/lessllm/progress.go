//go:build cgo

// The analysis commands need DuckDB, hence cgo: see build.go.

package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lessllm/lessllm/analyze"
)

// progressBar draws analysis progress on a terminal, on one line redrawn
// in place; elsewhere (a pipe, a log file, cron) it draws nothing and the
// command's one-line summary is all that is printed.
type progressBar struct {
	w     io.Writer
	on    bool
	drawn bool
}

func newProgressBar(w io.Writer, wanted bool) *progressBar {
	f, ok := w.(*os.File)
	if !wanted || !ok {
		return &progressBar{w: w}
	}
	st, err := f.Stat()
	return &progressBar{w: w, on: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

func (b *progressBar) update(p analyze.Progress) {
	if !b.on || p.Done {
		return
	}
	const width = 30
	filled := 0
	if p.SegmentsTotal > 0 {
		filled = width * p.Segments / p.SegmentsTotal
	}
	secs := max(p.Elapsed.Seconds(), 1e-3)
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d segments  %d records  %.0f MB/s ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		p.Segments, p.SegmentsTotal, p.Records, float64(p.NDJSONBytes)/1e6/secs)
	b.drawn = true
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
