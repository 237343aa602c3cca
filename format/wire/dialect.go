package wire

import (
	"net/http"
	"strings"
)

// Dialect is an LLM API's family of wire formats: how its requests,
// answers, streams, usage and errors are spelled. It is lessllm's one word
// for "which API is this": the record's route.dialect and
// route.upstream_dialect, the dialect columns of api_calls, capture's
// routing and translation, analysis's readers.
type Dialect string

const (
	OpenAI    Dialect = "openai"    // OpenAI's API, and every OpenAI-compatible one
	Anthropic Dialect = "anthropic" // Anthropic's Messages API
	Gemini    Dialect = "gemini"    // Google's Generative Language API (gemini.go)
	Bedrock   Dialect = "bedrock"   // Amazon Bedrock Runtime (bedrock.go)
)

// DialectOf returns the API a client speaks, by its request path, or ""
// for a path outside /v1/, /v1beta/, /v1alpha/, /openai/ and /model/.
// /v1/messages* is Anthropic's; so is /v1/models* when the client sends an
// anthropic-version header, and Gemini's when it sends x-goog-api-key
// (these APIs share that path; h is read only then: capture calls this on
// every request). /v1beta/ and /v1alpha/ paths, and
// /v1/models/{model}:{method} with one of Gemini's methods, are Gemini's.
// Every other /v1/ path is OpenAI's (and the OpenAI-compatible APIs'), and
// so is every /openai/ path: Azure OpenAI's
// (/openai/deployments/{deployment}/…, /openai/v1/…), which clients built
// for Azure send. /model/ paths are Bedrock Runtime's.
func DialectOf(path string, h http.Header) Dialect {
	switch {
	case path == "/v1/messages" || strings.HasPrefix(path, "/v1/messages/"):
		return Anthropic
	case isGeminiPath(path):
		return Gemini
	case strings.HasPrefix(path, BedrockPrefix):
		return Bedrock
	case (path == "/v1/models" || strings.HasPrefix(path, "/v1/models/")) && h.Get("Anthropic-Version") != "":
		return Anthropic
	case (path == "/v1/models" || strings.HasPrefix(path, "/v1/models/")) && h.Get("X-Goog-Api-Key") != "":
		return Gemini // Google's SDKs list models on the v1 API too
	case strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, AzurePrefix):
		return OpenAI
	}
	return ""
}

// AzurePrefix starts every Azure OpenAI API path.
const AzurePrefix = "/openai/"

// AzureAsOpenAIPath is the OpenAI path an Azure OpenAI path stands for
// (/openai/deployments/d/chat/completions and /openai/v1/chat/completions
// → /v1/chat/completions), and false for a path that is not Azure's.
func AzureAsOpenAIPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, AzurePrefix)
	if !ok {
		return "", false
	}
	if d, ok := strings.CutPrefix(rest, "deployments/"); ok {
		_, rest, _ = strings.Cut(d, "/")
	} else {
		rest = strings.TrimPrefix(rest, "v1/")
	}
	return "/v1/" + rest, true
}

// Kind is an API endpoint whose responses wire knows how to read.
type Kind int

const (
	KindUnknown           Kind = iota
	KindOpenAIChat             // POST /v1/chat/completions
	KindOpenAIResponses        // POST /v1/responses
	KindOpenAICompletions      // POST /v1/completions (legacy)
	KindOpenAIEmbeddings       // POST /v1/embeddings
	KindAnthropicMessages      // POST /v1/messages
	KindGeminiGenerate         // POST /v1beta/models/{model}:generateContent and :streamGenerateContent
	KindBedrockInvoke          // POST /model/{model}/invoke and /invoke-with-response-stream (Anthropic's models: the Messages API)
	KindBedrockConverse        // POST /model/{model}/converse and /converse-stream
)

// KindOf maps a request path to its Kind by its last segments, so that an
// upstream path under a base path ("/openai/v1/chat/completions" on a
// gateway, "/v1/chat/completions" on the API itself) is read the same way.
func KindOf(path string) Kind {
	path = strings.TrimSuffix(path, "/")
	for _, k := range []struct {
		suffix string
		kind   Kind
	}{ // chat/completions before completions: the longer suffix wins
		{"/chat/completions", KindOpenAIChat},
		{"/responses", KindOpenAIResponses},
		{"/completions", KindOpenAICompletions},
		{"/embeddings", KindOpenAIEmbeddings},
		{"/messages", KindAnthropicMessages},
		{":generateContent", KindGeminiGenerate},
		{":streamGenerateContent", KindGeminiGenerate},
		{"/invoke", KindBedrockInvoke},
		{"/invoke-with-response-stream", KindBedrockInvoke},
		{"/converse", KindBedrockConverse},
		{"/converse-stream", KindBedrockConverse},
	} {
		if strings.HasSuffix(path, k.suffix) {
			return k.kind
		}
	}
	return KindUnknown
}

// kindNames are the Kinds' names where they are stored (the cache model's
// fingerprints): stable, unlike the numbers.
var kindNames = map[Kind]string{KindOpenAIChat: "chat", KindOpenAIResponses: "responses",
	KindOpenAICompletions: "completions", KindOpenAIEmbeddings: "embeddings", KindAnthropicMessages: "messages",
	KindGeminiGenerate: "generate_content", KindBedrockInvoke: "invoke", KindBedrockConverse: "converse"}

// String is the Kind's stored name: chat, responses, completions,
// embeddings, messages, generate_content, invoke, converse, or "" for
// KindUnknown.
func (k Kind) String() string { return kindNames[k] }

// KindNamed is the Kind whose String is name (KindUnknown for any other).
func KindNamed(name string) Kind {
	for k, n := range kindNames {
		if n == name {
			return k
		}
	}
	return KindUnknown
}

// Dialect is the API family the endpoint belongs to ("" for KindUnknown).
func (k Kind) Dialect() Dialect {
	switch k {
	case KindUnknown:
		return ""
	case KindAnthropicMessages:
		return Anthropic
	case KindGeminiGenerate:
		return Gemini
	case KindBedrockInvoke, KindBedrockConverse:
		return Bedrock
	}
	return OpenAI
}

// PayloadDialect is the API whose messages the endpoint's bodies carry:
// Anthropic's for Bedrock's invoke (of Anthropic's models, the Messages
// API inside), else the endpoint's own dialect.
func (k Kind) PayloadDialect() Dialect {
	if k == KindBedrockInvoke {
		return Anthropic
	}
	return k.Dialect()
}
