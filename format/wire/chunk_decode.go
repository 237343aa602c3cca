package wire

import (
	"encoding/json"

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
	var seen jsonscan.Fields
	it := s.Object()
	for it.Next() {
		var err error
		switch key := it.Key(); string(key) {
		case "id":
			err = s.StringLikeField(&seen, 0, &c.ID, prev.ID)
		case "object":
			err = s.StringLikeField(&seen, 1, &c.Object, prev.Object)
		case "created":
			err = s.IntField(&seen, 2, &c.Created)
		case "model":
			err = s.StringLikeField(&seen, 3, &c.Model, prev.Model)
		case "system_fingerprint":
			err = s.StringLikeField(&seen, 4, &c.SystemFingerprint, prev.SystemFingerprint)
		case "usage":
			if err = seen.Once(5); err == nil && !s.Null() {
				var raw []byte // once per stream: not worth a hand decoder
				if raw, err = s.Raw(); err == nil {
					c.Usage = new(openAIChatUsage)
					err = json.Unmarshal(raw, c.Usage)
				}
			}
		case "error":
			if err = seen.Once(6); err == nil {
				var raw []byte
				raw, err = s.Raw()
				c.Error = append(json.RawMessage(nil), raw...)
			}
		case "choices":
			if err = seen.Once(7); err == nil && !s.Null() {
				c.Choices, err = decodeList(s, decodeChoice)
			}
		default:
			err = s.Unknown(key, "id", "object", "created", "model", "system_fingerprint", "usage", "error", "choices")
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
	var seen jsonscan.Fields
	it := s.Object()
	for it.Next() {
		var err error
		switch key := it.Key(); string(key) {
		case "index":
			err = intField(s, &seen, 0, &ch.Index)
		case "text":
			err = s.StringPtrField(&seen, 1, &ch.Text)
		case "finish_reason":
			err = s.StringPtrField(&seen, 2, &ch.FinishReason)
		case "delta":
			if err = seen.Once(3); err == nil && !s.Null() {
				err = decodeDelta(s, &ch.Delta)
			}
		default:
			err = s.Unknown(key, "index", "text", "finish_reason", "delta")
		}
		if err != nil {
			return err
		}
	}
	return it.Err()
}

func decodeDelta(s *jsonscan.Scanner, d *chunkDelta) error {
	var seen jsonscan.Fields
	it := s.Object()
	for it.Next() {
		var err error
		switch key := it.Key(); string(key) {
		case "role":
			err = s.StringField(&seen, 0, &d.Role)
		case "content":
			err = s.StringPtrField(&seen, 1, &d.Content)
		case "refusal":
			err = s.StringPtrField(&seen, 2, &d.Refusal)
		case "reasoning_content":
			err = s.StringPtrField(&seen, 3, &d.ReasoningContent)
		case "tool_calls":
			if err = seen.Once(4); err == nil && !s.Null() {
				d.ToolCalls, err = decodeList(s, decodeToolCall)
			}
		default:
			err = s.Unknown(key, "role", "content", "refusal", "reasoning_content", "tool_calls")
		}
		if err != nil {
			return err
		}
	}
	return it.Err()
}

func decodeToolCall(s *jsonscan.Scanner, tc *toolCallDelta) error {
	var seen jsonscan.Fields
	it := s.Object()
	for it.Next() {
		var err error
		switch key := it.Key(); string(key) {
		case "index":
			err = intField(s, &seen, 0, &tc.Index)
		case "id":
			err = s.StringField(&seen, 1, &tc.ID)
		case "type":
			err = s.StringField(&seen, 2, &tc.Type)
		case "function":
			if err = seen.Once(3); err == nil && !s.Null() {
				var fseen jsonscan.Fields
				fn := s.Object()
				for fn.Next() && err == nil {
					switch key := fn.Key(); string(key) {
					case "name":
						err = s.StringField(&fseen, 0, &tc.Function.Name)
					case "arguments":
						err = s.StringField(&fseen, 1, &tc.Function.Arguments)
					default:
						err = s.Unknown(key, "name", "arguments")
					}
				}
				if err == nil {
					err = fn.Err()
				}
			}
		default:
			err = s.Unknown(key, "index", "id", "type", "function")
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

// intField is IntField for an int.
func intField(s *jsonscan.Scanner, seen *jsonscan.Fields, i uint, dst *int) error {
	v := int64(*dst)
	err := s.IntField(seen, i, &v)
	*dst = int(v)
	return err
}
