package jsonscan

import (
	"strings"
	"unicode/utf8"
)

// Helpers for the fast decoders of format (records) and format/wire
// (stream events), which read objects field by field and give up with
// ErrUnsure — falling back to encoding/json — wherever its semantics are
// not worth copying.

// Fields tracks which keys of one object (up to 32, numbered by the
// decoder) were seen: a repeated key, whose merge semantics in
// encoding/json are not worth copying, is left to encoding/json.
type Fields uint32

// Once marks field i seen, or returns ErrUnsure if it already was.
func (f *Fields) Once(i uint) error {
	if *f&(1<<i) != 0 {
		return ErrUnsure
	}
	*f |= 1 << i
	return nil
}

// StringField reads string field i into dst; null leaves dst unchanged,
// as in encoding/json.
func (s *Scanner) StringField(seen *Fields, i uint, dst *string) error {
	if err := seen.Once(i); err != nil || s.Null() {
		return err
	}
	v, err := s.String()
	*dst = v
	return err
}

// StringLikeField is StringField sharing prev's memory when the value
// equals it (StringLike).
func (s *Scanner) StringLikeField(seen *Fields, i uint, dst *string, prev string) error {
	if err := seen.Once(i); err != nil || s.Null() {
		return err
	}
	v, err := s.StringLike(prev)
	*dst = v
	return err
}

// StringPtrField reads *string field i; null sets it to nil.
func (s *Scanner) StringPtrField(seen *Fields, i uint, dst **string) error {
	if err := seen.Once(i); err != nil {
		return err
	}
	if s.Null() {
		*dst = nil
		return nil
	}
	v, err := s.String()
	*dst = &v
	return err
}

// IntField reads integer field i into dst; null leaves dst unchanged.
func (s *Scanner) IntField(seen *Fields, i uint, dst *int64) error {
	if err := seen.Once(i); err != nil || s.Null() {
		return err
	}
	v, err := s.Int()
	*dst = v
	return err
}

// BoolField reads boolean field i into dst; null leaves dst unchanged.
func (s *Scanner) BoolField(seen *Fields, i uint, dst *bool) error {
	if err := seen.Once(i); err != nil || s.Null() {
		return err
	}
	v, err := s.Bool()
	*dst = v
	return err
}

// Unknown skips the value of a key the struct does not have, unless
// encoding/json's case-insensitive matching would map it to one of known.
func (s *Scanner) Unknown(key []byte, known ...string) error {
	ascii := true
	for _, c := range key {
		ascii = ascii && c < utf8.RuneSelf
	}
	for _, k := range known {
		// An ASCII key folds only to a key of its own length; others
		// (the Kelvin sign folds to k) take the full comparison.
		if (!ascii || len(k) == len(key)) && strings.EqualFold(string(key), k) {
			return ErrUnsure
		}
	}
	return s.Skip()
}
