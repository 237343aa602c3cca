package format

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File name suffixes (SPEC.md §1). State lives in the name: a glob for
// SealedSuffix never matches a file that is still being written.
const (
	SealedSuffix = ".ndjson.zst"
	OpenSuffix   = SealedSuffix + ".open"
	repairSuffix = SealedSuffix + ".repair"
	// DamagedSuffix marks a leftover .open file that held no complete
	// record but damage: Repair keeps it aside for inspection instead of
	// deleting what might be the only trace of a failure. Readers skip it.
	DamagedSuffix = SealedSuffix + ".damaged"
	nameTimeFmt   = "20060102T150405.000000000Z"
)

// FormatName identifies lessllm segments in their header and footer.
const FormatName = "lessllm-segment"

// SegmentVersion is the container version this package writes (SPEC.md §2).
const SegmentVersion = 1

// HeaderInfo is the payload of a segment's first (skippable) frame.
type HeaderInfo struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	Node      string `json:"node"`
	CreatedNS int64  `json:"created_ns"`
}

// FooterInfo is the payload of a sealed segment's last (skippable) frame.
// SHA256 covers every byte of the file before the footer frame, so a
// receiver can check a shipped file as a whole (SPEC.md §2.3).
type FooterInfo struct {
	Format       string `json:"format"`
	Version      int    `json:"version"`
	Records      int64  `json:"records"`
	Frames       int64  `json:"frames"`
	FirstStartNS int64  `json:"first_start_ns"`
	LastStartNS  int64  `json:"last_start_ns"`
	SealedNS     int64  `json:"sealed_ns"`
	DataBytes    int64  `json:"data_bytes"`
	ContentBytes int64  `json:"content_bytes"` // uncompressed NDJSON bytes
	SHA256       string `json:"sha256"`
	Repaired     bool   `json:"repaired,omitempty"`
}

// SegmentName returns a new segment base name (without suffix) for node at
// time t: sortable by time, unique across nodes and restarts.
func SegmentName(node string, t time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return t.UTC().Format(nameTimeFmt) + "_" + SanitizeNode(node) + "_" + hex.EncodeToString(r[:])
}

// SanitizeNode maps a node name onto the characters allowed in segment
// names: letters, digits, '.', '-'. Anything else becomes '-'.
func SanitizeNode(node string) string {
	if node == "" {
		return "node"
	}
	b := []byte(node)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

// SegmentFile is a segment found on disk.
type SegmentFile struct {
	Path    string
	Node    string    // from the name
	Created time.Time // from the name
	Sealed  bool
	Size    int64
}

// ParseSegmentPath reads node and creation time from a segment file name.
func ParseSegmentPath(path string) (SegmentFile, bool) {
	base := filepath.Base(path)
	sf := SegmentFile{Path: path}
	switch {
	case strings.HasSuffix(base, OpenSuffix):
		base = strings.TrimSuffix(base, OpenSuffix)
	case strings.HasSuffix(base, SealedSuffix):
		base = strings.TrimSuffix(base, SealedSuffix)
		sf.Sealed = true
	default:
		return sf, false
	}
	parts := strings.Split(base, "_")
	if len(parts) != 3 {
		return sf, false
	}
	t, err := time.Parse(nameTimeFmt, parts[0])
	if err != nil {
		return sf, false
	}
	sf.Created, sf.Node = t, parts[1]
	return sf, true
}

// ListSegments returns the segment files under each root (files or
// directories, walked recursively), sorted by creation time then path.
// includeOpen adds files still being written (or left by a crash).
func ListSegments(roots []string, includeOpen bool) ([]SegmentFile, error) {
	var out []SegmentFile
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			sf, ok := ParseSegmentPath(p)
			if !ok || (!sf.Sealed && !includeOpen) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			sf.Size = info.Size()
			out = append(out, sf)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

// ReadFooter reads a sealed segment's footer from the end of the file
// without reading the data. It returns a CorruptionError when the file does
// not end with a well-formed footer frame.
func ReadFooter(path string) (*FooterInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// The footer is the only frame that ends in "}" followed by nothing: scan
	// the last few KiB for a footer frame that ends exactly at EOF.
	tail := min(st.Size(), 8<<10)
	buf := make([]byte, tail)
	if _, err := f.ReadAt(buf, st.Size()-tail); err != nil {
		return nil, err
	}
	for i := len(buf) - 8; i >= 0; i-- {
		span, err := parseFrame(buf[i:], st.Size()-tail+int64(i))
		if err != nil || span.kind != frameFooter || int(span.size) != len(buf)-i {
			continue
		}
		var ft FooterInfo
		if err := json.Unmarshal(span.payload, &ft); err != nil || ft.Format != FormatName {
			continue
		}
		if ft.DataBytes != span.off {
			return nil, &CorruptionError{File: path, Offset: span.off, Err: fmt.Errorf("footer says data ends at %d", ft.DataBytes)}
		}
		return &ft, nil
	}
	return nil, &CorruptionError{File: path, Offset: st.Size(), Err: errNoFooter}
}
