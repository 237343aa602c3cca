package capture

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

const (
	inboundKeyA = "lk-team-a-3f9c1e7b5d2a8e4c6b0d" // listed as its hash
	inboundKeyB = "lk-team-b-8e2d4f6a1c9b7e3d5a0f" // listed as itself (as from ${ENV})
)

// TestInboundKeys: with inbound_keys set, a request without a valid key is
// refused in the client's API format before anything is forwarded or
// recorded; a valid key is never forwarded nor stored.
func TestInboundKeys(t *testing.T) {
	h := newHarness(t, apitest.Options{TTFT: time.Millisecond, TPOT: time.Millisecond, OutputTokens: 3}, func(c *config.File) {
		c.InboundKeys = []string{"sha256:" + config.HashKey(inboundKeyA), inboundKeyB}
	})
	post := func(headers map[string]string) (int, string) {
		status, _, body := send(t, "POST", h.inst.URL+"/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, headers)
		return status, body
	}
	for name, hdr := range map[string]map[string]string{
		"no key":                 nil,
		"a provider key instead": {"Authorization": "Bearer " + clientOpenAIKey},
		"wrong key":              {"X-Lessllm-Key": "lk-guess"},
	} {
		status, body := post(hdr)
		if status != http.StatusUnauthorized || !strings.Contains(body, `"code":"invalid_lessllm_key"`) {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	if n := len(h.sim.Received()); n != 0 {
		t.Fatalf("refused requests reached the upstream %d times", n)
	}

	// The key as the SDK's API key: the upstream gets the configured key.
	oc := openai.NewClient(option.WithBaseURL(h.inst.URL+"/v1"), option.WithAPIKey(inboundKeyA), option.WithMaxRetries(0))
	if _, err := oc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
		t.Fatal(err)
	}
	// The key beside the client's own provider key: that key goes upstream.
	if status, body := post(map[string]string{"X-Lessllm-Key": inboundKeyB, "Authorization": "Bearer " + clientOpenAIKey}); status != 200 {
		t.Fatalf("valid X-Lessllm-Key: %d %s", status, body)
	}
	got := h.sim.Received()
	if len(got) != 2 {
		t.Fatalf("upstream got %d requests, want 2", len(got))
	}
	if a := got[0].Header.Get("Authorization"); a != "Bearer "+configOpenAIKey {
		t.Errorf("key given as the API key: upstream got Authorization %q, want the configured key", a)
	}
	if a := got[1].Header.Get("Authorization"); a != "Bearer "+clientOpenAIKey {
		t.Errorf("key in X-Lessllm-Key: upstream got Authorization %q, want the client's provider key", a)
	}
	for i, r := range got {
		for k, v := range r.Header {
			if strings.Contains(strings.Join(v, " "), "lk-team-") || strings.HasPrefix(k, "X-Lessllm") {
				t.Errorf("request %d: the inbound key or an X-Lessllm header reached the upstream: %s", i, k)
			}
		}
	}
	metrics := h.metrics(t)
	recs := h.records(t)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2 (refused requests are not recorded)", len(recs))
	}
	if fp := recs[0].Request.Headers.KeyFingerprint(); fp != format.Fingerprint(inboundKeyA) {
		t.Errorf("record groups the call under %q, want the inbound key's fingerprint", fp)
	}
	h.scanForSecrets(t, metrics, inboundKeyA, inboundKeyB, clientOpenAIKey, configOpenAIKey)
}
