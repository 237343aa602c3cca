package format_test

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/formattest"
)

// streamed returns n realistic streamed chat exchanges of 300 chunks.
func streamed(n int) []*format.Exchange {
	r := rand.New(rand.NewPCG(42, 42))
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	out := make([]*format.Exchange, n)
	for i := range out {
		out[i] = formattest.StreamedChat(r, start.Add(time.Duration(i)*time.Second), 300)
	}
	return out
}

func ndjsonBytes(t testing.TB, exs []*format.Exchange) int64 {
	var n int64
	for _, ex := range exs {
		line, err := format.AppendJSON(nil, ex)
		if err != nil {
			t.Fatal(err)
		}
		n += int64(len(line))
	}
	return n
}

// compressedSize writes exs with a flush after every perFrame records and
// returns the size of the sealed segment.
func compressedSize(t testing.TB, exs []*format.Exchange, perFrame int) int64 {
	dir := t.TempDir()
	w, err := format.NewWriter(format.WriterOptions{Dir: dir, Node: "bench", FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i, ex := range exs {
		w.Append(ex)
		if (i+1)%perFrame == 0 {
			w.Flush()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.Stats().BytesWritten
}

// TestCompressionRatio checks the 15× compression target of the segment format (BENCHMARKS.md) with frames ended at
// every flush. One record per frame is the worst case: a quiet proxy whose
// every 200 ms flush holds a single exchange. BENCHMARKS.md quotes the log.
func TestCompressionRatio(t *testing.T) {
	exs := streamed(100)
	raw := ndjsonBytes(t, exs)
	for _, perFrame := range []int{1, 10, 100} {
		seg := compressedSize(t, exs, perFrame)
		ratio := float64(raw) / float64(seg)
		t.Logf("300-chunk streamed chats, %3d record(s) per frame: %d B NDJSON -> %d B segment = %.1fx (%.0f B/exchange)",
			perFrame, raw, seg, ratio, float64(seg)/float64(len(exs)))
		if ratio < 15 {
			t.Errorf("compression %.1fx with %d records per frame, want >= 15x", ratio, perFrame)
		}
	}
}

func BenchmarkWriterAppend(b *testing.B) {
	exs := streamed(64)
	raw := ndjsonBytes(b, exs)
	w, err := format.NewWriter(format.WriterOptions{Dir: b.TempDir(), Node: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(raw / int64(len(exs)))
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		if err := w.Append(exs[i%len(exs)]); err != nil {
			b.Fatal(err)
		}
	}
	// Close waits for the last frame: the time includes compression.
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

func BenchmarkReader(b *testing.B) {
	exs := streamed(200)
	raw := ndjsonBytes(b, exs)
	dir := b.TempDir()
	w, _ := format.NewWriter(format.WriterOptions{Dir: dir, Node: "bench"})
	for _, ex := range exs {
		w.Append(ex)
	}
	w.Close()
	segs, _ := format.ListSegments([]string{dir}, false)
	data, _ := os.ReadFile(segs[0].Path)
	b.SetBytes(raw)
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		r, err := format.Open(segs[0].Path)
		if err != nil {
			b.Fatal(err)
		}
		for r.Next() {
			n++
		}
		if r.Err() != nil {
			b.Fatal(r.Err())
		}
		r.Close()
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
	b.ReportMetric(float64(len(data)), "segment-bytes")
}
