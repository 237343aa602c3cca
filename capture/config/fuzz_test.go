package config

import (
	"bytes"
	"regexp"
	"testing"
)

// FuzzParse: any bytes either load or fail with an error that names the
// file and a line — never a panic, never an error without a place.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"listen: 127.0.0.1:8000\n",
		"capture: { dir: ./c, flush_interval: 50ms, segment_max_bytes: 64MiB }\n",
		"providers:\n  openai: { type: openai, base_url: 'https://api.openai.com/v1', api_key: '${OPENAI_API_KEY}' }\n",
		"proxy:\n  https_proxy: http://user:secret@proxy:3128\n  no_proxy: [localhost, 10.0.0.0/8]\n  fallback: [socks5://p:1080, direct]\n",
		"models:\n  fast: { provider: openai, model: gpt-4o-mini }\n",
		"budgets:\n  - { model: gpt-4o, period: monthly, usd: 5 }\n",
		"cache:\n  providers:\n    vllm: { mode: prefix, min_tokens: 16, step: 16, ttl: 10m }\n",
		"sensitive:\n  rules:\n    - { kind: emp, pattern: 'EMP-[0-9]+' }\n",
		"inbound_keys: [sha256:00]\n",
		"listen: [\n",
		"capture:\n  dir: 5\n  queue_size: many\n",
	} {
		f.Add([]byte(seed))
	}
	placed := regexp.MustCompile(`fuzz\.yaml(:\d+)?`)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("fuzz.yaml", data)
		if err != nil && !placed.MatchString(err.Error()) {
			t.Fatalf("error without the file's name: %v", err)
		}
		// No error may depend on a proxy password: the same input with the
		// password spelled differently (same length, same letter class, so
		// yaml reads it alike) must fail with the same words. A comparison
		// instead of a search for the password, since a host or a user may
		// well be spelled like it ("user:xxxxx@:se", "secret@user:xxxxx@").
		if err != nil && bytes.Contains(data, []byte("user:secret@")) {
			_, other := Parse("fuzz.yaml", bytes.ReplaceAll(data, []byte("user:secret@"), []byte("user:zzzzzz@")))
			if other == nil || other.Error() != err.Error() {
				t.Fatalf("an error repeats a proxy password:\n%v\nwith another password:\n%v", err, other)
			}
		}
	})
}
