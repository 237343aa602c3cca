// Package jsonscan is a small JSON reader for the hot loops of analysis:
// decoding capture records and the events of streamed responses. It reads
// straight from the input with no reflection and no intermediate tree.
//
// It is strict and narrow on purpose: any input it is not sure about (a
// syntax error, a number that is not an integer, invalid UTF-8) is an
// error, and callers then decode with encoding/json, which stays the single
// authority on what a document means. Where it succeeds it yields exactly
// what encoding/json would (the fuzz tests of its callers hold it to that).
package jsonscan

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// special marks the bytes that end a run of string bytes needing no
// decoding: the quote, the backslash, control characters and non-ASCII.
var special = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()

// nextSpecial returns the index of the first special byte in b at or
// after i (len(b) if none), eight bytes at a time: each test below sets the
// high bit of the bytes it matches, and since a borrow only carries toward
// higher bytes, the lowest bit set marks the first match exactly ("Bit
// Twiddling Hacks": determine if a word has a zero byte / a byte less than n).
func nextSpecial(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := specialMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && !special[b[i]] {
		i++
	}
	return i
}

// specialMask sets the high bit of the special bytes of the eight in x
// (little-endian); only its lowest set bit is exact (see nextSpecial).
func specialMask(x uint64) uint64 {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(lsb*'"'), x^(lsb*'\\')
	return ((q-lsb)&^q | (bs-lsb)&^bs | (x-lsb*0x20)&^x | x) & msb
}

// ErrUnsure is returned for anything the scanner does not handle; callers
// fall back to encoding/json.
var ErrUnsure = errors.New("jsonscan: not handled")

// Scanner reads one JSON document.
type Scanner struct {
	b []byte
	i int
}

// Reset points s at b (the zero Scanner reads nothing). b must not change
// while s is in use.
func (s *Scanner) Reset(b []byte) { s.b, s.i = b, 0 }

func (s *Scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' { // the usual case: compact JSON
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Peek returns the next non-space byte (0 at the end).
func (s *Scanner) Peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// End reports an error unless only whitespace remains.
func (s *Scanner) End() error {
	s.ws()
	if s.i != len(s.b) {
		return ErrUnsure
	}
	return nil
}

// Null consumes a null if one comes next.
func (s *Scanner) Null() bool {
	s.ws()
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// Iter walks the members of an object or the elements of an array:
//
//	it := s.Object()
//	for it.Next() {
//		switch string(it.Key()) { … decode the value with s … }
//	}
//	if err := it.Err(); err != nil { … }
//
// It lives on the caller's stack: walking allocates nothing.
type Iter struct {
	s       *Scanner
	close   byte // '}' or ']'
	started bool
	done    bool
	err     error
	key     []byte
}

// Object starts walking the object that comes next.
func (s *Scanner) Object() Iter { return s.iter('{', '}') }

// Array starts walking the array that comes next.
func (s *Scanner) Array() Iter { return s.iter('[', ']') }

func (s *Scanner) iter(open, close byte) Iter {
	it := Iter{s: s, close: close}
	if s.Peek() != open {
		it.done, it.err = true, ErrUnsure
		return it
	}
	s.i++
	return it
}

// Next moves to the next member or element; for an object it reads the
// key and the colon, leaving the value for the caller to consume.
func (it *Iter) Next() bool {
	if it.done {
		return false
	}
	s := it.s
	c := s.Peek()
	switch {
	case c == it.close:
		s.i++
		it.done = true
		return false
	case it.started:
		if c != ',' {
			it.done, it.err = true, ErrUnsure
			return false
		}
		s.i++
	}
	it.started = true
	if it.close == ']' {
		return true
	}
	if s.Peek() != '"' {
		it.done, it.err = true, ErrUnsure
		return false
	}
	key, ok := s.plainString()
	if !ok || s.Peek() != ':' {
		// Keys with escapes are rare enough to leave to encoding/json.
		it.done, it.err = true, ErrUnsure
		return false
	}
	s.i++
	it.key = key
	return true
}

// Key is the current member's key (a slice of the input).
func (it *Iter) Key() []byte { return it.key }

// Err is the syntax error that ended the walk, if any.
func (it *Iter) Err() error { return it.err }

// plainString reads a string without escapes or bytes encoding/json would
// change, returning a slice of the input.
func (s *Scanner) plainString() ([]byte, bool) {
	start := s.i + 1
	j := nextSpecial(s.b, start)
	if j < len(s.b) && s.b[j] == '"' {
		s.i = j + 1
		return s.b[start:j], true
	}
	return nil, false
}

// String reads a string value.
func (s *Scanner) String() (string, error) {
	if s.Peek() != '"' {
		return "", ErrUnsure
	}
	if j, ok := s.plainEnd(); ok {
		v := string(s.b[s.i+1 : j])
		s.i = j + 1
		return v, nil
	}
	out, err := s.AppendString(nil)
	return string(out), err
}

// StringLike reads a string value, returning prev itself (no allocation)
// when the value equals it: for fields that repeat in every event of a
// stream, such as its id and model.
func (s *Scanner) StringLike(prev string) (string, error) {
	if s.Peek() == '"' {
		if j, ok := s.plainEnd(); ok && string(s.b[s.i+1:j]) == prev {
			s.i = j + 1
			return prev, nil
		}
	}
	return s.String()
}

// PlainString reads a string that needs no decoding and returns its bytes
// (a slice of the input); ok is false, and nothing is consumed, for any
// other value.
func (s *Scanner) PlainString() (v []byte, ok bool) {
	if s.Peek() != '"' {
		return nil, false
	}
	j, ok := s.plainEnd()
	if !ok {
		return nil, false
	}
	v = s.b[s.i+1 : j]
	s.i = j + 1
	return v, true
}

// AppendString reads a string value and appends its decoded bytes to dst,
// so that many strings can share one buffer.
func (s *Scanner) AppendString(dst []byte) ([]byte, error) {
	if s.Peek() != '"' {
		return dst, ErrUnsure
	}
	if j, ok := s.plainEnd(); ok {
		dst = append(dst, s.b[s.i+1:j]...)
		s.i = j + 1
		return dst, nil
	}
	return s.unescape(dst, s.i+1, nil)
}

// plainEnd finds the closing quote of the string at s.i when the string
// needs no decoding: no escapes, and valid UTF-8 if not ASCII.
func (s *Scanner) plainEnd() (int, bool) {
	start := s.i + 1
	ascii := true
	for j := nextSpecial(s.b, start); j < len(s.b); j = nextSpecial(s.b, j+1) {
		switch c := s.b[j]; {
		case c == '"':
			return j, ascii || utf8.Valid(s.b[start:j])
		case c == '\\' || c < 0x20:
			return 0, false
		default:
			ascii = false
		}
	}
	return 0, false
}

// unescape decodes the string starting at start (after its quote) onto
// out as encoding/json does: lone surrogates and invalid UTF-8 bytes
// become U+FFFD. With rec, it records every escape and may stop early at a
// known tail (see escapes).
func (s *Scanner) unescape(out []byte, start int, rec *escapes) ([]byte, error) {
	j := start
	for j < len(s.b) {
		// Copy the run of bytes that need no decoding. Eight at a time
		// while out has room for a whole word: the word is stored whole and
		// out extended only over its plain bytes (the rest is overwritten
		// next), which beats a byte loop even on the few-byte runs between
		// escapes in captured SSE. Then byte by byte.
		for j+8 <= len(s.b) && cap(out)-len(out) >= 8 {
			x := binary.LittleEndian.Uint64(s.b[j:])
			n := len(out)
			binary.LittleEndian.PutUint64(out[n:n+8], x)
			if m := specialMask(x); m != 0 {
				k := bits.TrailingZeros64(m) / 8
				out, j = out[:n+k], j+k
				break
			}
			out, j = out[:n+8], j+8
		}
		for j < len(s.b) && !special[s.b[j]] {
			out = append(out, s.b[j])
			j++
		}
		if j == len(s.b) {
			break
		}
		c := s.b[j]
		if c == '\\' {
			if rec != nil {
				if rec.tailAt(s, j) {
					return out, nil
				}
				rec.offsets = append(rec.offsets, j-rec.base)
			}
			if j+1 < len(s.b) && s.b[j+1] == '"' { // by far the commonest escape in captured SSE
				out = append(out, '"')
				j += 2
				continue
			}
		}
		switch {
		case c == '"':
			s.i = j + 1
			return out, nil
		case c < 0x20:
			return out, ErrUnsure
		case c == '\\':
			if j+1 >= len(s.b) {
				return out, ErrUnsure
			}
			e := s.b[j+1]
			j += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(s.b, j)
				if !ok {
					return out, ErrUnsure
				}
				j += 4
				if utf16.IsSurrogate(r) {
					if j+6 <= len(s.b) && s.b[j] == '\\' && s.b[j+1] == 'u' {
						if r2, ok := hex4(s.b, j+2); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								out = utf8.AppendRune(out, dec)
								j += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				return out, ErrUnsure
			}
		default:
			r, size := utf8.DecodeRune(s.b[j:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, s.b[j:j+size]...)
			}
			j += size
		}
	}
	return out, ErrUnsure
}

func hex4(b []byte, j int) (rune, bool) {
	if j+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[j : j+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// Int reads an integer (no fraction, no exponent).
func (s *Scanner) Int() (int64, error) {
	s.ws()
	start := s.i
	j := s.i
	if j < len(s.b) && s.b[j] == '-' {
		j++
	}
	digits := j
	for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
		j++
	}
	if j == digits || (s.b[digits] == '0' && j-digits > 1) {
		return 0, ErrUnsure
	}
	if j < len(s.b) && (s.b[j] == '.' || s.b[j] == 'e' || s.b[j] == 'E') {
		return 0, ErrUnsure
	}
	if n := j - digits; n <= 18 { // cannot overflow int64: add up the digits here
		var v int64
		for _, c := range s.b[digits:j] {
			v = v*10 + int64(c-'0')
		}
		if digits > start {
			v = -v
		}
		s.i = j
		return v, nil
	}
	v, err := strconv.ParseInt(string(s.b[start:j]), 10, 64)
	if err != nil {
		return 0, ErrUnsure
	}
	s.i = j
	return v, nil
}

// Bool reads true or false.
func (s *Scanner) Bool() (bool, error) {
	s.ws()
	switch {
	case len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "true":
		s.i += 4
		return true, nil
	case len(s.b)-s.i >= 5 && string(s.b[s.i:s.i+5]) == "false":
		s.i += 5
		return false, nil
	}
	return false, ErrUnsure
}

// Raw skips the next value and returns its bytes (a slice of the input).
func (s *Scanner) Raw() ([]byte, error) {
	s.ws()
	start := s.i
	if err := s.Skip(); err != nil {
		return nil, err
	}
	return s.b[start:s.i], nil
}

// Skip consumes the next value, checking its syntax.
func (s *Scanner) Skip() error {
	switch c := s.Peek(); {
	case c == '{' || c == '[':
		it := s.iter(c, c+2) // '{'+2 == '}', '['+2 == ']'
		for it.Next() {
			if err := s.Skip(); err != nil {
				return err
			}
		}
		return it.Err()
	case c == '"':
		if _, ok := s.plainString(); ok { // checked without a copy
			return nil
		}
		_, err := s.String()
		return err
	case c == 't' || c == 'f':
		_, err := s.Bool()
		return err
	case c == 'n':
		if s.Null() {
			return nil
		}
		return ErrUnsure
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return ErrUnsure
}

// number skips a JSON number of any form.
func (s *Scanner) number() error {
	j := s.i
	if s.b[j] == '-' {
		j++
	}
	d := j
	for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
		j++
	}
	if j == d || (s.b[d] == '0' && j-d > 1) {
		return ErrUnsure
	}
	if j < len(s.b) && s.b[j] == '.' {
		j++
		f := j
		for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
			j++
		}
		if j == f {
			return ErrUnsure
		}
	}
	if j < len(s.b) && (s.b[j] == 'e' || s.b[j] == 'E') {
		j++
		if j < len(s.b) && (s.b[j] == '+' || s.b[j] == '-') {
			j++
		}
		e := j
		for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
			j++
		}
		if j == e {
			return ErrUnsure
		}
	}
	s.i = j
	return nil
}

// Remaining is the number of input bytes not yet read.
func (s *Scanner) Remaining() int { return len(s.b) - s.i }

// Pos is the offset of the next unread byte in the input.
func (s *Scanner) Pos() int { return s.i }

// Literal consumes lit if the input continues with exactly those bytes
// (no whitespace skipped): the cheap way through a shape a known writer
// produces, such as a record's chunk objects.
func (s *Scanner) Literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// Rewind moves back to an offset Pos returned, to read that part again
// another way.
func (s *Scanner) Rewind(pos int) { s.i = pos }
