package format

import (
	"crypto/sha256"
	"encoding/hex"
	"net/textproto"
	"net/url"
	"strings"
)

// SecretHeaders are always redacted (ARCHITECTURE.md §3). Callers add their own
// configured names to RedactHeader's extra list.
var SecretHeaders = []string{
	"Authorization",
	"Proxy-Authorization",
	"X-Api-Key",
	"Api-Key",
	"Cookie",
	"Set-Cookie",
	"X-Lessllm-Key",  // inbound key sent to lessllm itself
	"X-Goog-Api-Key", // Gemini
	"X-Amz-Security-Token",
}

// secretParams are query parameters that carry credentials: Gemini's
// ?key=, the api_key / token conventions of OpenAI-compatible servers, and
// presigned-URL signatures. Compared case-insensitively.
var secretParams = map[string]bool{
	"key": true, "api_key": true, "api-key": true, "apikey": true, "x-goog-api-key": true,
	"token": true, "access_token": true, "auth": true, "authorization": true,
	"password": true, "secret": true, "client_secret": true, "sig": true, "signature": true,
	"x-amz-signature": true, "x-amz-credential": true, "x-amz-security-token": true,
}

// RedactQuery returns a raw query string with the value of every
// credential parameter (secretParams) replaced by its fingerprint; the rest
// is unchanged, byte for byte.
func RedactQuery(raw string) string {
	if raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	changed := false
	for i, p := range parts {
		name, value, ok := strings.Cut(p, "=")
		if !ok || value == "" {
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil && secretParams[strings.ToLower(n)] {
			v, err := url.QueryUnescape(value)
			if err != nil {
				v = value
			}
			parts[i] = name + "=" + Fingerprint(v)
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return strings.Join(parts, "&")
}

// RedactURL returns u with its query's credentials fingerprinted
// (RedactQuery) and a password in its userinfo replaced by "xxxxx". A
// string that does not parse as a URL comes back unchanged.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	changed := false
	if q := RedactQuery(p.RawQuery); q != p.RawQuery {
		p.RawQuery, changed = q, true
	}
	if _, has := p.User.Password(); has {
		p.User, changed = url.UserPassword(p.User.Username(), "xxxxx"), true
	}
	if !changed {
		return u
	}
	return p.String()
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
// `x-api-key: K` group together. An AWS SigV4 authorization is the
// fingerprint of its access key id: the rest is a per-request signature,
// and the key id is who called.
func RedactValue(v string) string {
	if rest, ok := strings.CutPrefix(v, sigV4Prefix); ok {
		keyID, _, _ := strings.Cut(rest, "/")
		return "AWS4-HMAC-SHA256 " + Fingerprint(keyID)
	}
	if scheme, cred, ok := strings.Cut(v, " "); ok && cred != "" && isAuthScheme(scheme) {
		return scheme + " " + Fingerprint(strings.TrimSpace(cred))
	}
	return Fingerprint(v)
}

const sigV4Prefix = "AWS4-HMAC-SHA256 Credential="

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
	for _, name := range []string{"X-Api-Key", "Api-Key", "X-Goog-Api-Key", "Authorization", "X-Lessllm-Key"} {
		for _, v := range h[name] {
			if i := strings.Index(v, FingerprintPrefix); i >= 0 {
				return v[i:]
			}
		}
	}
	return ""
}

// RedactURLs applies RedactURL to every http(s) URL in a text, such as an
// error message that quotes the URL it failed on (Go's url.Error does).
func RedactURLs(text string) string {
	var b strings.Builder
	rest := text
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			break
		}
		start := i
		for start > 0 && isSchemeByte(rest[start-1]) {
			start--
		}
		end := i + 3
		for end < len(rest) && !strings.ContainsRune(" \t\r\n\"'<>`", rune(rest[end])) {
			end++
		}
		b.WriteString(rest[:start])
		b.WriteString(RedactURL(rest[start:end]))
		rest = rest[end:]
	}
	if b.Len() == 0 {
		return text
	}
	b.WriteString(rest)
	return b.String()
}

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}
