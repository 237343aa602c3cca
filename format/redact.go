package format

import (
	"crypto/sha256"
	"encoding/hex"
	"net/textproto"
	"strings"
)

// SecretHeaders are always redacted (DESIGN.md §3). Callers add their own
// configured names to RedactHeader's extra list.
var SecretHeaders = []string{
	"Authorization",
	"Proxy-Authorization",
	"X-Api-Key",
	"Api-Key",
	"Cookie",
	"Set-Cookie",
	"X-Lessllm-Key", // inbound key sent to lessllm itself
}

// FingerprintPrefix starts every redacted value, so readers can tell a
// fingerprint from a real value and tests can grep for leaks.
const FingerprintPrefix = "fp:"

// Fingerprint returns a short non-reversible identifier of a secret: the
// first 16 hex digits of its SHA-256. Equal secrets give equal fingerprints
// on every node, so usage can be grouped per key without storing the key.
// API keys carry far more than 64 bits of entropy, so the prefix cannot be
// inverted by search; it only confirms a key one already holds.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return FingerprintPrefix + hex.EncodeToString(sum[:8])
}

// RedactValue replaces a secret header value by its fingerprint. An auth
// scheme such as "Bearer" or "Basic" is kept in front, and the fingerprint
// is of the credential alone, so `Authorization: Bearer K` and
// `x-api-key: K` group together.
func RedactValue(v string) string {
	if scheme, cred, ok := strings.Cut(v, " "); ok && cred != "" && isAuthScheme(scheme) {
		return scheme + " " + Fingerprint(strings.TrimSpace(cred))
	}
	return Fingerprint(v)
}

func isAuthScheme(s string) bool {
	switch strings.ToLower(s) {
	case "bearer", "basic", "digest", "token", "negotiate":
		return true
	}
	return false
}

// RedactHeader copies h with every secret header value replaced by its
// fingerprint. extra names more headers to treat as secret (any case).
func RedactHeader(h map[string][]string, extra []string) Header {
	if h == nil {
		return nil
	}
	out := make(Header, len(h))
	for k, vs := range h {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if isSecretHeader(ck, extra) {
			red := make([]string, len(vs))
			for i, v := range vs {
				red[i] = RedactValue(v)
			}
			out[ck] = red
			continue
		}
		out[ck] = append([]string(nil), vs...)
	}
	return out
}

func isSecretHeader(canonical string, extra []string) bool {
	for _, s := range SecretHeaders {
		if canonical == s {
			return true
		}
	}
	for _, s := range extra {
		if strings.EqualFold(canonical, s) {
			return true
		}
	}
	return false
}

// KeyFingerprint returns the fingerprint of the API key a redacted request
// carried (Authorization bearer, x-api-key or api-key, else the inbound
// key sent to lessllm itself), or "" when none.
func (h Header) KeyFingerprint() string {
	for _, name := range []string{"X-Api-Key", "Api-Key", "Authorization", "X-Lessllm-Key"} {
		for _, v := range h[name] {
			if i := strings.Index(v, FingerprintPrefix); i >= 0 {
				return v[i:]
			}
		}
	}
	return ""
}
