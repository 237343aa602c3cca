package capture

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"

	"github.com/lessllm/lessllm/capture/egress"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire"
)

// writeAPIError answers the client with an error in its own API's shape, so
// SDKs raise their usual exception with our message:
//   - OpenAI: {"error": {"message", "type", "param", "code"}}
//     (platform.openai.com/docs/guides/error-codes)
//   - Anthropic: {"type": "error", "error": {"type", "message"}}
//     (docs.anthropic.com/en/api/errors)
//   - Gemini: {"error": {"code", "message", "status"}}, the status a
//     google.rpc code name (ai.google.dev/gemini-api/docs/troubleshooting)
func writeAPIError(w http.ResponseWriter, dialect wire.Dialect, status int, code, msg string) {
	var body any
	switch dialect {
	case wire.Anthropic:
		body = map[string]any{"type": "error", "error": map[string]any{"type": anthropicErrorType(status), "message": msg}}
	case wire.Gemini:
		body = map[string]any{"error": map[string]any{"code": status, "message": msg, "status": wire.GeminiStatus(status)}}
	default:
		body = map[string]any{"error": map[string]any{"message": msg, "type": openAIErrorType(status), "param": nil, "code": code}}
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Lessllm-Error", code)
	w.WriteHeader(status)
	w.Write(b)
}

func anthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case http.StatusServiceUnavailable:
		return "overloaded_error"
	}
	return "api_error"
}

func openAIErrorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	case status < 500:
		return "invalid_request_error"
	}
	return "server_error"
}

// classifyUpstream names why a round trip or body read failed.
func classifyUpstream(clientCtx context.Context, idleFired bool, err error) (kind string, status int) {
	var ne net.Error
	var oe *net.OpError
	var allFailed *egress.AllFailedError
	switch {
	case clientCtx.Err() != nil:
		return format.ErrClientDisconnect, 499
	case errors.As(err, &allFailed):
		return format.ErrUpstreamConnect, http.StatusBadGateway
	case idleFired:
		return format.ErrUpstreamTimeout, http.StatusGatewayTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return format.ErrUpstreamTimeout, http.StatusGatewayTimeout
	case errors.As(err, &oe) && oe.Op == "dial":
		return format.ErrUpstreamConnect, http.StatusBadGateway
	}
	return format.ErrUpstreamBroken, http.StatusBadGateway
}
