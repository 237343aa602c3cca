package format

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tornOpenFile writes the first cut bytes of a clean segment as the .open
// file a crashed writer would leave.
func tornOpenFile(t *testing.T, l layout, dir string, cut int64) string {
	t.Helper()
	name := SegmentName("crashed", time.Date(2026, 11, 25, 1, 2, 3, 0, time.UTC))
	p := filepath.Join(dir, name+OpenSuffix)
	if err := os.WriteFile(p, l.data[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRepair(t *testing.T) {
	l := newLayout(t)
	last := l.recFrame[len(l.recFrame)-1]
	for _, tc := range []struct {
		name        string
		cut         int64
		wantRecords int
		wantDamage  bool
	}{
		{"torn_last_record", last.off + last.size/2, len(l.ids) - 4, true},
		{"clean_unsealed", l.footerOff, len(l.ids), false},
		{"header_only", l.spans[0].size, 0, false},
		{"torn_header", 5, 0, true},
		{"empty_file", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := tornOpenFile(t, l, dir, tc.cut)
			res, err := RepairDir(dir, "crashed")
			if err != nil || len(res) != 1 {
				t.Fatalf("RepairDir = %+v, %v", res, err)
			}
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Fatalf(".open file still there after repair: %v", err)
			}
			if (len(res[0].Damage) > 0) != tc.wantDamage || res[0].Records != int64(tc.wantRecords) {
				t.Fatalf("repair result %+v", res[0])
			}
			if tc.wantRecords == 0 {
				if res[0].Sealed != "" {
					t.Fatalf("an empty segment was sealed: %s", res[0].Sealed)
				}
				// Damage with nothing to carry over is kept for
				// forensics, byte for byte; a clean empty file is not.
				aside := strings.TrimSuffix(p, OpenSuffix) + DamagedSuffix
				data, err := os.ReadFile(aside)
				if tc.wantDamage != (err == nil) || res[0].KeptAside != map[bool]string{true: aside}[tc.wantDamage] {
					t.Fatalf("kept aside %q: %v", res[0].KeptAside, err)
				}
				if tc.wantDamage && string(data) != string(l.data[:tc.cut]) {
					t.Fatal("the file kept aside is not the .open file's bytes")
				}
				if segs, _ := ListSegments([]string{dir}, true); len(segs) != 0 {
					t.Fatalf("a file kept aside is listed as a segment: %v", segs)
				}
				return
			}
			if res[0].Sealed != strings.TrimSuffix(p, ".open") {
				t.Fatalf("sealed as %s", res[0].Sealed)
			}
			got, r := readFile(t, res[0].Sealed)
			if r.Err() != nil || !slices.Equal(got, l.ids[:tc.wantRecords]) || r.Footer() == nil || !r.Footer().Repaired {
				t.Fatalf("repaired file: %d records, err %v, footer %+v", len(got), r.Err(), r.Footer())
			}
		})
	}
}

func TestNewWriterRepairsOnlyItsNode(t *testing.T) {
	l := newLayout(t)
	dir := t.TempDir()
	mine := tornOpenFile(t, l, dir, l.footerOff-3)
	other := filepath.Join(dir, SegmentName("other", time.Now())+OpenSuffix)
	os.WriteFile(other, l.data[:100], 0o600)
	w, err := NewWriter(WriterOptions{Dir: dir, Node: "crashed"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if rec := w.Recovered(); len(rec) != 1 || rec[0].Path != mine || rec[0].Records == 0 {
		t.Fatalf("Recovered = %+v", rec)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("another node's open file was touched: %v", err)
	}
}

func readFile(t *testing.T, path string) ([]string, *Reader) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readBytes(t, data)
}

// TestWriterStartsInAHostileDirectory: a directory or a symbolic link
// named like the node's open segment does not stop the writer; a symbolic
// link at the lock file's name is not followed; a directory open to
// everyone is narrowed to owner only.
func TestWriterStartsInAHostileDirectory(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	node := "hostile"
	name := SegmentName(node, time.Date(2026, 11, 25, 1, 2, 3, 0, time.UTC))
	if err := os.Mkdir(filepath.Join(dir, name+OpenSuffix), 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(target, []byte("keep me"), 0o644)
	if err := os.Symlink(target, filepath.Join(dir, ".lock-"+node)); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWriter(WriterOptions{Dir: dir, Node: node}); err == nil || !strings.Contains(err.Error(), ".lock-"+node) {
		t.Fatalf("NewWriter followed or ignored a symbolic link at the lock file: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me" {
		t.Fatal("the link's target was touched")
	}
	os.Remove(filepath.Join(dir, ".lock-"+node))
	os.Chmod(dir, 0o777)
	w, err := NewWriter(WriterOptions{Dir: dir, Node: node})
	if err != nil {
		t.Fatalf("a directory named like an open segment stopped the writer: %v", err)
	}
	defer w.Close()
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 || w.Tightened() != 0o777 {
		t.Errorf("directory mode %v after start (tightened from %v), want 0700", st.Mode().Perm(), w.Tightened())
	}
}
