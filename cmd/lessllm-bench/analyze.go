package main

import (
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/formattest"
)

// analyzeBench measures `lessllm analyze` end to end (segments → DuckDB +
// Parquet, a fresh database each round, the binary as a user runs it) next
// to `zstd -dc` of the same segments, in the same run: the floor any reader
// of the format pays.
func analyzeBench(bin string, exchanges, chunks, rounds int) string {
	dir, err := os.MkdirTemp("", "lessllm-bench-analyze")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	segDir := filepath.Join(dir, "captures")
	w, err := format.NewWriter(format.WriterOptions{Dir: segDir, Node: "bench", FlushInterval: time.Hour, MaxSegmentBytes: 16 << 20})
	if err != nil {
		log.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range exchanges {
		if err := w.Append(formattest.StreamedChat(r, start.Add(time.Duration(i)*time.Second), chunks)); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	segs, err := format.ListSegments([]string{segDir}, false)
	if err != nil {
		log.Fatal(err)
	}
	var files []string
	var disk, ndjson int64
	for _, s := range segs {
		ft, err := format.ReadFooter(s.Path)
		if err != nil {
			log.Fatal(err)
		}
		files = append(files, s.Path)
		disk += s.Size
		ndjson += ft.ContentBytes
	}

	var zstdT, analyzeT []time.Duration
	for round := range rounds {
		t0 := time.Now()
		z := exec.Command("zstd", append([]string{"-dc", "-q"}, files...)...)
		z.Stdout = io.Discard
		if err := z.Run(); err != nil {
			log.Fatalf("zstd -dc: %v (is zstd installed?)", err)
		}
		zstdT = append(zstdT, time.Since(t0))

		db := filepath.Join(dir, fmt.Sprintf("round%d", round), "lessllm.duckdb")
		t0 = time.Now()
		out, err := exec.Command(bin, "analyze", segDir, "--db", db, "--no-progress").CombinedOutput()
		if err != nil {
			log.Fatalf("lessllm analyze: %v\n%s", err, out)
		}
		analyzeT = append(analyzeT, time.Since(t0))
		log.Printf("analyze round %d: zstd -dc %v, lessllm analyze %v", round, zstdT[round], analyzeT[round])
	}
	zt, at := median(zstdT), median(analyzeT)
	var b strings.Builder
	fmt.Fprintf(&b, "%d streamed chat exchanges of %d chunks in %d segment(s): %.1f MB on disk, %.1f MB of NDJSON. Median of %d rounds; the analysis starts from a new database each round (`lessllm analyze DIR --db NEW`, the binary, process start included).\n\n",
		exchanges, chunks, len(files), float64(disk)/1e6, float64(ndjson)/1e6, rounds)
	b.WriteString("| reader | time | exchanges/s | NDJSON MB/s |\n|---|---:|---:|---:|\n")
	row := func(name string, d time.Duration) {
		fmt.Fprintf(&b, "| %s | %.2f s | %.0f | %.0f |\n", name, d.Seconds(), float64(exchanges)/d.Seconds(), float64(ndjson)/1e6/d.Seconds())
	}
	row("`zstd -dc` (decompress only)", zt)
	row("`lessllm analyze` (→ DuckDB + Parquet)", at)
	fmt.Fprintf(&b, "\n`lessllm analyze` takes %.1f× the time of `zstd -dc` on the same segments. Target: ≥ 3,000 exchanges/s on this machine.\n", at.Seconds()/zt.Seconds())
	return b.String()
}
