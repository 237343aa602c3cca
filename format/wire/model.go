package wire

import (
	"bytes"
	"encoding/json"

	"github.com/lessllm/lessllm/format/internal/jsonscan"
)

// RequestModel returns the "model" of a request body as routing reads it:
// what json.Unmarshal sets a struct{ Model string `json:"model"` } to, or
// "" when Unmarshal fails (not JSON, not an object, a model that is not a
// string). Every routed request asks this before it is forwarded, so the
// usual body — an object with plain keys — is read by its bytes; anything
// else goes to encoding/json. FuzzRequestModel holds the two ways to the
// same answer.
func RequestModel(body []byte) string {
	if m, ok := requestModelFast(body); ok {
		return m
	}
	var peek struct {
		Model string `json:"model"`
	}
	if json.Unmarshal(body, &peek) != nil {
		return ""
	}
	return peek.Model
}

// requestModelFast is RequestModel's fast way: false when it is not sure.
func requestModelFast(body []byte) (string, bool) {
	var s jsonscan.Scanner
	s.Reset(body)
	model := ""
	it := s.Object()
	for it.Next() {
		// Keys are plain ASCII here (Next declines others), so encoding/
		// json's case-insensitive match is EqualFold; the last match wins,
		// and null leaves the field as it was.
		if !bytes.EqualFold(it.Key(), []byte("model")) {
			if s.Skip() != nil {
				return "", false
			}
			continue
		}
		if s.Null() {
			continue
		}
		m, err := s.String()
		if err != nil {
			return "", false
		}
		model = m
	}
	if it.Err() != nil || s.End() != nil {
		return "", false
	}
	return model, true
}

// IncludeUsage reports whether an OpenAI Chat Completions request asks for
// usage in its stream (stream_options.include_usage), as the translation
// of an Anthropic stream for that client must know: what json.Unmarshal
// sets the field of a struct of that shape to, its error ignored. The usual
// body is read by its bytes, like RequestModel's; FuzzIncludeUsage holds
// the two ways to the same answer.
func IncludeUsage(body []byte) bool {
	if v, ok := includeUsageFast(body); ok {
		return v
	}
	var req struct {
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	_ = json.Unmarshal(body, &req)
	return req.StreamOptions.IncludeUsage
}

// includeUsageFast is IncludeUsage's fast way: false when it is not sure.
// encoding/json decodes a repeated stream_options into the same struct, so
// a later object without include_usage keeps the earlier value: one
// variable, set where a value is met, models that.
func includeUsageFast(body []byte) (v, ok bool) {
	var s jsonscan.Scanner
	s.Reset(body)
	it := s.Object()
	for it.Next() {
		if !bytes.EqualFold(it.Key(), []byte("stream_options")) {
			if s.Skip() != nil {
				return false, false
			}
			continue
		}
		if s.Null() {
			continue
		}
		opts := s.Object()
		for opts.Next() {
			if !bytes.EqualFold(opts.Key(), []byte("include_usage")) {
				if s.Skip() != nil {
					return false, false
				}
				continue
			}
			if s.Null() {
				continue
			}
			b, err := s.Bool()
			if err != nil {
				return false, false
			}
			v = b
		}
		if opts.Err() != nil {
			return false, false
		}
	}
	if it.Err() != nil || s.End() != nil {
		return false, false
	}
	return v, true
}
