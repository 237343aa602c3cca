package format

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeSegment writes exs through a Writer, ending a frame after every
// perFrame records, closes it and returns the sealed file's path.
func writeSegment(t testing.TB, dir string, exs []*Exchange, perFrame int) string {
	t.Helper()
	w, err := NewWriter(WriterOptions{Dir: dir, Node: "test-node", FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i, ex := range exs {
		if err := w.Append(ex); err != nil {
			t.Fatal(err)
		}
		if (i+1)%perFrame == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := ListSegments([]string{dir}, true)
	if err != nil || len(segs) != 1 || !segs[0].Sealed {
		t.Fatalf("want one sealed segment, got %+v (%v)", segs, err)
	}
	return segs[0].Path
}

// readAll returns every record of path, decoded, and the reader's error.
func readAll(t testing.TB, path string) ([]*Exchange, error) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []*Exchange
	for r.Next() {
		ex, err := DecodeExchange(r.Record())
		if err != nil {
			t.Fatalf("reader yielded a record that does not decode: %v: %q", err, r.Record())
		}
		out = append(out, ex)
	}
	return out, r.Err()
}

func TestWriterRoundTrip(t *testing.T) {
	dir := t.TempDir()
	exs := testExchanges(50, 1)
	path := writeSegment(t, dir, exs, 7)
	got, err := readAll(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, exs) {
		t.Fatalf("read back %d records, differing from the %d written", len(got), len(exs))
	}
	ft, err := ReadFooter(path)
	if err != nil {
		t.Fatal(err)
	}
	if ft.Records != 50 || ft.Frames != 8 || ft.FirstStartNS != exs[0].StartNS || ft.LastStartNS != exs[49].StartNS {
		t.Fatalf("footer %+v", ft)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("segment mode %v, want 0600", st.Mode().Perm())
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 && filepath.Dir(path) == dir {
		t.Logf("dir mode %v (TempDir made it; NewWriter only sets the mode of dirs it creates)", st.Mode().Perm())
	}
}

func TestWriterCreatesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "captures", "a")
	writeSegment(t, dir, testExchanges(1, 1), 1)
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, %v; want 0700", st.Mode().Perm(), err)
	}
}

// TestSegmentReadableWithoutLessllm: the contract of ARCHITECTURE.md §3 — zstdcat
// and jq read a sealed segment with no lessllm code.
func TestSegmentReadableWithoutLessllm(t *testing.T) {
	for _, tool := range []string{"zstd", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (.ci/run installs it): %v", tool, err)
		}
	}
	dir := t.TempDir()
	exs := testExchanges(20, 2)
	path := writeSegment(t, dir, exs, 3)
	out, err := exec.Command("sh", "-c", "zstd -dc '"+path+"' | jq -c '{id, n: (.response.chunks | length)}'").CombinedOutput()
	if err != nil {
		t.Fatalf("zstd | jq: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(exs) {
		t.Fatalf("jq printed %d lines, want %d:\n%s", len(lines), len(exs), out)
	}
	for i, l := range lines {
		if !strings.Contains(l, exs[i].ID) {
			t.Fatalf("line %d = %s, want id %s", i, l, exs[i].ID)
		}
	}
	if out, err := exec.Command("zstd", "-t", path).CombinedOutput(); err != nil {
		t.Fatalf("zstd -t: %v\n%s", err, out)
	}
}

func TestWriterFlushesWithinInterval(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(WriterOptions{Dir: dir, Node: "n", FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	exs := testExchanges(3, 3)
	for _, ex := range exs {
		if err := w.Append(ex); err != nil {
			t.Fatal(err)
		}
	}
	// The records must reach the .open file, complete and verified, while
	// the writer is still running.
	deadline := time.Now().Add(5 * time.Second)
	for {
		segs, _ := ListSegments([]string{dir}, true)
		if len(segs) == 1 && !segs[0].Sealed {
			got, err := readAll(t, segs[0].Path)
			if err == nil && len(got) == 3 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("records not on disk 5 s after Append with a 50 ms flush interval: %+v", segs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWriterRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(WriterOptions{Dir: dir, Node: "n", FlushInterval: time.Hour, MaxSegmentBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	exs := testExchanges(60, 4)
	for _, ex := range exs {
		w.Append(ex)
		w.Flush()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := ListSegments([]string{dir}, true)
	if len(segs) < 3 {
		t.Fatalf("60 records with a 2000-byte cap made only %d segments", len(segs))
	}
	var all []*Exchange
	for _, s := range segs {
		if !s.Sealed {
			t.Fatalf("%s not sealed after Close", s.Path)
		}
		got, err := readAll(t, s.Path)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, got...)
	}
	if !reflect.DeepEqual(all, exs) {
		t.Fatalf("rotation lost or reordered records: %d of %d", len(all), len(exs))
	}
	if w.Stats().SegmentsSealed != int64(len(segs)) {
		t.Fatalf("stats %+v for %d segments", w.Stats(), len(segs))
	}
}

func TestWriterRotatesByAge(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w, err := NewWriter(WriterOptions{Dir: dir, Node: "n", FlushInterval: time.Hour, MaxSegmentAge: time.Minute,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	exs := testExchanges(2, 5)
	w.Append(exs[0])
	w.Flush()
	now = now.Add(2 * time.Minute)
	w.Flush() // nothing pending, but the segment is old: it is sealed
	segs, _ := ListSegments([]string{dir}, true)
	if len(segs) != 1 || !segs[0].Sealed {
		t.Fatalf("old segment not sealed: %+v", segs)
	}
	w.Append(exs[1])
	w.Close()
	if segs, _ = ListSegments([]string{dir}, false); len(segs) != 2 {
		t.Fatalf("want 2 sealed segments, got %d", len(segs))
	}
}

func TestSecondWriterForNodeIsRefused(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(WriterOptions{Dir: dir, Node: "n"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := NewWriter(WriterOptions{Dir: dir, Node: "n"}); err == nil {
		t.Fatal("a second writer for the same node and directory was allowed")
	}
	other, err := NewWriter(WriterOptions{Dir: dir, Node: "m"})
	if err != nil {
		t.Fatalf("a writer for another node was refused: %v", err)
	}
	other.Close()
}

func TestAppendAfterClose(t *testing.T) {
	w, err := NewWriter(WriterOptions{Dir: t.TempDir(), Node: "n"})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := w.Append(testExchanges(1, 1)[0]); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
}

func TestSegmentNames(t *testing.T) {
	ts := time.Date(2026, 11, 25, 19, 8, 51, 123456789, time.UTC)
	name := SegmentName("host_1/x", ts)
	sf, ok := ParseSegmentPath("/a/" + name + SealedSuffix)
	if !ok || sf.Node != "host-1-x" || !sf.Created.Equal(ts) || !sf.Sealed {
		t.Fatalf("%s parsed as %+v %v", name, sf, ok)
	}
	if sf, ok := ParseSegmentPath(name + OpenSuffix); !ok || sf.Sealed {
		t.Fatalf("open name parsed as %+v", sf)
	}
	if SegmentName("a", ts) == SegmentName("a", ts) {
		t.Fatal("two names for the same node and time are equal")
	}
	if !bytes.HasPrefix([]byte(name), []byte("20261125T190851.123456789Z_")) {
		t.Fatalf("name %s does not start with its sortable time", name)
	}
}

// TestDeletedDirectoryIsRecreated: the capture directory removed while a
// segment is being written (a cleanup job, an operator) is recreated at
// the next frame with everything already written, so no accepted record
// is lost and the segment still seals.
func TestDeletedDirectoryIsRecreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "captures")
	w, err := NewWriter(WriterOptions{Dir: dir, Node: "n", FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	exs := testExchanges(20, 7)
	for i, ex := range exs {
		if i == 10 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Append(ex); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("flush after the directory was deleted: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.SegmentsRelinked != 1 || st.RecordsDropped != 0 {
		t.Fatalf("stats %+v: want one relinked segment and nothing dropped", st)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("recreated directory: %v %v", fi, err)
	}
	segs, err := ListSegments([]string{dir}, true)
	if err != nil || len(segs) != 1 || !segs[0].Sealed {
		t.Fatalf("want one sealed segment, got %+v (%v)", segs, err)
	}
	got, err := readAll(t, segs[0].Path)
	if err != nil || len(got) != len(exs) {
		t.Fatalf("read %d of %d records back (%v)", len(got), len(exs), err)
	}
}
