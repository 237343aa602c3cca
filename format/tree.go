package format

import "errors"

// TreeReader reads the records of every segment under a set of files and
// directories (many nodes' shipped segments, say), one segment after the
// other in creation order. Damage in one file is collected and reading goes
// on with the next; so does an I/O error.
type TreeReader struct {
	files  []SegmentFile
	next   int
	cur    *Reader
	file   SegmentFile
	damage []*CorruptionError
	errs   []error
}

// OpenTree lists the segments under roots (sealed only, unless includeOpen)
// and returns a reader over all of them.
func OpenTree(roots []string, includeOpen bool) (*TreeReader, error) {
	files, err := ListSegments(roots, includeOpen)
	if err != nil {
		return nil, err
	}
	return &TreeReader{files: files}, nil
}

// Files lists the segments the reader covers.
func (t *TreeReader) Files() []SegmentFile { return t.files }

// Next advances to the next complete record of any segment.
func (t *TreeReader) Next() bool {
	for {
		if t.cur != nil {
			if t.cur.Next() {
				return true
			}
			t.closeCurrent()
		}
		if t.next >= len(t.files) {
			return false
		}
		t.file = t.files[t.next]
		t.next++
		r, err := Open(t.file.Path)
		if err != nil {
			t.errs = append(t.errs, err)
			continue
		}
		t.cur = r
	}
}

func (t *TreeReader) closeCurrent() {
	t.damage = append(t.damage, t.cur.Damage()...)
	if t.cur.ioErr != nil {
		t.errs = append(t.errs, t.cur.ioErr)
	}
	t.cur.Close()
	t.cur = nil
}

// Record returns the current record (valid until the next Next).
func (t *TreeReader) Record() []byte { return t.cur.Record() }

// File is the segment the current record comes from.
func (t *TreeReader) File() SegmentFile { return t.file }

// Damage lists the corruption found in the segments read so far.
func (t *TreeReader) Damage() []*CorruptionError { return t.damage }

// Err joins the I/O errors and damage met so far (nil when all was whole).
func (t *TreeReader) Err() error {
	errs := append([]error(nil), t.errs...)
	for _, d := range t.damage {
		errs = append(errs, d)
	}
	return errors.Join(errs...)
}

// Close releases the segment being read.
func (t *TreeReader) Close() error {
	if t.cur != nil {
		t.closeCurrent()
	}
	return nil
}
