package sensitive

import (
	"strings"
	"testing"
)

// TestDetectors: for each kind, values that must be found and look-alikes
// that must not.
func TestDetectors(t *testing.T) {
	cases := []struct {
		kind      string
		positives []string
		negatives []string
	}{
		{"aws_access_key", []string{"AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"},
			[]string{"AKIA-short", "XAKIAIOSFODNN7EXAMPLEX", "akiaiosfodnn7example"}},
		{"openai_api_key", []string{"sk-proj-Ab3dEfGh1jKlMnOpQrStUvWx", "sk-9f8e7d6c5b4a39281706f5e4d3c2b1a0"},
			[]string{"sk-short", "task-Ab3dEfGh1jKlMnOpQrStUvWx", "disk-partition"}},
		{"anthropic_api_key", []string{"sk-ant-api03-Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG"},
			[]string{"sk-ant-short"}},
		{"github_token", []string{"ghp_1234567890abcdefghijABCDEFGHIJ123456", "github_pat_11ABCDEFG0123456789_abcdefghij"},
			[]string{"ghp_tooShort123", "the ghp_ prefix"}},
		{"slack_token", []string{"xoxb-123456789012-abcdefABCDEF"},
			[]string{"xoxo is hugs and kisses", "xoxz-123456789012-abcdef"}},
		{"private_key", []string{"-----BEGIN RSA PRIVATE KEY-----\nMIIEow", "-----BEGIN PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----"},
			[]string{"-----BEGIN PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----"}},
		{"jwt", []string{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"},
			[]string{"eyJhbGciOiJIUzI1NiJ9 alone", "eyJ.eyJ.abc"}},
		{"email", []string{"jane.doe@example.com", "ops+alerts@mail.corp.example.org"},
			[]string{"@handle", "user@localhost", "a@b.c"}},
		{"credit_card", []string{"4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "4012888888881881"},
			[]string{"4111 1111 1111 1112", "Order 1234567812345678", "0000000000000000", "9111111111111111"}},
		{"iban", []string{"DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606"},
			[]string{"DE89 3704 0044 0532 0130 01", "GB82WEST12345698765431", "XX00 1234"}},
		{"phone", []string{"+1 415 555 2671", "+44 20 7946 0958", "(415) 555-2671", "415-555-2671", "+49 (30) 123 4567"},
			[]string{"2026-11-25", "192.168.100.200", "call 555-2671", "version 1.2.3.4", "+1 2"}},
		{"national_id_us_ssn", []string{"078-05-1120", "123-45-6789"},
			[]string{"000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000", "2026-11-25"}},
	}
	s, err := New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			for _, p := range tc.positives {
				found := s.Scan("before "+p+" after", nil)
				if !hasKind(found, tc.kind) {
					t.Errorf("%q: not found as %s (found %v)", p, tc.kind, found)
				}
				for _, f := range found {
					if strings.Contains(f.Excerpt, p) || len(f.Excerpt) >= len(p) {
						t.Errorf("%q: excerpt %q shows the value", p, f.Excerpt)
					}
				}
			}
			for _, n := range tc.negatives {
				if found := s.Scan("before "+n+" after", nil); hasKind(found, tc.kind) {
					t.Errorf("look-alike %q reported as %s", n, tc.kind)
				}
			}
		})
	}
}

func hasKind(fs []Finding, kind string) bool {
	for _, f := range fs {
		if f.Kind == kind {
			return true
		}
	}
	return false
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"AKIAIOSFODNN7EXAMPLE": "AKIA…MPLE",
		"078-05-1120":          "07…20",
		"jane@ex.io":           "ja…io",
		"abc":                  "…",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfig(t *testing.T) {
	s, err := New([]string{"phone"}, []Custom{{Kind: "employee_id", Pattern: `EMP-[0-9]{6}`}})
	if err != nil {
		t.Fatal(err)
	}
	found := s.Scan("call +1 415 555 2671 about EMP-004211", nil)
	if hasKind(found, "phone") || !hasKind(found, "employee_id") {
		t.Fatalf("disabled phone, added employee_id: %v", found)
	}
	if _, err := New([]string{"fone"}, nil); err == nil || !strings.Contains(err.Error(), `"fone"`) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := New(nil, []Custom{{Kind: "x", Pattern: "("}}); err == nil {
		t.Fatal("bad pattern accepted")
	}
}

func TestPrefilterSkipsPlainText(t *testing.T) {
	s, _ := New(nil, nil)
	// Prose, and the strings every API response carries: ids, dated model
	// names, fingerprints.
	plain := strings.Repeat("at steady pace through proxies caches and networks measuring latency ", 100) +
		"chatcmpl-VMWXocEBilPB6hyWTFeudNmbuRTZ7 gpt-4o-mini-2024-07-18 claude-sonnet-4-20250514 fp_560af6e559 msg_01XFDUDYJgAACzvnptvVoYEL"
	for _, r := range s.rules {
		if r.maybe == nil || r.maybe(plain) {
			t.Errorf("%s: prefilter passes plain prose", r.Kind)
		}
	}
}

func BenchmarkScanPlain(b *testing.B) {
	s, _ := New(nil, nil)
	text := strings.Repeat("at steady pace through proxies caches and networks measuring latency ", 100)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		s.Scan(text, nil)
	}
}

// BenchmarkMaybePlain is the prefilter pass every request and response
// meets: plain English with punctuation and numbers, no candidate.
func BenchmarkMaybePlain(b *testing.B) {
	s, _ := New(nil, nil)
	text := strings.Repeat(`{"role":"assistant","content":"Sure, these steps explain the setup; expect 3 messages per second. `, 30)
	if s.Maybe(text) {
		b.Fatal("the benchmark text has a candidate")
	}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		s.Maybe(text)
	}
}
