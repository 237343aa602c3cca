package analyze

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/analyze/promptcache"
	"github.com/lessllm/lessllm/analyze/sensitive"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/formattest"
)

// writeStreamedSegments writes n streamed chat exchanges of chunks chunks
// each into sealed segments under dir.
func writeStreamedSegments(tb testing.TB, dir string, n, chunks int) {
	tb.Helper()
	w, err := format.NewWriter(format.WriterOptions{Dir: dir, Node: "bench", FlushInterval: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		if err := w.Append(formattest.StreamedChat(r, start.Add(time.Duration(i)*time.Second), chunks)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkAnalyze measures segments → DuckDB + Parquet end to end on
// streamed exchanges of ~300 chunks. make bench reports it next to
// `zstd -dc` of the same segments (cmd/lessllm-bench -analyze).
func BenchmarkAnalyze(b *testing.B) {
	const n = 2000
	in := b.TempDir()
	writeStreamedSegments(b, in, n, 300)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		out := b.TempDir()
		s, err := Run(context.Background(), Options{Inputs: []string{in}, DB: filepath.Join(out, "a.duckdb")})
		if err != nil {
			b.Fatal(err)
		}
		if s.Rows != n {
			b.Fatalf("rows %d, want %d", s.Rows, n)
		}
		b.ReportMetric(float64(s.Rows)/s.Elapsed.Seconds(), "exchanges/s")
		b.ReportMetric(float64(s.NDJSONBytes)/1e6/s.Elapsed.Seconds(), "NDJSON-MB/s")
	}
}

// BenchmarkExchangeWork is one analysis worker's share of BenchmarkAnalyze,
// without I/O, Parquet or DuckDB: decode a record, reassemble and measure
// the stream, fingerprint the prompt and scan for sensitive data. It is the
// steadier number to compare changes to that path with.
func BenchmarkExchangeWork(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	recs := make([][]byte, 64)
	var size int
	for i := range recs {
		rec, err := format.AppendJSON(nil, formattest.StreamedChat(r, start.Add(time.Duration(i)*time.Second), 300))
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = rec
		size += len(rec) + 1
	}
	scan, err := sensitive.New(nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	x := &extractor{prices: pricing.Default(), cache: promptcache.Default(), sensitive: scan}
	b.SetBytes(int64(size / len(recs)))
	var findings []findingRow
	for i := 0; b.Loop(); i++ {
		ex, err := format.DecodeExchange(recs[i%len(recs)])
		if err != nil {
			b.Fatal(err)
		}
		c := x.call(ex, "bench")
		x.fingerprint(ex, &c)
		findings = x.findings(&c, findings[:0])
	}
}
