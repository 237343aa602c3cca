package wire

import (
	"strings"

	"github.com/lessllm/lessllm/format/internal/jsonscan"
)

// The fast path for the Chat Completions event that makes up almost all of
// a stream — one choice, a content (or refusal, or reasoning) delta, the
// stream's unchanged id, model and fingerprint — applied straight to the
// stream's state with no intermediate struct and no allocation. Anything
// else (the first event, tool calls, usage, an error, a key it does not
// know, a changed id) returns false before touching the state, and the
// event goes the general way (decodeChatChunk). FuzzChatFastPath holds the
// two ways to the same result.

// maxFastChoices bounds the choices of one event the fast path takes (n > 1
// requests are rare).
const maxFastChoices = 4

type fastChoice struct {
	index     int
	role      []byte
	text      [3][2]int // content, refusal, reasoning_content: [start, end) in scratch; start < 0: absent
	at        [3][2]int // the same strings' [quote, after closing quote) in the event's bytes
	keys      int       // keys of the delta
	finish    []byte
	hasFinish bool
}

// eventTemplate is the quickest way through a stream: consecutive content
// events are byte for byte the same except for the text — same id,
// created, model, fingerprint, choice and nulls. After the fast path has
// parsed such an event whole, head is its bytes up to the text's opening
// quote and tail its bytes after the closing quote. An event that starts
// with head, then holds one valid JSON string, then ends with exactly tail
// has the same structure and the same values as the parsed one except for
// that string (a string token delimits itself), so its text is applied
// with one memcmp of each end instead of a walk over every key.
// FuzzChatFastPath holds it to the general path too.
type eventTemplate struct {
	head, tail  []byte
	index, kind int // the choice and which text (content, refusal, reasoning)
	ok          bool
}

func (t *eventTemplate) forget() { t.ok = false }

// templateEvent applies data through the template if it fits.
func (o *openAIChatStream) templateEvent(data []byte, t int64) bool {
	tp := &o.tmpl
	if !tp.ok || len(data) < len(tp.head)+2+len(tp.tail) || string(data[:len(tp.head)]) != string(tp.head) {
		return false
	}
	var sc jsonscan.Scanner
	sc.Reset(data[len(tp.head):])
	text, err := sc.AppendString(o.scratch[:0])
	o.scratch = text
	if err != nil || sc.Remaining() != len(tp.tail) || string(data[len(data)-len(tp.tail):]) != string(tp.tail) {
		return false
	}
	if len(text) > 0 {
		cc := o.choices[tp.index]
		[3]*strings.Builder{&cc.Content, &cc.Refusal, &cc.Reasoning}[tp.kind].Write(text)
		o.s.content(t)
	}
	return true
}

// remember makes data the template when it is a plain one-text event.
func (o *openAIChatStream) remember(data []byte, n int, ch *fastChoice) {
	o.tmpl.ok = false
	if n != 1 || len(ch.role) > 0 || ch.hasFinish || ch.keys != 1 {
		return
	}
	for k, at := range ch.at {
		if at[0] < 0 {
			continue
		}
		o.tmpl = eventTemplate{head: append(o.tmpl.head[:0], data[:at[0]]...), tail: append(o.tmpl.tail[:0], data[at[1]:]...),
			index: ch.index, kind: k, ok: true}
		return
	}
}

// fastEvent applies ev if it is a plain content event; see above.
func (o *openAIChatStream) fastEvent(data []byte, t int64) bool {
	if o.s.ID == "" || o.choices == nil || o.text {
		return false // the first event sets the stream's identity: general path
	}
	var sc jsonscan.Scanner
	sc.Reset(data)
	s := &sc
	o.scratch = o.scratch[:0]
	var choices [maxFastChoices]fastChoice
	n := 0
	var seen jsonscan.Fields
	it := s.Object()
	for it.Next() {
		ok := true
		switch string(it.Key()) {
		case "id":
			ok = seen.Once(0) == nil && sameString(s, o.s.ID)
		case "object":
			ok = seen.Once(1) == nil && sameString(s, o.object)
		case "model":
			ok = seen.Once(2) == nil && sameString(s, o.s.Model)
		case "system_fingerprint":
			ok = seen.Once(3) == nil && sameString(s, o.fp)
		case "created":
			_, err := s.Int()
			ok = seen.Once(4) == nil && err == nil
		case "service_tier", "obfuscation":
			_, ok = s.PlainString()
		case "usage":
			ok = seen.Once(5) == nil && s.Null()
		case "choices":
			ok = seen.Once(6) == nil
			arr := s.Array()
			for ok && arr.Next() {
				if n == maxFastChoices {
					return false
				}
				ok = o.fastChoice(s, &choices[n])
				n++
			}
			ok = ok && arr.Err() == nil
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	if it.Err() != nil || s.End() != nil || seen&(1<<6) == 0 {
		return false
	}
	for i := range n {
		if o.choices[choices[i].index] == nil {
			return false // a new choice index: rare, the general way creates it
		}
	}
	// Parsed whole: apply.
	generated := false
	for i := range n {
		ch := &choices[i]
		cc := o.choices[ch.index]
		if len(ch.role) > 0 && cc.Role != string(ch.role) {
			cc.Role = string(ch.role)
		}
		for k, b := range [3]*strings.Builder{&cc.Content, &cc.Refusal, &cc.Reasoning} {
			if r := ch.text[k]; r[0] >= 0 && r[1] > r[0] {
				b.Write(o.scratch[r[0]:r[1]])
				generated = true
			}
		}
		if ch.hasFinish && len(ch.finish) > 0 {
			cc.FinishReason = string(ch.finish)
			o.s.FinishReason = cc.FinishReason
		}
	}
	if generated {
		o.s.content(t)
	}
	o.remember(data, n, &choices[0])
	return true
}

// fastChoice reads one choice of a plain content event.
func (o *openAIChatStream) fastChoice(s *jsonscan.Scanner, ch *fastChoice) bool {
	ch.text = [3][2]int{{-1, -1}, {-1, -1}, {-1, -1}}
	ch.at = ch.text
	var seen jsonscan.Fields
	it := s.Object()
	for it.Next() {
		ok := true
		switch string(it.Key()) {
		case "index":
			v, err := s.Int()
			ch.index, ok = int(v), seen.Once(0) == nil && err == nil
		case "logprobs":
			ok = seen.Once(1) == nil && s.Null()
		case "finish_reason":
			ok = seen.Once(2) == nil
			if ok && !s.Null() {
				ch.finish, ok = s.PlainString()
				ch.hasFinish = ok
			}
		case "delta":
			ok = seen.Once(3) == nil && o.fastDelta(s, ch)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	return it.Err() == nil && seen&(1<<3) != 0
}

func (o *openAIChatStream) fastDelta(s *jsonscan.Scanner, ch *fastChoice) bool {
	var seen jsonscan.Fields
	it := s.Object()
	for it.Next() {
		ch.keys++
		k := -1
		switch string(it.Key()) {
		case "role":
			if seen.Once(0) != nil {
				return false
			}
			var ok bool
			if ch.role, ok = s.PlainString(); !ok {
				return false
			}
			continue
		case "content":
			k = 0
		case "refusal":
			k = 1
		case "reasoning_content":
			k = 2
		default:
			return false
		}
		if seen.Once(uint(k+1)) != nil {
			return false
		}
		if s.Null() {
			continue
		}
		start, quote := len(o.scratch), s.Pos()
		var err error
		if o.scratch, err = s.AppendString(o.scratch); err != nil {
			return false
		}
		ch.text[k] = [2]int{start, len(o.scratch)}
		ch.at[k] = [2]int{quote, s.Pos()}
	}
	return it.Err() == nil
}

// sameString consumes a string value and reports whether it equals want
// without escapes (an escaped one is left to the general path).
func sameString(s *jsonscan.Scanner, want string) bool {
	v, ok := s.PlainString()
	return ok && string(v) == want
}
