package sensitive

import (
	"strings"
	"testing"
)

// FuzzScan: any text scans without a panic, every finding is a real
// substring of it, and no excerpt of a value of 8 or more characters
// shows that value.
func FuzzScan(f *testing.F) {
	for _, seed := range []string{
		"card 4111 1111 1111 1111 and jane.doe@example.com",
		"AKIAIOSFODNN7EXAMPLE sk-proj-Ab3dEfGh1jKlMnOpQrStUvWx",
		"+44 20 7946 0958 / (415) 555-2671 / 078-05-1120",
		"DE89 3704 0044 0532 0130 00 -----BEGIN RSA PRIVATE KEY-----",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "é€@ü.de", "",
	} {
		f.Add(seed)
	}
	s, _ := New(nil, nil)
	f.Fuzz(func(t *testing.T, text string) {
		for _, fd := range s.Scan(text, nil) {
			if !strings.Contains(text, fd.Value) {
				t.Fatalf("%s %q is not in the text", fd.Kind, fd.Value)
			}
			if len(fd.Value) >= 8 && strings.Contains(fd.Excerpt, fd.Value) {
				t.Fatalf("excerpt %q shows %q", fd.Excerpt, fd.Value)
			}
		}
	})
}

// FuzzAnyShape: the one-pass prefilter says true exactly when one of the
// default rules' own prefilters does.
func FuzzAnyShape(f *testing.F) {
	for _, seed := range []string{
		"plain words with no candidate at all, and some punctuation: yes.", "4111 1111 1111 1111", "12 34 56 78 90 12 3",
		"1  2345678901234", "(415) 555-2671", "+1", "415-555-2671", "078-05-1120", "078-05-112", "DE89", "De89",
		"AKIA", "ASIA", "sk-", "sk-ant-", "ghp_", "gho_", "ghx_", "github_pat_", "xox", "-----BEGIN PRIVATE KEY-----",
		"eyJ", "a@b", `{"created":1793534400,"model":"gpt-4o-mini-2024-07-18"}`,
	} {
		f.Add(seed)
	}
	rules := Defaults()
	f.Fuzz(func(t *testing.T, s string) {
		want := false
		for _, r := range rules {
			want = want || r.maybe(s)
		}
		if got := anyShape(s); got != want {
			t.Fatalf("anyShape(%q) = %v, the rules' prefilters say %v", s, got, want)
		}
	})
}
