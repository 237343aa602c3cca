package jsonscan

import "encoding/binary"

// Shared carries what AppendStringShared needs from the previous string of
// a run: its raw bytes (between the quotes, as in the input), what they
// decoded to, where in the raw bytes each escape starts, how long a prefix
// of them is known to be ASCII and equal to the string before, and where
// its tail — the part after what changed, which the next string is likely
// to end with too — begins. The zero value starts a run.
type Shared struct {
	raw, decoded []byte
	esc, spare   []int // escape offsets in raw; spare is reused for the next string's
	ascii        int   // raw[:ascii] is ASCII and was shared with the string before
	tail         int   // raw[tail:] is the tail (it starts with an escape); -1: none
	tailEsc      int   // index in esc of the tail's first escape
}

// escapes is what unescape records for AppendStringShared: the offset from
// base of every escape it decodes, and — when tail is set — the offset at
// which it met tail followed by the closing quote, where it stops.
type escapes struct {
	offsets []int
	base    int
	tail    []byte
	at      int // offset of tail in the string; -1: not met
}

// tailAt reports whether the rest of the string at j, an escape, is
// exactly the tail, and if so ends the string there.
func (r *escapes) tailAt(s *Scanner, j int) bool {
	if r.tail == nil {
		return false
	}
	e := j + len(r.tail)
	if e >= len(s.b) || s.b[e] != '"' || string(s.b[j:e]) != string(r.tail) {
		return false
	}
	r.at = j - r.base
	s.i = e + 1
	return true
}

// AppendStringShared is AppendString for strings that repeat most of the
// previous one — consecutive chunks of a captured stream, whose SSE
// envelope is the same escaped JSON every time but for the generated text.
//
// The part of the raw bytes both share at the start, cut back to before
// any escape it would split and before the first non-ASCII byte, decodes
// to what it decoded to before, so it is copied from the previous decoding.
// So is the tail: when, at an escape, the rest of the string is byte for
// byte the previous string's tail (which starts at an escape, holds only
// ASCII and no \u escape, so it decodes alone to a known suffix of the
// previous decoding), decoding stops there. Only what lies between is
// decoded. sh is updated for the next call (it points into the input and
// into dst: valid while both are). FuzzShared holds it to AppendString.
func (s *Scanner) AppendStringShared(dst []byte, sh *Shared) ([]byte, error) {
	if s.Peek() != '"' {
		*sh = Shared{esc: sh.esc[:0], spare: sh.spare[:0], tail: -1}
		return dst, ErrUnsure
	}
	start, mark := s.i+1, len(dst)
	// Each escape in the prefix decodes to one byte less than it takes.
	p, kept := sh.prefix(s.b[start:])
	if p < 16 {
		p, kept = 0, 0
	}
	rec := escapes{offsets: append(sh.spare[:0], sh.esc[:kept]...), base: start, at: -1}
	if sh.raw != nil && sh.tail >= 0 {
		rec.tail = sh.raw[sh.tail:]
	}
	dst = append(dst, sh.decoded[:p-kept]...)
	dst, err := s.unescape(dst, start+p, &rec)
	if err != nil {
		*sh = Shared{esc: sh.esc[:0], spare: rec.offsets[:0], tail: -1}
		return dst, err
	}
	next := Shared{raw: s.b[start : s.i-1], esc: rec.offsets, spare: sh.esc, ascii: p, tail: -1}
	if rec.at >= 0 {
		// The tail's decoding and escapes are the previous string's.
		tailEsc := sh.esc[sh.tailEsc:]
		dst = append(dst, sh.decoded[len(sh.decoded)-(len(rec.tail)-len(tailEsc)):]...)
		next.tail, next.tailEsc = rec.at, len(next.esc)
		for _, e := range tailEsc {
			next.esc = append(next.esc, e-sh.tail+rec.at)
		}
	}
	next.decoded = dst[mark:]
	if next.tail < 0 {
		next.findTail(sh.raw)
	}
	*sh = next
	return dst, nil
}

// prefix is how many leading raw bytes of a string (cur, running on into
// the rest of the input) can reuse the previous string's decoding, and how
// many of the previous string's escapes lie inside them.
func (sh *Shared) prefix(cur []byte) (p, kept int) {
	// The previous string holds no unescaped quote, so neither does an
	// equal prefix of cur: the string cannot end inside it. The part the
	// previous string shared with its own predecessor is compared in one
	// go (it is ASCII, so an equal part of cur is too); the rest eight
	// bytes at a time while they are equal and ASCII, then byte by byte.
	prev := sh.raw
	n := min(len(cur), len(prev))
	if h := sh.ascii; h <= n && string(cur[:h]) == string(prev[:h]) {
		p = h
	}
	for p+8 <= n {
		a := binary.LittleEndian.Uint64(cur[p:])
		if a != binary.LittleEndian.Uint64(prev[p:]) || a&0x8080808080808080 != 0 {
			break
		}
		p += 8
	}
	for p < n && cur[p] == prev[p] && cur[p] < 0x80 {
		p++
	}
	// A cut must not split an escape, and \u escapes (whose decoding is not
	// a byte for two) end the prefix. The escape offsets were recorded when
	// the previous string was decoded, so no byte is searched again here.
	for _, i := range sh.esc {
		if i >= p {
			break
		}
		if i+1 >= p || prev[i+1] == 'u' {
			return i, kept
		}
		kept++
	}
	return p, kept
}

// findTail sets the tail of a string decoded in full: from its first
// escape within the raw bytes it ends with in common with prev, provided
// that part holds only ASCII and no \u escape.
func (sh *Shared) findTail(prev []byte) {
	raw := sh.raw
	k := 0
	for k < len(raw) && k < len(prev) && raw[len(raw)-1-k] == prev[len(prev)-1-k] {
		k++
	}
	for i, e := range sh.esc {
		if e < len(raw)-k {
			continue
		}
		for _, c := range raw[e:] {
			if c >= 0x80 {
				return
			}
		}
		for _, f := range sh.esc[i:] {
			if raw[f+1] == 'u' {
				return
			}
		}
		sh.tail, sh.tailEsc = e, i
		return
	}
}
