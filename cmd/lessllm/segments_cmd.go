package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/lessllm/lessllm/format"
)

// SegmentsCmd groups the commands that work on segment files directly.
type SegmentsCmd struct {
	Ls     SegmentsLsCmd     `cmd:"" help:"List segments: node, time range, records, sizes, sealed or open."`
	Cat    SegmentsCatCmd    `cmd:"" help:"Print the records of segments as NDJSON (damage reported on stderr)."`
	Verify SegmentsVerifyCmd `cmd:"" help:"Check segments end to end; exit 1 if any is damaged or unsealed."`
}

// segmentInfo is one row of `segments ls`.
type segmentInfo struct {
	Path         string `json:"path"`
	Node         string `json:"node"`
	Sealed       bool   `json:"sealed"`
	Records      int64  `json:"records"`
	FirstStart   string `json:"first_start,omitempty"`
	LastStart    string `json:"last_start,omitempty"`
	Bytes        int64  `json:"bytes"`
	ContentBytes int64  `json:"content_bytes,omitempty"`
	Damage       string `json:"damage,omitempty"`
}

type SegmentsLsCmd struct {
	Paths  []string `arg:"" name:"path" help:"Segment files or directories (walked recursively)." default:"./captures" type:"path"`
	Sealed bool     `help:"Only sealed segments: exactly the files safe to ship." default:"false" env:"LESSLLM_SEALED"`
	Format string   `help:"Output: table, paths (one per line, for rsync --files-from) or json (one object per line)." enum:"table,paths,json" default:"table" env:"LESSLLM_SEGMENTS_FORMAT"`
}

func (c *SegmentsLsCmd) Run(env *Env) error {
	files, err := format.ListSegments(c.Paths, !c.Sealed)
	if err != nil {
		return err
	}
	if c.Format == "paths" {
		for _, f := range files {
			fmt.Fprintln(env.Stdout, f.Path)
		}
		return nil
	}
	rows := make([]segmentInfo, len(files))
	for i, f := range files {
		rows[i] = describeSegment(f)
	}
	if c.Format == "json" {
		enc := json.NewEncoder(env.Stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tNODE\tRECORDS\tFIRST START (UTC)\tLAST START (UTC)\tSIZE\tNDJSON\tRATIO\tPATH")
	var recs, size, content int64
	for _, r := range rows {
		state := "sealed"
		if !r.Sealed {
			state = "open"
		}
		if r.Damage != "" {
			state += "!"
		}
		ratio := "-"
		if r.ContentBytes > 0 && r.Bytes > 0 {
			ratio = fmt.Sprintf("%.1fx", float64(r.ContentBytes)/float64(r.Bytes))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", state, r.Node, r.Records, dash(r.FirstStart), dash(r.LastStart),
			humanBytes(r.Bytes), humanBytes(r.ContentBytes), ratio, r.Path)
		recs, size, content = recs+r.Records, size+r.Bytes, content+r.ContentBytes
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%d segments, %d records, %s on disk, %s NDJSON\n", len(rows), recs, humanBytes(size), humanBytes(content))
	for _, r := range rows {
		if r.Damage != "" {
			fmt.Fprintf(env.Stderr, "damaged: %s\n", r.Damage)
		}
	}
	return nil
}

// describeSegment summarises a segment from its footer when it is sealed
// (cheap: the last few KiB) and by reading it otherwise.
func describeSegment(f format.SegmentFile) segmentInfo {
	info := segmentInfo{Path: f.Path, Node: f.Node, Sealed: f.Sealed, Bytes: f.Size}
	if f.Sealed {
		if ft, err := format.ReadFooter(f.Path); err == nil {
			info.Records, info.ContentBytes = ft.Records, ft.ContentBytes
			info.FirstStart, info.LastStart = nsTime(ft.FirstStartNS), nsTime(ft.LastStartNS)
			return info
		} else {
			info.Damage = err.Error()
		}
	}
	r, err := format.Open(f.Path)
	if err != nil {
		info.Damage = err.Error()
		return info
	}
	defer r.Close()
	var first, last int64
	for r.Next() {
		var ts struct {
			StartNS int64 `json:"start_ns"`
		}
		_ = json.Unmarshal(r.Record(), &ts)
		if info.Records == 0 || ts.StartNS < first {
			first = ts.StartNS
		}
		if ts.StartNS > last {
			last = ts.StartNS
		}
		info.Records++
		info.ContentBytes += int64(len(r.Record())) + 1
	}
	if info.Records > 0 {
		info.FirstStart, info.LastStart = nsTime(first), nsTime(last)
	}
	if err := r.Err(); err != nil && info.Damage == "" && !(openTornTail(f, r)) {
		info.Damage = err.Error()
	}
	return info
}

// openTornTail: an .open file whose only damage is a torn last frame is in
// the normal state of a file being written (or of a crashed writer, which
// repair handles at the next start) — not damage to report.
func openTornTail(f format.SegmentFile, r *format.Reader) bool {
	d := r.Damage()
	return !f.Sealed && len(d) == 1 && format.IsTorn(d[0])
}

type SegmentsCatCmd struct {
	Paths []string `arg:"" name:"path" help:"Segment files or directories (walked recursively; .open files included)." type:"path"`
}

func (c *SegmentsCatCmd) Run(env *Env) error {
	files, err := format.ListSegments(c.Paths, true)
	if err != nil {
		return err
	}
	out := bufio.NewWriterSize(env.Stdout, 1<<20)
	damaged := 0
	for _, f := range files {
		r, err := format.Open(f.Path)
		if err != nil {
			return err
		}
		for r.Next() {
			out.Write(r.Record())
			out.WriteByte('\n')
		}
		r.Close()
		if err := out.Flush(); err != nil {
			return err
		}
		switch {
		case r.Err() == nil:
		case openTornTail(f, r):
			fmt.Fprintf(env.Stderr, "note: %s is still open; its last frame is incomplete (being written, or left by a crash)\n", f.Path)
		default:
			damaged++
			for _, d := range r.Damage() {
				fmt.Fprintf(env.Stderr, "damage: %v\n", d)
			}
			if len(r.Damage()) == 0 {
				fmt.Fprintf(env.Stderr, "error: %v\n", r.Err())
			}
		}
	}
	if damaged > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d damaged segment(s); every complete record was printed", damaged)}
	}
	return nil
}

type SegmentsVerifyCmd struct {
	Paths []string `arg:"" name:"path" help:"Segment files or directories (walked recursively)." type:"path"`
	Open  bool     `help:"Also check .open files found in directories (a named .open file is always checked)." default:"false" env:"LESSLLM_VERIFY_OPEN"`
}

func (c *SegmentsVerifyCmd) Run(env *Env) error {
	var files []format.SegmentFile
	for _, p := range c.Paths {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		fs, err := format.ListSegments([]string{p}, c.Open || !st.IsDir())
		if err != nil {
			return err
		}
		if len(fs) == 0 && !st.IsDir() {
			return fmt.Errorf("%s: not a segment file name (want *%s or *%s)", p, format.SealedSuffix, format.OpenSuffix)
		}
		files = append(files, fs...)
	}
	bad := 0
	for _, f := range files {
		line, ok := verifySegment(f)
		if !ok {
			bad++
		}
		fmt.Fprintln(env.Stdout, line)
	}
	fmt.Fprintf(env.Stdout, "%d segment(s) checked, %d whole, %d not\n", len(files), len(files)-bad, bad)
	if bad > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// verifySegment reads every frame, decodes every record and checks the
// footer: one report line, and whether the file is whole.
func verifySegment(f format.SegmentFile) (string, bool) {
	r, err := format.Open(f.Path)
	if err != nil {
		return fmt.Sprintf("ERROR   %s: %v", f.Path, err), false
	}
	defer r.Close()
	var badRecords []string
	for r.Next() {
		if _, err := format.DecodeExchange(r.Record()); err != nil && len(badRecords) < 3 {
			badRecords = append(badRecords, fmt.Sprintf("record at frame offset %d: %v", r.Offset(), err))
		}
	}
	var problems []string
	for _, d := range r.Damage() {
		problems = append(problems, fmt.Sprintf("byte %d: %v", d.Offset, d.Err))
	}
	if r.Err() != nil && len(r.Damage()) == 0 {
		problems = append(problems, r.Err().Error())
	}
	problems = append(problems, badRecords...)
	switch {
	case len(problems) > 0:
		msg := fmt.Sprintf("DAMAGED %s (%d complete records readable)", f.Path, r.Records())
		for _, p := range problems {
			msg += "\n        " + p
		}
		return msg, false
	case !f.Sealed:
		return fmt.Sprintf("OPEN    %s (%d records; not sealed, not safe to ship yet)", f.Path, r.Records()), false
	case r.Footer() == nil:
		return fmt.Sprintf("DAMAGED %s: %v", f.Path, errors.New("no footer: truncated in transit?")), false
	default:
		return fmt.Sprintf("OK      %s (%d records, sha256 %.12s…)", f.Path, r.Records(), r.Footer().SHA256), true
	}
}

func nsTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
