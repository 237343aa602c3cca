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
	if os.Getenv("LESSLLM_BENCH_KEEP") == "" {
		defer os.RemoveAll(dir)
	} else {
		log.Printf("keeping %s (LESSLLM_BENCH_KEEP)", dir)
	}
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

	var zstdT, analyzeT, duckT []time.Duration
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

		// DuckDB's own read_json over the same segments (no lessllm code
		// in the reading): every record parsed into DuckDB's types, every
		// chunk of every stream touched. Run through `lessllm query`, the
		// same process start as analyze.
		t0 = time.Now()
		q := fmt.Sprintf(`SELECT count(*), sum(len(response.chunks)), sum(length(request.body::VARCHAR)) FROM read_json('%s', format='newline_delimited', compression='zstd', maximum_object_size=268435456)`,
			filepath.Join(segDir, "*"+format.SealedSuffix))
		out, err = exec.Command(bin, "query", "--db", db, "--format", "csv", q).CombinedOutput()
		if err != nil {
			log.Fatalf("duckdb read_json: %v\n%s", err, out)
		}
		duckT = append(duckT, time.Since(t0))
		log.Printf("analyze round %d: zstd -dc %v, lessllm analyze %v, duckdb read_json %v", round, zstdT[round], analyzeT[round], duckT[round])
	}
	zt, at := median(zstdT), median(analyzeT)
	var b strings.Builder
	fmt.Fprintf(&b, "%d streamed chat exchanges of %d chunks in %d segment(s): %.1f MB on disk, %.1f MB of NDJSON. Median of %d rounds; the analysis starts from a new database each round (`lessllm analyze DIR --db NEW`, the binary, process start included).\n\n",
		exchanges, chunks, len(files), float64(disk)/1e6, float64(ndjson)/1e6, rounds)
	b.WriteString("| reader | time | exchanges/s | NDJSON MB/s |\n|---|---:|---:|---:|\n")
	row := func(name string, d time.Duration) {
		fmt.Fprintf(&b, "| %s | %.2f s | %.0f | %.0f |\n", name, d.Seconds(), float64(exchanges)/d.Seconds(), float64(ndjson)/1e6/d.Seconds())
	}
	dt := median(duckT)
	row("`zstd -dc` (decompress only)", zt)
	row("DuckDB `read_json` (parse every record, touch every chunk)", dt)
	row("`lessllm analyze` (→ DuckDB + Parquet, every metric)", at)
	fmt.Fprintf(&b, "\n`lessllm analyze` takes %.1f× the time of `zstd -dc` and %.2f× the time of DuckDB's `read_json` on the same segments. Target: ≥ 3,000 exchanges/s on this machine.\n", at.Seconds()/zt.Seconds(), at.Seconds()/dt.Seconds())
	return b.String()
}
