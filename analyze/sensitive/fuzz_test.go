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
