package wire

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

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
	var scanner jsonscan.Scanner
	scanner.Reset(data)
	s := &scanner
	var seen fields
	it := s.Object()
	for it.Next() {
		var err error
		switch key := it.Key(); string(key) {
		case "id":
			err = strLike(s, &seen, 0, &c.ID, prev.ID)
		case "object":
			err = strLike(s, &seen, 1, &c.Object, prev.Object)
		case "created":
			err = integer(s, &seen, 2, &c.Created)
		case "model":
			err = strLike(s, &seen, 3, &c.Model, prev.Model)
		case "system_fingerprint":
			err = strLike(s, &seen, 4, &c.SystemFingerprint, prev.SystemFingerprint)
		case "usage":
			if err = seen.once(5); err == nil && !s.Null() {
				var raw []byte // once per stream: not worth a hand decoder
				if raw, err = s.Raw(); err == nil {
					c.Usage = new(openAIChatUsage)
					err = json.Unmarshal(raw, c.Usage)
				}
			}
		case "error":
			if err = seen.once(6); err == nil {
				var raw []byte
				raw, err = s.Raw()
				c.Error = append(json.RawMessage(nil), raw...)
			}
		case "choices":
			if err = seen.once(7); err == nil && !s.Null() {
				c.Choices, err = decodeList(s, decodeChoice)
			}
		default:
			err = unknown(s, key, "id", "object", "created", "model", "system_fingerprint", "usage", "error", "choices")
		}
		if err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	return s.End()
}

func decodeChoice(s *jsonscan.Scanner, ch *chunkChoice) error {
	var seen fields
	it := s.Object()
	for it.Next() {
		var err error
		switch key := it.Key(); string(key) {
		case "index":
			err = intField(s, &seen, 0, &ch.Index)
		case "text":
			err = strPtr(s, &seen, 1, &ch.Text)
		case "finish_reason":
			err = strPtr(s, &seen, 2, &ch.FinishReason)
		case "delta":
			if err = seen.once(3); err == nil && !s.Null() {
				err = decodeDelta(s, &ch.Delta)
			}
		default:
			err = unknown(s, key, "index", "text", "finish_reason", "delta")
		}
		if err != nil {
			return err
		}
	}
	return it.Err()
}

func decodeDelta(s *jsonscan.Scanner, d *chunkDelta) error {
	var seen fields
	it := s.Object()
	for it.Next() {
		var err error
		switch key := it.Key(); string(key) {
		case "role":
			err = str(s, &seen, 0, &d.Role)
		case "content":
			err = strPtr(s, &seen, 1, &d.Content)
		case "refusal":
			err = strPtr(s, &seen, 2, &d.Refusal)
		case "reasoning_content":
			err = strPtr(s, &seen, 3, &d.ReasoningContent)
		case "tool_calls":
			if err = seen.once(4); err == nil && !s.Null() {
				d.ToolCalls, err = decodeList(s, decodeToolCall)
			}
		default:
			err = unknown(s, key, "role", "content", "refusal", "reasoning_content", "tool_calls")
		}
		if err != nil {
			return err
		}
	}
	return it.Err()
}

func decodeToolCall(s *jsonscan.Scanner, tc *toolCallDelta) error {
	var seen fields
	it := s.Object()
	for it.Next() {
		var err error
		switch key := it.Key(); string(key) {
		case "index":
			err = intField(s, &seen, 0, &tc.Index)
		case "id":
			err = str(s, &seen, 1, &tc.ID)
		case "type":
			err = str(s, &seen, 2, &tc.Type)
		case "function":
			if err = seen.once(3); err == nil && !s.Null() {
				var fseen fields
				fn := s.Object()
				for fn.Next() && err == nil {
					switch key := fn.Key(); string(key) {
					case "name":
						err = str(s, &fseen, 0, &tc.Function.Name)
					case "arguments":
						err = str(s, &fseen, 1, &tc.Function.Arguments)
					default:
						err = unknown(s, key, "name", "arguments")
					}
				}
				if err == nil {
					err = fn.Err()
				}
			}
		default:
			err = unknown(s, key, "index", "id", "type", "function")
		}
		if err != nil {
			return err
		}
	}
	return it.Err()
}

// decodeList decodes an array whose elements decode reads (a new, non-nil
// slice, as encoding/json makes for an array).
func decodeList[T any](s *jsonscan.Scanner, decode func(*jsonscan.Scanner, *T) error) ([]T, error) {
	out := []T{}
	arr := s.Array()
	for arr.Next() {
		var v T
		err := decode(s, &v)
		out = append(out, v)
		if err != nil {
			return out, err
		}
	}
	return out, arr.Err()
}

// fields tracks which keys of one object were seen; a repeat is left to
// encoding/json.
type fields uint32

func (f *fields) once(i uint) error {
	if *f&(1<<i) != 0 {
		return jsonscan.ErrUnsure
	}
	*f |= 1 << i
	return nil
}

// unknown skips the value of a key the struct does not have, unless
// encoding/json's case-insensitive matching would map it to one it has.
func unknown(s *jsonscan.Scanner, key []byte, known ...string) error {
	ascii := true
	for _, c := range key {
		ascii = ascii && c < utf8.RuneSelf
	}
	for _, k := range known {
		// An ASCII key folds only to a key of its own length; others
		// (the Kelvin sign folds to k) take the full comparison.
		if (!ascii || len(k) == len(key)) && strings.EqualFold(string(key), k) {
			return jsonscan.ErrUnsure
		}
	}
	return s.Skip()
}

// str reads a string field; null leaves it unchanged, as in encoding/json.
func str(s *jsonscan.Scanner, seen *fields, i uint, dst *string) error {
	if err := seen.once(i); err != nil || s.Null() {
		return err
	}
	v, err := s.String()
	*dst = v
	return err
}

// strLike is str sharing prev's string when the value equals it.
func strLike(s *jsonscan.Scanner, seen *fields, i uint, dst *string, prev string) error {
	if err := seen.once(i); err != nil || s.Null() {
		return err
	}
	v, err := s.StringLike(prev)
	*dst = v
	return err
}

// strPtr reads a *string field; null sets it to nil.
func strPtr(s *jsonscan.Scanner, seen *fields, i uint, dst **string) error {
	if err := seen.once(i); err != nil {
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

func integer(s *jsonscan.Scanner, seen *fields, i uint, dst *int64) error {
	if err := seen.once(i); err != nil || s.Null() {
		return err
	}
	v, err := s.Int()
	*dst = v
	return err
}

func intField(s *jsonscan.Scanner, seen *fields, i uint, dst *int) error {
	v := int64(*dst)
	err := integer(s, seen, i, &v)
	*dst = int(v)
	return err
}
