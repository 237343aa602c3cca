package wire

import (
	"encoding/json"
	"strings"

	"github.com/lessllm/lessllm/format/internal/jsonscan"
)

// decodeChatChunk decodes a Chat Completions stream event without
// reflection: a stream has one per token, and analysis reads millions. It
// fails on anything it is not sure of (a repeated key, a key that differs
// from a known one only in case, a malformed value), and the caller then
// uses encoding/json; where it succeeds the result is encoding/json's
// (FuzzDecodeChatChunk). Keys it does not know are skipped, as
// encoding/json ignores them.
//
// prev is the stream's previous event (may be zero): strings equal to its
// id, object, model and fingerprint are shared rather than allocated.
func decodeChatChunk(data []byte, c *chatChunk, prev *chatChunk) error {
	s := jsonscan.New(data)
	var seen uint32
	err := s.Object(func(key []byte) error {
		switch string(key) {
		case "id":
			return strLike(s, &seen, 0, &c.ID, prev.ID)
		case "object":
			return strLike(s, &seen, 1, &c.Object, prev.Object)
		case "created":
			return integer(s, &seen, 2, &c.Created)
		case "model":
			return strLike(s, &seen, 3, &c.Model, prev.Model)
		case "system_fingerprint":
			return strLike(s, &seen, 4, &c.SystemFingerprint, prev.SystemFingerprint)
		case "usage":
			if err := once(&seen, 5); err != nil || s.Null() {
				return err
			}
			raw, err := s.Raw() // once per stream: not worth a hand decoder
			if err != nil {
				return err
			}
			c.Usage = new(openAIChatUsage)
			return json.Unmarshal(raw, c.Usage)
		case "error":
			if err := once(&seen, 6); err != nil {
				return err
			}
			raw, err := s.Raw()
			c.Error = append(json.RawMessage(nil), raw...)
			return err
		case "choices":
			if err := once(&seen, 7); err != nil || s.Null() {
				return err
			}
			c.Choices = []chunkChoice{}
			return s.Array(func() error {
				var ch chunkChoice
				err := decodeChoice(s, &ch)
				c.Choices = append(c.Choices, ch)
				return err
			})
		}
		return unknown(s, key, "id", "object", "created", "model", "system_fingerprint", "usage", "error", "choices")
	})
	if err != nil {
		return err
	}
	return s.End()
}

func decodeChoice(s *jsonscan.Scanner, ch *chunkChoice) error {
	var seen uint32
	return s.Object(func(key []byte) error {
		switch string(key) {
		case "index":
			return intField(s, &seen, 0, &ch.Index)
		case "text":
			return strPtr(s, &seen, 1, &ch.Text)
		case "finish_reason":
			return strPtr(s, &seen, 2, &ch.FinishReason)
		case "delta":
			if err := once(&seen, 3); err != nil || s.Null() {
				return err
			}
			return decodeDelta(s, &ch.Delta)
		}
		return unknown(s, key, "index", "text", "finish_reason", "delta")
	})
}

func decodeDelta(s *jsonscan.Scanner, d *chunkDelta) error {
	var seen uint32
	return s.Object(func(key []byte) error {
		switch string(key) {
		case "role":
			return str(s, &seen, 0, &d.Role)
		case "content":
			return strPtr(s, &seen, 1, &d.Content)
		case "refusal":
			return strPtr(s, &seen, 2, &d.Refusal)
		case "reasoning_content":
			return strPtr(s, &seen, 3, &d.ReasoningContent)
		case "tool_calls":
			if err := once(&seen, 4); err != nil || s.Null() {
				return err
			}
			d.ToolCalls = []toolCallDelta{}
			return s.Array(func() error {
				var tc toolCallDelta
				err := decodeToolCall(s, &tc)
				d.ToolCalls = append(d.ToolCalls, tc)
				return err
			})
		}
		return unknown(s, key, "role", "content", "refusal", "reasoning_content", "tool_calls")
	})
}

func decodeToolCall(s *jsonscan.Scanner, tc *toolCallDelta) error {
	var seen uint32
	return s.Object(func(key []byte) error {
		switch string(key) {
		case "index":
			return intField(s, &seen, 0, &tc.Index)
		case "id":
			return str(s, &seen, 1, &tc.ID)
		case "type":
			return str(s, &seen, 2, &tc.Type)
		case "function":
			if err := once(&seen, 3); err != nil || s.Null() {
				return err
			}
			var fseen uint32
			return s.Object(func(key []byte) error {
				switch string(key) {
				case "name":
					return str(s, &fseen, 0, &tc.Function.Name)
				case "arguments":
					return str(s, &fseen, 1, &tc.Function.Arguments)
				}
				return unknown(s, key, "name", "arguments")
			})
		}
		return unknown(s, key, "index", "id", "type", "function")
	})
}

// once marks field i seen; a repeat is left to encoding/json.
func once(seen *uint32, i uint) error {
	if *seen&(1<<i) != 0 {
		return jsonscan.ErrUnsure
	}
	*seen |= 1 << i
	return nil
}

// unknown skips the value of a key the struct does not have, unless
// encoding/json's case-insensitive matching would map it to one it has.
func unknown(s *jsonscan.Scanner, key []byte, known ...string) error {
	for _, k := range known {
		if strings.EqualFold(string(key), k) {
			return jsonscan.ErrUnsure
		}
	}
	return s.Skip()
}

// str reads a string field; null leaves it unchanged, as in encoding/json.
func str(s *jsonscan.Scanner, seen *uint32, i uint, dst *string) error {
	if err := once(seen, i); err != nil || s.Null() {
		return err
	}
	v, err := s.String()
	*dst = v
	return err
}

// strLike is str sharing prev's string when the value equals it.
func strLike(s *jsonscan.Scanner, seen *uint32, i uint, dst *string, prev string) error {
	if err := once(seen, i); err != nil || s.Null() {
		return err
	}
	v, err := s.StringLike(prev)
	*dst = v
	return err
}

// strPtr reads a *string field; null sets it to nil.
func strPtr(s *jsonscan.Scanner, seen *uint32, i uint, dst **string) error {
	if err := once(seen, i); err != nil {
		return err
	}
	if s.Null() {
		*dst = nil
		return nil
	}
	v, err := s.String()
	*dst = &v
	return err
}

func integer(s *jsonscan.Scanner, seen *uint32, i uint, dst *int64) error {
	if err := once(seen, i); err != nil || s.Null() {
		return err
	}
	v, err := s.Int()
	*dst = v
	return err
}

func intField(s *jsonscan.Scanner, seen *uint32, i uint, dst *int) error {
	var v int64 = int64(*dst)
	err := integer(s, seen, i, &v)
	*dst = int(v)
	return err
}
