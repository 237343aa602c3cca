package format

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// RepairResult says what Repair did with one unsealed segment.
type RepairResult struct {
	Path   string // the .open file that was repaired (now removed)
	Sealed string // the sealed file written, "" when nothing complete was left
	// KeptAside is where an .open file with damage and no complete record
	// was moved (DamagedSuffix), "" otherwise.
	KeptAside string
	Records   int64 // complete records carried over
	Damage    []*CorruptionError
}

// Repair turns a leftover .open segment into a sealed one holding every
// complete record it contains, then removes the .open file. Records are
// re-framed (recompressed), so the sealed file has the normal layout and a
// valid footer; Damage lists what could not be kept. A file with no complete
// record is removed and Sealed is "".
//
// Repair must only run on files no writer is appending to: NewWriter calls
// it for its own node while holding that node's lock.
func Repair(openPath string) (RepairResult, error) {
	res := RepairResult{Path: openPath}
	if !strings.HasSuffix(openPath, OpenSuffix) {
		return res, fmt.Errorf("format: repair %s: not an %s file", openPath, OpenSuffix)
	}
	base := strings.TrimSuffix(openPath, OpenSuffix)
	r, err := Open(openPath)
	if err != nil {
		return res, err
	}
	defer r.Close()

	st, err := r.file.Stat()
	if err != nil {
		return res, err
	}
	node, created := "", time.Time{}
	if sf, ok := ParseSegmentPath(openPath); ok {
		node, created = sf.Node, sf.Created
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(true), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return res, err
	}
	defer enc.Close()

	var seg *segmentFile
	var batch []byte
	var n, first, last int64
	writeBatch := func() error {
		if n == 0 {
			return nil
		}
		err := seg.writeFrame(enc.EncodeAll(batch, nil), n, int64(len(batch)), first, last)
		batch, n = batch[:0], 0
		return err
	}
	for r.Next() {
		if seg == nil {
			if h := r.Header(); h != nil {
				node, created = h.Node, time.Unix(0, h.CreatedNS)
			}
			_ = os.Remove(base + repairSuffix) // an interrupted earlier repair
			seg, err = createSegment(base+repairSuffix, base+SealedSuffix, node, created, st.Mode().Perm())
			if err != nil {
				return res, err
			}
		}
		var ts struct {
			StartNS int64 `json:"start_ns"`
		}
		_ = json.Unmarshal(r.Record(), &ts) // a record is kept even if it does not parse
		if n == 0 || ts.StartNS < first {
			first = ts.StartNS
		}
		if n == 0 || ts.StartNS > last {
			last = ts.StartNS
		}
		batch = append(append(batch, r.Record()...), '\n')
		n++
		res.Records++
		if len(batch) >= 4<<20 {
			if err := writeBatch(); err != nil {
				seg.abandon()
				return res, err
			}
		}
	}
	res.Damage = r.Damage()
	if r.ioErr != nil { // cannot tell what the rest holds: keep the file
		if seg != nil {
			seg.abandon()
		}
		return res, r.ioErr
	}
	if seg != nil {
		if err := writeBatch(); err != nil {
			seg.abandon()
			return res, err
		}
		if err := seg.seal(time.Now(), true); err != nil {
			return res, err
		}
		res.Sealed = seg.finalPath
	}
	if seg == nil && len(res.Damage) > 0 {
		// Nothing to carry over, but bytes that did not read: keep them
		// for whoever investigates the crash.
		res.KeptAside = base + DamagedSuffix
		if err := os.Rename(openPath, res.KeptAside); err != nil {
			return res, err
		}
		return res, syncDir(filepath.Dir(openPath))
	}
	if err := os.Remove(openPath); err != nil {
		return res, err
	}
	return res, syncDir(filepath.Dir(openPath))
}

// RepairDir repairs every .open segment of node directly in dir. An
// interrupted earlier repair is simply redone: its .open file still exists.
func RepairDir(dir, node string) ([]RepairResult, error) {
	node = SanitizeNode(node)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []RepairResult
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		sf, ok := ParseSegmentPath(p)
		if !ok || sf.Sealed || sf.Node != node || !e.Type().IsRegular() {
			continue // a directory or link named like a segment is not one
		}
		res, err := Repair(p)
		if err != nil {
			return out, fmt.Errorf("format: repair %s: %w", p, err)
		}
		out = append(out, res)
	}
	return out, nil
}
