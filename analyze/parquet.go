package analyze

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
)

// The Parquet dataset is Hive-partitioned by the UTC date of the request:
//
//	DIR/api_calls/date=YYYY-MM-DD/<segment>.parquet
//
// Each segment owns the files named after it, so analysing a segment again
// replaces its files rather than adding rows twice.

// tableDir is the dataset of table api_calls under a Parquet root.
func tableDir(root string) string { return filepath.Join(root, "api_calls") }

// segmentStem is a segment's name without its extensions.
func segmentStem(segment string) string {
	return strings.TrimSuffix(strings.TrimSuffix(segment, ".open"), ".ndjson.zst")
}

// partitionWriter writes one segment's rows, a file per date.
type partitionWriter struct {
	root, stem string
	files      map[string]*partitionFile // by date
}

type partitionFile struct {
	path, tmp string
	f         *os.File
	w         *parquet.GenericWriter[Call]
	rows      int64
}

func newPartitionWriter(root, segment string) *partitionWriter {
	return &partitionWriter{root: root, stem: segmentStem(segment), files: map[string]*partitionFile{}}
}

// Write adds rows to the files of their dates, each run of one date's
// rows in one write.
func (p *partitionWriter) Write(rows []Call) error {
	for len(rows) > 0 {
		day := utcDay(rows[0].Timestamp)
		n := 1
		for n < len(rows) && utcDay(rows[n].Timestamp) == day {
			n++
		}
		date := time.UnixMicro(rows[0].Timestamp).UTC().Format(time.DateOnly)
		pf, ok := p.files[date]
		if !ok {
			var err error
			if pf, err = p.open(date); err != nil {
				return err
			}
			p.files[date] = pf
		}
		if _, err := pf.w.Write(rows[:n]); err != nil {
			return fmt.Errorf("parquet %s: %w", pf.tmp, err)
		}
		pf.rows += int64(n)
		rows = rows[n:]
	}
	return nil
}

// utcDay numbers the UTC day of a timestamp (Unix µs): its partition.
func utcDay(us int64) int64 {
	const day = 24 * 60 * 60 * 1_000_000
	if us < 0 {
		return (us+1)/day - 1
	}
	return us / day
}

func (p *partitionWriter) open(date string) (*partitionFile, error) {
	dir := filepath.Join(tableDir(p.root), "date="+date)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, p.stem+".parquet")
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) // rows hold prompts, like the segments
	if err != nil {
		return nil, err
	}
	w := parquet.NewGenericWriter[Call](f, callSchema(),
		parquet.Compression(pageCodec),
		parquet.CreatedBy("lessllm", "analyze", ""),
		parquet.KeyValueMetadata("lessllm.schema_version", strconv.Itoa(SchemaVersion)),
		parquet.KeyValueMetadata("lessllm.table", "api_calls"),
	)
	return &partitionFile{path: path, tmp: tmp, f: f, w: w}, nil
}

// Commit closes every file and moves it into place, after removing the
// files an earlier analysis of the same segment left under other dates.
// It returns the paths written.
func (p *partitionWriter) Commit() ([]string, error) {
	var paths []string
	for _, pf := range p.files {
		if err := pf.w.Close(); err != nil {
			pf.f.Close()
			return nil, fmt.Errorf("parquet %s: %w", pf.tmp, err)
		}
		if err := pf.f.Close(); err != nil {
			return nil, err
		}
	}
	if err := removeSegmentFiles(p.root, p.stem); err != nil {
		return nil, err
	}
	for _, pf := range p.files {
		if err := os.Rename(pf.tmp, pf.path); err != nil {
			return nil, err
		}
		paths = append(paths, pf.path)
	}
	return paths, nil
}

// Abort removes the temporary files.
func (p *partitionWriter) Abort() {
	for _, pf := range p.files {
		pf.f.Close()
		os.Remove(pf.tmp)
	}
}

// removeSegmentFiles deletes a segment's files under every date.
func removeSegmentFiles(root, stem string) error {
	old, err := filepath.Glob(filepath.Join(tableDir(root), "date=*", stem+".parquet"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return nil
}
