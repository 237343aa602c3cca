package wire

import (
	"net/http"
	"testing"
)

func TestDialectOf(t *testing.T) {
	anthropicHeader := http.Header{"Anthropic-Version": {"2023-06-01"}}
	for _, tc := range []struct {
		path string
		h    http.Header
		want Dialect
	}{
		{"/v1/chat/completions", nil, OpenAI},
		{"/v1/messages", nil, Anthropic},
		{"/v1/messages/count_tokens", nil, Anthropic},
		{"/v1/models", nil, OpenAI},
		{"/v1/models", anthropicHeader, Anthropic},
		{"/openai/deployments/prod/chat/completions", nil, OpenAI},
		{"/openai/v1/responses", nil, OpenAI},
		{"/healthz", nil, ""},
		{"/v1beta/openai/chat/completions", nil, ""},
	} {
		if got := DialectOf(tc.path, tc.h); got != tc.want {
			t.Errorf("DialectOf(%s) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestAzureAsOpenAIPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/openai/deployments/prod-mini/chat/completions", "/v1/chat/completions"},
		{"/openai/deployments/e/embeddings", "/v1/embeddings"},
		{"/openai/v1/chat/completions", "/v1/chat/completions"},
		{"/openai/responses", "/v1/responses"},
		{"/v1/chat/completions", ""},
	} {
		got, ok := AzureAsOpenAIPath(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("AzureAsOpenAIPath(%s) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}
