package main

import (
	"database/sql"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/formattest"
)

// writeSegments writes n streamed exchanges, sealed, and returns the dir
// and the ids in order.
func writeSegments(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	w, err := format.NewWriter(format.WriterOptions{Dir: dir, Node: "edge-1", FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	var ids []string
	start := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for i := range n {
		ex := formattest.StreamedChat(r, start.Add(time.Duration(i)*time.Minute), 30)
		ids = append(ids, ex.ID)
		if err := w.Append(ex); err != nil {
			t.Fatal(err)
		}
		if i%4 == 3 {
			w.Flush() // several frames, so that a torn copy keeps some
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ids
}

func TestSegmentsLsCatVerify(t *testing.T) {
	dir, ids := writeSegments(t, 12)
	out, _, code := runLessllm(t, "segments", "ls", dir)
	if code != 0 || !strings.Contains(out, "sealed") || !strings.Contains(out, "edge-1") || !strings.Contains(out, "1 segments, 12 records") {
		t.Fatalf("ls: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "2026-11-20 08:00:00") || !strings.Contains(out, "2026-11-20 08:11:00") {
		t.Fatalf("ls does not show the time range:\n%s", out)
	}
	out, _, code = runLessllm(t, "segments", "cat", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 12 {
		t.Fatalf("cat: exit %d, %d lines", code, len(lines))
	}
	for i, l := range lines {
		if !strings.Contains(l, ids[i]) {
			t.Fatalf("cat line %d lacks id %s", i, ids[i])
		}
	}
	out, _, code = runLessllm(t, "segments", "verify", dir)
	if code != 0 || !strings.Contains(out, "OK ") || !strings.Contains(out, "1 whole, 0 not") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
}

func TestSegmentsVerifyNamesDamage(t *testing.T) {
	dir, _ := writeSegments(t, 12)
	segs, _ := format.ListSegments([]string{dir}, false)
	path := segs[0].Path
	data, _ := os.ReadFile(path)
	// Tear the file as a copy interrupted mid-way would.
	torn := filepath.Join(t.TempDir(), filepath.Base(path))
	os.WriteFile(torn, data[:len(data)*2/3], 0o600)
	out, _, code := runLessllm(t, "segments", "verify", torn)
	if code != 1 || !strings.Contains(out, "DAMAGED "+torn) || !strings.Contains(out, "byte ") {
		t.Fatalf("verify of a torn file: exit %d\n%s", code, out)
	}
	// cat prints every complete record, reports the damage, exits 1.
	stdout, stderr, code := runLessllm(t, "segments", "cat", torn)
	n := strings.Count(stdout, "\n")
	if code != 1 || n == 0 || n >= 12 || !strings.Contains(stderr, "damage: "+torn) {
		t.Fatalf("cat of a torn file: exit %d, %d records, stderr %s", code, n, stderr)
	}
	// A receiver's check without lessllm: zstd -t fails on the torn file.
	if _, err := exec.LookPath("zstd"); err == nil {
		if exec.Command("zstd", "-t", torn).Run() == nil {
			t.Fatal("zstd -t accepted a torn segment")
		}
	}
}

func TestSegmentsLsSealedPaths(t *testing.T) {
	dir, _ := writeSegments(t, 3)
	open := filepath.Join(dir, format.SegmentName("edge-2", time.Now())+format.OpenSuffix)
	os.WriteFile(open, nil, 0o600)
	out, _, code := runLessllm(t, "segments", "ls", "--sealed", "--format", "paths", dir)
	if code != 0 || strings.Contains(out, ".open") || strings.Count(out, format.SealedSuffix) != 1 {
		t.Fatalf("ls --sealed --format paths: exit %d\n%s", code, out)
	}
	out, _, _ = runLessllm(t, "segments", "ls", dir)
	if !strings.Contains(out, "open") {
		t.Fatalf("ls without --sealed hides the open file:\n%s", out)
	}
}

// TestDuckDBReadsSegments: ARCHITECTURE.md §3 — DuckDB reads sealed segments
// with read_json and no lessllm code, chunks and embedded bodies included.
func TestDuckDBReadsSegments(t *testing.T) {
	dir, ids := writeSegments(t, 12)
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	glob := filepath.Join(dir, "*"+format.SealedSuffix)
	rows, err := db.Query(`SELECT id::VARCHAR, request.path, response.status, len(response.chunks),
	       request.body->>'$.model', response.chunks[2].d
	FROM read_json(?, format='newline_delimited', compression='zstd') ORDER BY start_ns`, glob)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var id, path, model, chunk string
		var status, nchunks int
		if err := rows.Scan(&id, &path, &status, &nchunks, &model, &chunk); err != nil {
			t.Fatal(err)
		}
		if id != ids[i] || path != "/v1/chat/completions" || status != 200 || nchunks != 33 || model != "gpt-4o-mini" || !strings.HasPrefix(chunk, "data: {") {
			t.Fatalf("row %d: %s %s %d %d %s %q", i, id, path, status, nchunks, model, chunk)
		}
		i++
	}
	if err := rows.Err(); err != nil || i != len(ids) {
		t.Fatalf("DuckDB read %d of %d rows: %v", i, len(ids), err)
	}
}
