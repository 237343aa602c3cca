package jsonscan

import (
	"encoding/binary"
	"math/bits"
)

// maxCompactDepth bounds the nesting AppendCompact follows (its stack of
// open containers is a 64-byte bitset on the caller's stack); deeper
// documents are left to encoding/json, whose own limit is 10,000.
const maxCompactDepth = 512

// AppendCompact appends src to dst with the whitespace between tokens
// removed, exactly as encoding/json.Compact does, and reports whether it
// did. It declines (false, dst unchanged) anything it is not sure about —
// invalid JSON, nesting deeper than maxCompactDepth — and the caller then
// asks encoding/json, which stays the authority on what is JSON and says
// what is wrong (FuzzAppendCompact holds the two to the same bytes).
//
// Why not json.Compact alone: capture stores every request body as
// compact JSON (format/SPEC.md §4, request.body), on the handler's path, and Compact's
// byte-at-a-time state machine runs at ~250 MB/s — 160 µs for a 48 KB
// agent prompt. Here string bytes, most of any prompt, are skipped eight
// at a time, and compact input is copied in one piece.
func AppendCompact(dst, src []byte) ([]byte, bool) {
	orig := len(dst)
	var inObject [maxCompactDepth / 64]uint64 // bit per open container: an object, else an array
	depth := 0
	const (
		value   = iota // a value must come next
		key            // an object's key must come next
		colon          // a key's colon must come next
		after          // a value ended: a comma, a close, or the end
		valueOr        // after '[': a value or ']'
		keyOr          // after '{': a key or '}'
	)
	state := value
	run := 0 // start of the bytes not yet copied to dst
	i := 0
	for {
		if i < len(src) && src[i] <= ' ' {
			// Whitespace between tokens: copy the run before it, skip it.
			dst = append(dst, src[run:i]...)
			for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
				i++
			}
			run = i
			if i < len(src) && src[i] < ' ' { // a control character outside a string
				return dst[:orig], false
			}
		}
		if i == len(src) {
			break
		}
		c := src[i]
		switch state {
		case value, valueOr:
			switch {
			case c == ']' && state == valueOr:
				depth--
				i++
				state = after
			case c == '{' || c == '[':
				if depth == maxCompactDepth {
					return dst[:orig], false
				}
				w, b := depth/64, uint(depth%64)
				if c == '{' {
					inObject[w] |= 1 << b
					state = keyOr
				} else {
					inObject[w] &^= 1 << b
					state = valueOr
				}
				depth++
				i++
			case c == '"':
				if i = skipString(src, i); i < 0 {
					return dst[:orig], false
				}
				state = after
			case c == '-' || c >= '0' && c <= '9':
				if i = skipNumber(src, i); i < 0 {
					return dst[:orig], false
				}
				state = after
			case c == 't' && hasLiteral(src, i, "true"), c == 'n' && hasLiteral(src, i, "null"):
				i += 4
				state = after
			case c == 'f' && hasLiteral(src, i, "false"):
				i += 5
				state = after
			default:
				return dst[:orig], false
			}
		case key, keyOr:
			switch {
			case c == '}' && state == keyOr:
				depth--
				i++
				state = after
			case c == '"':
				if i = skipString(src, i); i < 0 {
					return dst[:orig], false
				}
				state = colon
			default:
				return dst[:orig], false
			}
		case colon:
			if c != ':' {
				return dst[:orig], false
			}
			i++
			state = value
		case after:
			if depth == 0 { // something after the top-level value
				return dst[:orig], false
			}
			object := inObject[(depth-1)/64]>>uint((depth-1)%64)&1 == 1
			switch {
			case c == ',' && object:
				state = key
			case c == ',':
				state = value
			case c == '}' && object, c == ']' && !object:
				depth--
				state = after
			default:
				return dst[:orig], false
			}
			i++
		}
	}
	if state != after || depth != 0 {
		return dst[:orig], false
	}
	return append(dst, src[run:]...), true
}

// skipString returns the offset after the string whose quote is at
// src[i], or -1 if it is not a valid JSON string. Any byte from 0x20 up
// may stand in a string unescaped (encoding/json does not check UTF-8
// here either).
func skipString(src []byte, i int) int {
	j := i + 1
	for {
		for ; j+8 <= len(src); j += 8 {
			if m := stringEndMask(binary.LittleEndian.Uint64(src[j:])); m != 0 {
				j += bits.TrailingZeros64(m) / 8
				break
			}
		}
		for j < len(src) && src[j] != '"' && src[j] != '\\' && src[j] >= 0x20 {
			j++
		}
		if j == len(src) || src[j] < 0x20 {
			return -1
		}
		if src[j] == '"' {
			return j + 1
		}
		// A backslash: one of the escapes RFC 8259 §7 allows.
		if j+1 == len(src) {
			return -1
		}
		switch src[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			if _, ok := hex4(src, j+2); !ok {
				return -1
			}
			j += 6
		default:
			return -1
		}
	}
}

// stringEndMask is specialMask without the non-ASCII bytes: the high bit
// of each quote, backslash or control byte of the eight in x (only its
// lowest set bit is exact).
func stringEndMask(x uint64) uint64 {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(lsb*'"'), x^(lsb*'\\')
	return ((q-lsb)&^q | (bs-lsb)&^bs | (x-lsb*0x20)&^x) & msb
}

// skipNumber returns the offset after the number at src[i], or -1 if it
// is not a JSON number.
func skipNumber(src []byte, i int) int {
	var s Scanner
	s.Reset(src)
	s.i = i
	if s.number() != nil {
		return -1
	}
	return s.i
}

func hasLiteral(src []byte, i int, lit string) bool {
	return len(src)-i >= len(lit) && string(src[i:i+len(lit)]) == lit
}
