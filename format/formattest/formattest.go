// Package formattest makes realistic Exchange records for tests and
// benchmarks of the segment format and its readers, as net/http/httptest
// does for HTTP: streamed OpenAI chat completions with varied text, unique
// ids and jittered chunk timings, shaped like real traffic (see
// testdata/recorded/SOURCES.md for the recordings they imitate).
package formattest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire"
)

// words is the vocabulary of generated text: common English words, so the
// compression measured is that of prose rather than of repeated tokens.
var words = strings.Fields(`the of and to a in is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their has would when if so no
will more can out other about what up into them some time could these two may then do first any my now
such like our over man me even most made after also did many before must through back years where much
your way well down should because each just those people how too little state good very make world still
own see men work long get here between both life being under never day same another know while last might
us great old year off come since against go came right used take three states himself few house use during
without again place american around however home small found thought went say part once general high upon
school every does got united left number course war until always away something fact though water less public
put think almost hand enough far took head yet government system better set told nothing night end why called
didn't eyes find going look asked later knew point next city business give group toward young let room president
side social given present several order national possible rather second per face among form important often things
looking early white case john become large big need four within felt children along saw best church ever least
power development light thing seemed family interest want members mind country area others although turned done
open god service certain kind problem began different door thus help sense means whole matter perhaps itself york
times law human line above name example action company local show whether five history gave today either act feet
across taken past quite anything seen having death experience body word half really week free car field already
information tell together college shall money period held keep sure probably real behind miss fire policy model
token latency cache prompt proxy stream request response function tool argument value result error retry budget`)

// Text returns n words of pseudo-prose drawn from r.
func Text(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		// Squaring skews choices toward the front, as word frequencies are.
		f := r.Float64()
		b.WriteString(words[int(f*f*float64(len(words)))])
	}
	return b.String()
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomID(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}

// StreamedChat returns a streamed OpenAI chat completion exchange with the
// given number of content chunks (plus role, finish, usage and [DONE]
// events), started at start. Offsets follow a 150 ms first token and ~20 ms
// per token with jitter.
func StreamedChat(r *rand.Rand, start time.Time, chunks int) *format.Exchange {
	id := "chatcmpl-" + randomID(r, 29)
	created := start.Unix()
	reqBody, _ := json.Marshal(map[string]any{
		"model":          "gpt-4o-mini",
		"stream":         true,
		"stream_options": map[string]any{"include_usage": true},
		"messages": []map[string]string{
			{"role": "system", "content": "You are a helpful assistant. " + Text(r, 40)},
			{"role": "user", "content": Text(r, 30+r.IntN(60))},
		},
	})
	ex := &format.Exchange{
		V:       format.RecordVersion,
		ID:      format.NewID(start),
		Node:    "bench-node",
		StartNS: start.UnixNano(),
		Request: format.Request{
			Method: "POST", Path: "/v1/chat/completions",
			Headers: format.RedactHeader(map[string][]string{
				"Authorization":    {"Bearer sk-test-" + randomID(r, 40)},
				"Content-Type":     {"application/json"},
				"User-Agent":       {"OpenAI/Go 3.98.0"},
				"X-Stainless-Lang": {"go"},
			}, nil),
		},
		Route: &format.Route{Provider: "openai", Dialect: string(wire.OpenAI), Model: "gpt-4o-mini",
			UpstreamModel: "gpt-4o-mini", URL: "https://api.openai.com/v1/chat/completions", Proxy: "direct"},
	}
	ex.Request.SetBody(reqBody, int64(len(reqBody)))
	t := int64(0)
	ex.Timings = format.Timings{RequestRead: 40_000, GotConn: 60_000, ConnReused: true, WroteRequest: 90_000}
	ex.Response = &format.Response{Status: 200, Headers: format.Header{
		"Content-Type":         {"text/event-stream; charset=utf-8"},
		"X-Request-Id":         {"req_" + randomID(r, 32)},
		"Openai-Processing-Ms": {fmt.Sprint(100 + r.IntN(200))},
		"Date":                 {start.UTC().Format(time.RFC1123)},
	}}
	event := func(delta string, finish string) string {
		fin := "null"
		if finish != "" {
			fin = `"` + finish + `"`
		}
		return fmt.Sprintf(`data: {"id":"%s","object":"chat.completion.chunk","created":%d,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}],"usage":null}`+"\n\n",
			id, created, delta, fin)
	}
	add := func(dt int64, data string) {
		t += dt
		ex.Response.Chunks = append(ex.Response.Chunks, format.NewChunk(t, []byte(data)))
		ex.Response.Bytes += int64(len(data))
	}
	add(150_000_000+r.Int64N(10_000_000), event(`{"role":"assistant","content":"","refusal":null}`, ""))
	ex.Timings.FirstByte = t
	for i := 0; i < chunks; i++ {
		w, _ := json.Marshal(" " + Text(r, 1))
		add(18_000_000+r.Int64N(4_000_000), event(`{"content":`+string(w)+`}`, ""))
	}
	add(1_000_000, event(`{}`, "stop"))
	add(500_000, fmt.Sprintf(`data: {"id":"%s","object":"chat.completion.chunk","created":%d,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`+"\n\ndata: [DONE]\n\n",
		id, created, 120, chunks, 120+chunks))
	ex.EndNS = t + 100_000
	return ex
}
