package wire

import (
	"os"
	"reflect"
	"testing"
)

type flatEvent struct {
	Name, Data, ID string
	T              int64
}

func parseAll(chunks ...string) ([]flatEvent, bool) {
	var p SSEParser
	var out []flatEvent
	for i, c := range chunks {
		p.Feed(int64(i), []byte(c), func(e Event) { out = append(out, flatEvent{e.Name, string(e.Data), e.ID, e.T}) })
	}
	return out, p.Pending()
}

func TestSSEParser(t *testing.T) {
	for _, tc := range []struct {
		name    string
		chunks  []string
		want    []flatEvent
		pending bool
	}{
		{"lf", []string{"data: a\n\n"}, []flatEvent{{"", "a", "", 0}}, false},
		{"crlf", []string{"event: x\r\ndata: a\r\n\r\n"}, []flatEvent{{"x", "a", "", 0}}, false},
		{"cr", []string{"data: a\r\rdata: b\r\r"}, []flatEvent{{"", "a", "", 0}, {"", "b", "", 0}}, false},
		{"crlf_split_between_chunks", []string{"data: a\r", "\n\r", "\n"}, []flatEvent{{"", "a", "", 1}}, false}, // a lone CR already ends the blank line
		{"multi_line_data", []string{"data: a\ndata:b\ndata:  c\n\n"}, []flatEvent{{"", "a\nb\n c", "", 0}}, false},
		{"comment_and_unknown_field", []string{": keep-alive\nretry: 10\nfoo\ndata: x\n\n"}, []flatEvent{{"", "x", "", 0}}, false},
		{"event_without_data_is_dropped", []string{"event: ping\n\n"}, nil, false},
		{"id", []string{"id: 7\ndata: x\n\n"}, []flatEvent{{"", "x", "7", 0}}, false},
		{"completed_by_later_chunk", []string{"data: {\"a\"", ":1}\n", "\n"}, []flatEvent{{"", `{"a":1}`, "", 2}}, false},
		{"cut_mid_event", []string{"data: a\n\ndata: b\n"}, []flatEvent{{"", "a", "", 0}}, true},
		{"cut_mid_line", []string{"data: a\n\ndata: b"}, []flatEvent{{"", "a", "", 0}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, pending := parseAll(tc.chunks...)
			if !reflect.DeepEqual(got, tc.want) || pending != tc.pending {
				t.Fatalf("got %+v (pending %v), want %+v (pending %v)", got, pending, tc.want, tc.pending)
			}
		})
	}
}

// TestSSESplitAnywhere: a real stream cut into chunks at any byte gives the
// same events as the whole body.
func TestSSESplitAnywhere(t *testing.T) {
	body, err := os.ReadFile(recorded("llm-anthropic__test_stream_events_thinking.sse"))
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := parseAll(string(body))
	if len(whole) < 10 {
		t.Fatalf("only %d events in the fixture", len(whole))
	}
	for cut := 1; cut < len(body); cut++ {
		got, pending := parseAll(string(body[:cut]), string(body[cut:]))
		for i := range got {
			got[i].T = 0
		}
		if pending || !reflect.DeepEqual(got, whole) {
			t.Fatalf("split at %d: %d events, pending %v", cut, len(got), pending)
		}
	}
}

func FuzzSSEParser(f *testing.F) {
	body, _ := os.ReadFile(recorded("llm-anthropic__test_stream_events_text.sse"))
	f.Add(body, 17)
	f.Add([]byte("data: a\r\n\r\ndata: b\r\r"), 3)
	f.Add([]byte("data: {\"a\":1}\n\ndata:{\"b\":2}\n\n"), 14)
	f.Add([]byte("id: 4\n\ndata: x\n\nevent: e\ndata: y\n\n"), 7)
	f.Add([]byte("data: x\r\n\ndata: y\n\n"), 9)
	f.Add([]byte("data:  {\"a\":1}\n\n"), 0)
	f.Add([]byte("event: content_block_delta\ndata: {\"a\":1}\n\n"), 0) // one whole named event
	f.Add([]byte("event:e\r\ndata: y\n\n"), 0)
	f.Add([]byte("event: e\nid: 1\ndata: y\n\n"), 0)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		if cut < 0 || cut > len(data) {
			cut = len(data) / 2
		}
		whole, wp := parseAll(string(data))
		split, sp := parseAll(string(data[:cut]), string(data[cut:]))
		// Fed a byte at a time, no read is a whole event: the general
		// line rules alone decide (the reference for the whole-event path).
		bytewise := make([]string, len(data))
		for i := range data {
			bytewise[i] = string(data[i : i+1])
		}
		ref, rp := parseAll(bytewise...)
		for _, evs := range [][]flatEvent{whole, split, ref} {
			for i := range evs {
				evs[i].T = 0
			}
		}
		if wp != sp || !reflect.DeepEqual(whole, split) {
			t.Fatalf("splitting at %d changed the events: %+v vs %+v", cut, whole, split)
		}
		if wp != rp || !reflect.DeepEqual(whole, ref) {
			t.Fatalf("whole body and byte by byte differ: %+v vs %+v", whole, ref)
		}
	})
}
