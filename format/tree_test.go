package format

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTreeReaderAcrossNodesAndDamage(t *testing.T) {
	root := t.TempDir()
	var want int
	for i, node := range []string{"edge-1", "edge-2"} {
		dir := filepath.Join(root, node)
		w, err := NewWriter(WriterOptions{Dir: dir, Node: node, FlushInterval: time.Hour,
			Now: func() time.Time { return time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC) }})
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range testExchanges(10, uint64(i)) {
			w.Append(ex)
			w.Flush()
			want++
		}
		w.Close()
	}
	// A third node's segment, torn in transit: its first records still count.
	l := newLayout(t)
	torn := filepath.Join(root, "edge-3", SegmentName("edge-3", time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC))+SealedSuffix)
	os.MkdirAll(filepath.Dir(torn), 0o700)
	cut := l.recFrame[7].off + l.recFrame[7].size + 3 // 8 whole records, then a torn frame
	os.WriteFile(torn, l.data[:cut], 0o600)
	want += 8

	tr, err := OpenTree([]string{root}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	got, nodes := 0, map[string]int{}
	for tr.Next() {
		if _, err := DecodeExchange(tr.Record()); err != nil {
			t.Fatal(err)
		}
		nodes[tr.File().Node]++
		got++
	}
	var ce *CorruptionError
	if got != want || nodes["edge-1"] != 10 || nodes["edge-2"] != 10 || nodes["edge-3"] != 8 {
		t.Fatalf("read %d records (%v), want %d", got, nodes, want)
	}
	if !errors.As(tr.Err(), &ce) || ce.File != torn || len(tr.Damage()) != 1 {
		t.Fatalf("damage not reported with its file: %v", tr.Err())
	}
}
