package format

import (
	"errors"
	"fmt"
)

// CorruptionError reports damage in a segment file: where it is and what is
// wrong. Readers return it after yielding every complete record they could
// verify; they never repair (see Repair).
type CorruptionError struct {
	File   string
	Offset int64 // byte offset of the damaged frame (or of the end of file)
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("%s: corrupt at byte %d: %v", e.File, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

var (
	// errTorn: the file ends inside a frame, as after a crash or a full disk.
	errTorn = errors.New("frame runs past the end of the file (torn tail after a crash or short write, or a damaged length)")
	// errNoFooter: a sealed segment must end with its footer frame.
	errNoFooter = errors.New("no footer: segment not sealed, or truncated in transit")
)

// IsTorn reports whether err is (or wraps) a torn-tail corruption, the
// expected state of a file whose writer crashed.
func IsTorn(err error) bool { return errors.Is(err, errTorn) }
