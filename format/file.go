package format

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"
)

// segmentFile is one segment being written: the file-level half of the
// writer, shared with Repair so that both produce byte-identical layouts.
type segmentFile struct {
	f         *os.File
	tmpPath   string // where it is written (.open, or .repair during repair)
	finalPath string // sealed name
	created   time.Time
	mode      os.FileMode

	size    int64 // bytes written and accepted so far
	sum     hash.Hash
	records int64
	frames  int64
	content int64 // uncompressed NDJSON bytes
	first   int64 // smallest record start_ns
	last    int64 // largest record start_ns
}

func createSegment(tmpPath, finalPath, node string, created time.Time, mode os.FileMode) (*segmentFile, error) {
	// Read-write: relink copies the bytes back out if the directory is
	// deleted under the writer.
	f, err := os.OpenFile(tmpPath, os.O_CREATE|os.O_EXCL|os.O_RDWR, mode)
	if err != nil {
		return nil, err
	}
	s := &segmentFile{f: f, tmpPath: tmpPath, finalPath: finalPath, created: created, sum: sha256.New(), mode: mode}
	hdr, _ := json.Marshal(HeaderInfo{Format: FormatName, Version: SegmentVersion, Node: node, CreatedNS: created.UnixNano()})
	if err := s.write(skippableFrame(headerMagic, hdr)); err != nil {
		f.Close()
		os.Remove(tmpPath)
		return nil, err
	}
	return s, nil
}

// write appends b in one write(2). On failure it cuts the file back to the
// last good frame so that a later frame does not follow garbage; if even
// that fails the reader's resynchronisation still skips the partial frame.
func (s *segmentFile) write(b []byte) error {
	n, err := s.f.Write(b)
	if err != nil {
		if n > 0 {
			_ = s.f.Truncate(s.size)
			_, _ = s.f.Seek(s.size, 0)
		}
		return err
	}
	s.size += int64(n)
	s.sum.Write(b)
	return nil
}

// writeFrame appends one compressed data frame holding records (content
// bytes of NDJSON) whose start_ns range is [first, last].
func (s *segmentFile) writeFrame(frame []byte, records, content, first, last int64) error {
	if err := s.write(frame); err != nil {
		return err
	}
	s.content += content
	if s.records == 0 || first < s.first {
		s.first = first
	}
	if last > s.last {
		s.last = last
	}
	s.records += records
	s.frames++
	return nil
}

// seal appends the footer, syncs, closes, renames to the sealed name and
// syncs the directory, so the sealed name appears only for a complete file.
func (s *segmentFile) seal(now time.Time, repaired bool) error {
	if !s.linked() {
		if err := s.relink(); err != nil {
			s.f.Close()
			return fmt.Errorf("seal %s: the file is gone from its directory and could not be recreated: %w", s.tmpPath, err)
		}
	}
	ft, _ := json.Marshal(FooterInfo{
		Format: FormatName, Version: SegmentVersion,
		Records: s.records, Frames: s.frames,
		FirstStartNS: s.first, LastStartNS: s.last,
		SealedNS: now.UnixNano(), DataBytes: s.size, ContentBytes: s.content,
		SHA256: hex.EncodeToString(s.sum.Sum(nil)), Repaired: repaired,
	})
	if _, err := s.f.Write(skippableFrame(footerMagic, ft)); err != nil {
		s.f.Close()
		return fmt.Errorf("seal %s: %w", s.tmpPath, err)
	}
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return fmt.Errorf("seal %s: fsync: %w", s.tmpPath, err)
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("seal %s: %w", s.tmpPath, err)
	}
	if err := os.Rename(s.tmpPath, s.finalPath); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	return syncDir(filepath.Dir(s.finalPath))
}

// linked reports whether the file is still reachable under its name. An
// operator (or a cleanup job) deleting the capture directory leaves the
// writer appending to an unlinked inode: every byte written would vanish
// when the file is closed.
func (s *segmentFile) linked() bool {
	named, err := os.Stat(s.tmpPath)
	if err != nil {
		return false
	}
	open, err := s.f.Stat()
	return err == nil && os.SameFile(named, open)
}

// relink recreates the directory (0700) and the file under its name, and
// copies what was written so far from the open, unlinked one, so nothing
// already accepted is lost.
func (s *segmentFile) relink() error {
	if err := os.MkdirAll(filepath.Dir(s.tmpPath), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(s.tmpPath, os.O_CREATE|os.O_EXCL|os.O_RDWR, s.mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.NewSectionReader(s.f, 0, s.size)); err != nil {
		f.Close()
		os.Remove(s.tmpPath)
		return err
	}
	s.f.Close()
	s.f = f
	return nil
}

// abandon closes the file without sealing it; it stays for Repair.
func (s *segmentFile) abandon() { s.f.Close() }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
