//go:build !unix

package format

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockNode opens the node's lock file. On systems without flock a second
// writer for the same node is not detected: run one capture per node there.
// Reading segments, the purpose of this package on such systems, needs no
// lock.
func lockNode(dir, node string) (*os.File, error) {
	path := filepath.Join(dir, ".lock-"+node)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("format: lock file %s: %w", path, err)
	}
	return f, nil
}
