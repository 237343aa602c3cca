package analyze

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// Token estimation for calls whose usage the API did not report (a stream
// without stream_options.include_usage, a stream cut before its usage
// event). OpenAI models are counted with their own BPE (o200k_base for the
// gpt-4o / gpt-4.1 / gpt-5 / o-series families, cl100k_base for gpt-4,
// gpt-3.5 and the embedding models). Claude's tokenizer is not public: its
// counts are approximated by cl100k_base and then scaled by the ratio of the
// API's actual counts to cl100k counts over the Claude calls in the same
// database that do report usage (calibrate.go; README "Token estimation").
//
// Chat messages add the framing OpenAI's cookbook documents for its chat
// format ("How to count tokens with tiktoken"): 3 tokens per message and 3
// to prime the reply.

const (
	tokensPerMessage = 3
	tokensReplyPrime = 3
)

func init() { tiktoken.SetBpeLoader(tiktokenloader.NewOfflineLoader()) }

var encodings sync.Map // name → func() (*tiktoken.Tiktoken, error)

func encoding(name string) *tiktoken.Tiktoken {
	f, _ := encodings.LoadOrStore(name, sync.OnceValues(func() (*tiktoken.Tiktoken, error) {
		return tiktoken.GetEncoding(name)
	}))
	enc, err := f.(func() (*tiktoken.Tiktoken, error))()
	if err != nil {
		panic("analyze: offline BPE " + name + ": " + err.Error()) // embedded asset missing: a build defect
	}
	return enc
}

// encodingFor names the BPE used to count model's tokens.
func encodingFor(model string) string {
	m := strings.ToLower(model)
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	for _, p := range []string{"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss"} {
		if strings.HasPrefix(m, p) {
			return "o200k_base"
		}
	}
	return "cl100k_base"
}

// isClaude reports whether model is counted by approximation.
func isClaude(model string) bool { return strings.Contains(strings.ToLower(model), "claude") }

func countText(enc *tiktoken.Tiktoken, s string) int64 {
	if s == "" {
		return 0
	}
	return int64(len(encodeBounded(enc, s)))
}

// Bounds on the tokenizer's work per call (README "Token estimation"). The
// BPE merge costs the square of a piece's length, and its pre-split regex
// more than linear time in the text's length: one prompt of 2 MB of a
// single letter took over ten minutes. Text is therefore encoded in windows
// of at most windowBytes, cut just before a space that starts a word —
// where the pre-split regex ends a piece anyway, so ordinary text counts
// exactly as before. A run of longRunBytes without such a place (code
// indented with tabs, a long word, DNA, base64, a run of spaces) is cut at
// its last ASCII letter followed by ASCII punctuation other than an
// apostrophe — where cl100k's and o200k's pre-split also always ends a
// piece (a letter piece ends at the first non-letter; only a contraction,
// 's, continues one) — or, without one, every longRunBytes. Work is then
// linear in the text; only pieces longer than longRunBytes, which no BPE
// vocabulary has tokens for, may count a token differently at a cut.
const (
	windowBytes  = 2048
	longRunBytes = 128
)

// encodeBounded is enc.EncodeOrdinary(s) in bounded windows.
func encodeBounded(enc *tiktoken.Tiktoken, s string) []int {
	if len(s) <= longRunBytes {
		return enc.EncodeOrdinary(s)
	}
	var out, prevTokens []int
	prev := ""
	for len(s) > 0 {
		n := cutPoint(s)
		// A long run cuts into equal windows (padding, a repeated
		// character): each is encoded once.
		if w := s[:n]; w != prev {
			prev, prevTokens = w, enc.EncodeOrdinary(w)
		}
		out = append(out, prevTokens...)
		s = s[n:]
	}
	return out
}

// cutPoint is the length of the next window of s: all of it when short;
// else up to the last word-starting space within windowBytes, or earlier
// where a run of longRunBytes without one ends (at its last letter →
// punctuation boundary when it has one); never inside a UTF-8 sequence.
func cutPoint(s string) int {
	lastBreak, runStart, lastPunct := 0, 0, 0
	for i := 1; i < len(s); i++ {
		// Not before a line break: punctuation pieces take the line
		// breaks after them (".\n\n" is one piece).
		if s[i] == ' ' && !isSpace(s[i-1]) {
			lastBreak, runStart = i, i
		}
		if isASCIILetter(s[i-1]) && isASCIIPunct(s[i]) {
			lastPunct = i
		}
		if i-runStart >= longRunBytes {
			if lastPunct > runStart {
				return lastPunct
			}
			return runeStart(s, i)
		}
		if i >= windowBytes {
			if lastBreak > 0 {
				return lastBreak
			}
			return runeStart(s, i)
		}
	}
	return len(s)
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// isASCIIPunct: printable ASCII that is neither a letter, a digit nor a
// space, and not the apostrophe that starts a contraction.
func isASCIIPunct(c byte) bool {
	return c > ' ' && c < 0x7f && c != '\'' && !isASCIILetter(c) && (c < '0' || c > '9')
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// runeStart moves i back to the start of the UTF-8 sequence it is in.
func runeStart(s string, i int) int {
	for i > 1 && s[i]&0xC0 == 0x80 {
		i--
	}
	return i
}

// countRequest counts the prompt tokens of a request body: the text of its
// messages, system prompt, tools and input, plus per-message framing.
func countRequest(model string, body json.RawMessage) int64 {
	var req map[string]json.RawMessage
	if json.Unmarshal(body, &req) != nil {
		return 0
	}
	enc := encoding(encodingFor(model))
	var n int64
	for _, key := range []string{"messages", "input", "prompt", "system", "instructions", "tools", "functions", "systemInstruction", "contents"} {
		raw, ok := req[key]
		if !ok {
			continue
		}
		if key == "messages" || key == "contents" || (key == "input" && len(raw) > 0 && raw[0] == '[') {
			var msgs []json.RawMessage
			if json.Unmarshal(raw, &msgs) == nil {
				n += int64(len(msgs))*tokensPerMessage + tokensReplyPrime
			}
		}
		if key == "tools" || key == "functions" {
			n += countText(enc, string(raw)) // the schema as JSON: what the model is shown, near enough
			continue
		}
		n += countText(enc, textOf(raw))
	}
	return n
}

// countOutput counts the generated text of a response object (any dialect).
func countOutput(model string, resp json.RawMessage) int64 {
	var r map[string]json.RawMessage
	if json.Unmarshal(resp, &r) != nil {
		return 0
	}
	enc := encoding(encodingFor(model))
	var n int64
	for _, key := range []string{"choices", "content", "output", "candidates"} {
		if raw, ok := r[key]; ok {
			n += countText(enc, textOf(raw))
		}
	}
	return n
}

// skipKeys hold no text a model reads or writes: identifiers, roles,
// enumerations, and inline binary (base64 images and files).
var skipKeys = map[string]bool{
	"role": true, "type": true, "id": true, "tool_call_id": true, "tool_use_id": true, "index": true,
	"finish_reason": true, "stop_reason": true, "logprobs": true, "signature": true, "data": true,
	"image_url": true, "source": true, "cache_control": true, "status": true, "call_id": true,
	"finishReason": true, "thoughtSignature": true, "mimeType": true, "fileUri": true, // Gemini
}

// textOf concatenates the strings a JSON value carries for a model to read:
// strings anywhere in it except under skipKeys.
func textOf(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			// Sorted, so that a call is counted the same in every run.
			for _, k := range slices.Sorted(maps.Keys(x)) {
				if !skipKeys[k] {
					walk(x[k])
				}
			}
		}
	}
	walk(v)
	return b.String()
}
