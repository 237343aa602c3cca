package sensitive

import "strings"

// anyShape is the prefilters of all the default rules in one pass over s:
// it reports true exactly when at least one of them would (FuzzAnyShape
// holds it to them). Maybe runs it on every request and response, where
// one prefilter after another cost a dozen passes over the document.
//
// Bytes are sorted by a table: most (lowercase letters, punctuation) can
// start no candidate and only end a digit run; digits and digit-run
// separators advance the run; the rest start a key prefix, a phone or an
// IBAN, and are looked at more closely.
func anyShape(s string) bool {
	run, seps := 0, 0 // digitRun(13)'s state
	for i := 0; i < len(s); i++ {
		c := s[i]
		cls := shapeClass[c]
		if cls == 0 {
			run, seps = 0, 0
			continue
		}
		if cls&classDigit != 0 {
			if run++; run >= 13 {
				return true
			}
			seps = 0
			// phoneStart's ddd-ddd and ssnShape's ddd-dd-dddd both begin
			// with three digits and a dash.
			if i+3 < len(s) && s[i+3] == '-' && isDigit(s, i+1) && isDigit(s, i+2) {
				if isDigit(s, i+4) && isDigit(s, i+5) && isDigit(s, i+6) {
					return true
				}
				if i+11 <= len(s) && s[i+6] == '-' && allDigits(s[i+4:i+6]) && allDigits(s[i+7:i+11]) {
					return true
				}
			}
			continue
		}
		if cls&classTrigger != 0 && (cls&classRare == 0 || i+1 < len(s) && secondByte[s[i+1]]) && startsCandidate(s, i) {
			return true
		}
		if cls&classSep != 0 && seps < 2 {
			seps++
		} else {
			run, seps = 0, 0
		}
	}
	return false
}

// startsCandidate reports whether a prefilter of a default rule matches at
// s[i], a trigger byte.
func startsCandidate(s string, i int) bool {
	rest := s[i:]
	switch c := s[i]; {
	case c == '@':
		return true
	case c == '+' || c == '(':
		return isDigit(s, i+1)
	case c >= 'A' && c <= 'Z':
		if i+3 < len(s) && s[i+1] >= 'A' && s[i+1] <= 'Z' && isDigit(s, i+2) && isDigit(s, i+3) {
			return true // ibanStart
		}
		return strings.HasPrefix(rest, "AKIA") || strings.HasPrefix(rest, "ASIA") || strings.HasPrefix(rest, "AIza") ||
			strings.HasPrefix(rest, "PRIVATE KEY-----")
	case c == 's':
		return strings.HasPrefix(rest, "sk-")
	case c == 'g':
		return len(rest) >= 4 && rest[1] == 'h' && rest[3] == '_' && strings.IndexByte("pousr", rest[2]) >= 0 ||
			strings.HasPrefix(rest, "github_pat_")
	case c == 'x':
		return strings.HasPrefix(rest, "xox")
	case c == 'e':
		return strings.HasPrefix(rest, "eyJ")
	}
	return false
}

func isDigit(s string, i int) bool { return i < len(s) && s[i] >= '0' && s[i] <= '9' }

const (
	classDigit   = 1 << iota // advances a digit run
	classSep                 // may separate the digits of a run
	classTrigger             // may start a candidate
	classRare                // a common lowercase letter that starts one only before secondByte
)

// secondByte holds the bytes that can follow a lowercase trigger in a key
// prefix ("sk-", "eyJ", "gh?_", "github_pat_", "xox"): 'e' and 's' are among
// the commonest letters of any text, and most need no closer look.
var secondByte = func() (t [256]bool) {
	for _, c := range "kyhio" {
		t[c] = true
	}
	return t
}()

var shapeClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = classDigit
	}
	for _, c := range " -.()" {
		t[c] |= classSep
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= classTrigger
	}
	for _, c := range "@+(" {
		t[c] |= classTrigger
	}
	for _, c := range "sgxe" {
		t[c] |= classTrigger | classRare
	}
	return t
}()
