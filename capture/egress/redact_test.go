package egress

import "testing"

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:s3cret@proxy:3128":   "http://user:xxxxx@proxy:3128",
		"socks5://u:p%40ss@10.0.0.1:1080": "socks5://u:xxxxx@10.0.0.1:1080",
		"http://proxy:3128":               "http://proxy:3128",
		"user:secret@":                    "user:xxxxx@",
		"user:secret@proxy:3128":          "user:xxxxx@proxy:3128",
		"ht!tp://user:pa:ss@host":         "ht!tp://user:xxxxx@host",
		"direct":                          "direct",
		"user@host":                       "user@host",
		"00@://":                          "00@://",           // a scheme after the @ (panicked: found by FuzzParse)
		"u:p@host://x":                    "u:xxxxx@host://x", // the same, with a password before it
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
