// Package sensitive finds secrets and personal data in prompt and response
// text: API keys and tokens of common providers, private keys, JWTs,
// e-mail addresses, phone numbers, payment card numbers (Luhn-checked),
// IBANs (ISO 13616 check digits) and national ID numbers. A finding
// carries a masked excerpt — enough to recognise the kind and find it
// again, never the value itself.
//
// Each rule has a cheap prefilter, so text without any candidate (most
// LLM traffic) costs one pass of byte searches and no regular expression.
package sensitive

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Finding is one match.
type Finding struct {
	Kind    string
	Excerpt string // masked
	// Value is the text found, for a caller to redact it; it must never
	// be stored or printed.
	Value string
}

// Rule detects one kind.
type Rule struct {
	Kind string
	re   *regexp.Regexp
	// maybe reports whether text can hold a match (a substring, a digit
	// run); nil: always run the expression.
	maybe func(s string) bool
	// valid checks a match beyond its shape (checksums); nil: any match.
	valid func(m string) bool
}

func contains(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if strings.Contains(s, sub) {
				return true
			}
		}
		return false
	}
}

// digitRun reports whether s has at least n digits in a row, allowing up
// to two spaces, dashes, dots or parentheses between them (card numbers,
// IBANs, phone numbers, ID numbers are written grouped: "(415) 555-2671").
func digitRun(n int) func(string) bool {
	return func(s string) bool {
		run, seps := 0, 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c >= '0' && c <= '9':
				if run++; run >= n {
					return true
				}
				seps = 0
			case (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') && seps < 2:
				seps++
			default:
				run, seps = 0, 0
			}
		}
		return false
	}
}

// phoneStart reports whether s has what every phone shape the rule knows
// starts with: "+" or "(" before a digit, or three digits, a dash and
// three digits — and so not a dated model name ("gpt-4o-2024-08-06") in
// every response.
func phoneStart(s string) bool {
	digit := func(i int) bool { return i < len(s) && s[i] >= '0' && s[i] <= '9' }
	for i := 0; i < len(s); i++ {
		switch {
		case (s[i] == '+' || s[i] == '(') && digit(i+1):
			return true
		case digit(i) && digit(i+1) && digit(i+2) && i+3 < len(s) && s[i+3] == '-' && digit(i+4) && digit(i+5) && digit(i+6):
			return true
		}
	}
	return false
}

// ssnShape reports whether s has ddd-dd-dddd somewhere.
func ssnShape(s string) bool {
	for i := 0; i+11 <= len(s); i++ {
		if s[i+3] == '-' && s[i+6] == '-' && allDigits(s[i:i+3]) && allDigits(s[i+4:i+6]) && allDigits(s[i+7:i+11]) {
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ibanStart reports whether s has a country code and check digits (two
// capitals, two digits) — where every IBAN starts.
func ibanStart(s string) bool {
	for i := 0; i+4 <= len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' && s[i+1] >= 'A' && s[i+1] <= 'Z' && s[i+2] >= '0' && s[i+2] <= '9' && s[i+3] >= '0' && s[i+3] <= '9' {
			return true
		}
	}
	return false
}

// Defaults are the built-in rules, by kind. Key formats: AWS access key
// ids (AKIA/ASIA + 16), OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic
// (sk-ant-), GitHub (ghp_/gho_/ghu_/ghs_/ghr_ + 36, github_pat_), Slack
// (xoxb-/xoxp-/xoxa-/xoxr-/xoxs-/xoxo-), PEM private key blocks, JWTs
// (three base64url parts, the first two JSON objects: "eyJ"), Google API
// keys as Gemini takes them (AIza + 35).
func Defaults() []Rule {
	return []Rule{
		{Kind: "aws_access_key", re: regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`), maybe: contains("AKIA", "ASIA")},
		{Kind: "google_api_key", re: regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`), maybe: contains("AIza")},
		{Kind: "anthropic_api_key", re: regexp.MustCompile(`\bsk-ant-[A-Za-z0-9_-]{20,}`), maybe: contains("sk-ant-")},
		{Kind: "openai_api_key", re: regexp.MustCompile(`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`), maybe: contains("sk-"),
			valid: func(m string) bool { return !strings.HasPrefix(m, "sk-ant-") }},
		{Kind: "github_token", re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})\b`), maybe: contains("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")},
		{Kind: "slack_token", re: regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`), maybe: contains("xox")},
		{Kind: "private_key", re: regexp.MustCompile(`-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----`), maybe: contains("PRIVATE KEY-----")},
		{Kind: "jwt", re: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`), maybe: contains("eyJ")},
		{Kind: "email", re: regexp.MustCompile(`\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b`), maybe: contains("@")},
		{Kind: "credit_card", re: regexp.MustCompile(`\b(?:\d[ -]?){12,18}\d\b`), maybe: digitRun(13), valid: validCard},
		{Kind: "iban", re: regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b`), maybe: ibanStart, valid: validIBAN},
		// International numbers with a country code, and the North American
		// (NXX) NXX-XXXX shapes; 8–15 digits (E.164).
		{Kind: "phone", re: regexp.MustCompile(`(?:\+\d{1,3}[ -]?(?:\(\d{1,4}\)[ -]?)?\d{1,4}(?:[ -]\d{2,4}){1,4}|\(\d{3}\) ?\d{3}-\d{4}|\b\d{3}-\d{3}-\d{4})\b`),
			maybe: phoneStart, valid: func(m string) bool { n := digits(m); return len(n) >= 8 && len(n) <= 15 }},
		// US Social Security numbers; other national ID formats are added in
		// lessllm.yaml (sensitive.rules).
		{Kind: "national_id_us_ssn", re: regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`), maybe: ssnShape, valid: validSSN},
	}
}

// Scanner applies a set of rules. The zero value finds nothing.
type Scanner struct {
	rules  []Rule
	custom bool // a rule from the config, which has no prefilter
}

// New returns a scanner with the default rules minus disabled kinds, plus
// custom ones.
func New(disable []string, custom []Custom) (*Scanner, error) {
	s, problems := compile(disable, custom)
	if len(problems) > 0 {
		return nil, errors.New(problems[0].msg)
	}
	return s, nil
}

// problem is what compile found wrong, with the config keys it concerns.
type problem struct {
	msg  string
	keys []string
}

// compile builds the scanner New returns: the one check of the sensitive:
// settings (Config.Validate and New both use it).
func compile(disable []string, custom []Custom) (*Scanner, []problem) {
	off := map[string]bool{}
	for _, k := range disable {
		off[k] = true
	}
	s := &Scanner{}
	var known []string
	for _, r := range Defaults() {
		known = append(known, r.Kind)
		if !off[r.Kind] {
			s.rules = append(s.rules, r)
		}
	}
	var problems []problem
	for i, k := range disable {
		if !slices.Contains(known, k) {
			problems = append(problems, problem{fmt.Sprintf("sensitive.disable: unknown kind %q (the built-in kinds: %s)", k, strings.Join(known, ", ")),
				[]string{"sensitive", "disable", fmt.Sprintf("[%d]", i)}})
		}
	}
	for i, c := range custom {
		at := []string{"sensitive", "rules", fmt.Sprintf("[%d]", i)}
		if c.Kind == "" {
			problems = append(problems, problem{fmt.Sprintf("sensitive.rules[%d]: kind is required", i), at})
		}
		re, err := regexp.Compile(c.Pattern)
		if err != nil || c.Pattern == "" {
			if err == nil {
				err = errors.New("empty")
			}
			problems = append(problems, problem{fmt.Sprintf("sensitive.rules[%d] %q: pattern is not a regular expression (RE2): %v", i, c.Kind, err), append(at, "pattern")})
			continue
		}
		s.rules = append(s.rules, Rule{Kind: c.Kind, re: re})
		s.custom = true
	}
	return s, problems
}

// Maybe reports whether any rule's prefilter matches s: a caller can skip
// extracting text from a document that cannot hold a finding. It may say
// true for the shape of a disabled default rule.
func (s *Scanner) Maybe(raw string) bool {
	return len(s.rules) > 0 && (s.custom || anyShape(raw))
}

// Scan appends the findings in text to out. A span claimed by an earlier
// rule (a key inside an e-mail, a card inside a phone shape) is reported
// once, by the earlier rule.
func (s *Scanner) Scan(text string, out []Finding) []Finding {
	var taken [][2]int
	overlaps := func(a, b int) bool {
		for _, t := range taken {
			if a < t[1] && t[0] < b {
				return true
			}
		}
		return false
	}
	for _, r := range s.rules {
		if r.maybe != nil && !r.maybe(text) {
			continue
		}
		for _, loc := range r.re.FindAllStringIndex(text, -1) {
			m := text[loc[0]:loc[1]]
			if overlaps(loc[0], loc[1]) || (r.valid != nil && !r.valid(m)) {
				continue
			}
			taken = append(taken, [2]int{loc[0], loc[1]})
			out = append(out, Finding{Kind: r.Kind, Excerpt: Mask(m), Value: m})
		}
	}
	return out
}

// Mask keeps up to four characters at each end of a value (AKIA…XYZW) and
// never more than half of it (12…89 for an 11-character SSN).
func Mask(v string) string {
	n := utf8.RuneCountInString(v)
	keep := 4
	for keep > 1 && 4*keep > n {
		keep--
	}
	if n < 4 {
		return "…"
	}
	r := []rune(v)
	return string(r[:keep]) + "…" + string(r[n-keep:])
}

func digits(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// validCard: 13–19 digits, an issuer prefix in use (Visa 4, Mastercard
// 51–55 and 2221–2720, Amex 34/37, Discover 6, JCB/Diners 35/30/36/38),
// and a correct Luhn check digit — a 16-digit order number is not a card.
func validCard(m string) bool {
	d := digits(m)
	if len(d) < 13 || len(d) > 19 || !strings.ContainsAny(d[:1], "23456") {
		return false
	}
	sum := 0
	for i := 0; i < len(d); i++ {
		x := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			if x *= 2; x > 9 {
				x -= 9
			}
		}
		sum += x
	}
	return sum%10 == 0
}

// validIBAN checks ISO 13616: country, length 15–34 and the mod-97 check.
func validIBAN(m string) bool {
	s := strings.ReplaceAll(m, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	s = s[4:] + s[:4]
	rem := 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// validSSN rejects numbers the SSA never issues: area 000, 666 or 9xx,
// group 00, serial 0000.
func validSSN(m string) bool {
	d := digits(m)
	area, group, serial := d[:3], d[3:5], d[5:]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}
