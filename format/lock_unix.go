//go:build unix

package format

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockNode takes an exclusive flock so that two writers never share a node's
// files — the second would otherwise "repair" the first one's open segment.
// The lock file is never followed through a symbolic link: one planted in a
// shared directory would make the writer create or truncate a file
// elsewhere.
func lockNode(dir, node string) (*os.File, error) {
	path := filepath.Join(dir, ".lock-"+node)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("format: lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("format: %s is in use by another writer for node %q: %w", dir, node, err)
	}
	return f, nil
}
