package analyze

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/analyze/promptcache"
	"github.com/lessllm/lessllm/analyze/sensitive"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire"
)

// calibrationSample is 1 in how many Claude calls with reported usage are
// also counted by the offline tokenizer, to calibrate the Claude estimate
// (calibrate.go). The choice hashes the request id, so it is the same in
// every run.
const calibrationSample = 16

// extractor turns exchanges into api_calls rows. It is safe for concurrent
// use.
type extractor struct {
	prices        *pricing.Table
	cache         *promptcache.Table
	sensitive     *sensitive.Scanner
	keepSensitive bool // do not redact findings in request_json / response_json
}

// call analyses one exchange read from segment.
func (x *extractor) call(ex *format.Exchange, segment string) Call {
	c := Call{
		RequestID:      ex.ID,
		Timestamp:      ex.StartNS / 1e3,
		Node:           ex.Node,
		Segment:        segment,
		Endpoint:       ex.Request.Path,
		UsageSource:    "none",
		RequestBytes:   ex.Request.Bytes,
		TotalLatencyMs: ms(ex.EndNS),
	}
	if ex.Response != nil {
		c.Chunks = int32(len(ex.Response.Chunks)) // reads on the wire, before decoding
	}
	problems := decodeContent(ex)
	// The client's API, by the rule capture routed it with; a path outside
	// /v1/ (refused by capture) reads as OpenAI's.
	c.Dialect = string(wire.DialectOf(ex.Request.Path, http.Header(ex.Request.Headers)))
	if c.Dialect == "" {
		c.Dialect = string(wire.OpenAI)
	}
	up := &ex.Request
	if ex.Upstream != nil {
		up = ex.Upstream
	}
	priceProvider := "" // the price table's provider (pricing.ProviderOf)
	if r := ex.Route; r != nil {
		priceProvider = pricing.ProviderOf(r.URL)
		c.Provider = r.Provider
		c.Dialect = r.Dialect
		c.Model = str(r.Model)
		c.UpstreamModel = str(r.UpstreamModel)
		c.Proxy = str(r.Proxy)
		c.UpstreamDialect = r.UpstreamDialect
	}
	if c.UpstreamDialect == "" {
		c.UpstreamDialect = c.Dialect
	}
	kind := wire.KindOf(up.Path)

	// The client's request: what it asked for and who asked.
	req := parseRequest(ex.Request.JSON)
	if c.Model == nil {
		c.Model = firstStr(req.Model, wire.GeminiModel(ex.Request.Path), wire.BedrockModel(ex.Request.Path)) // Gemini and Bedrock name it in the path
	}
	if c.UpstreamModel == nil {
		c.UpstreamModel = c.Model
	}
	c.Stream = req.Stream
	if ex.Request.JSON != nil {
		c.RequestJSON = str(string(ex.Request.JSON))
	} else if ex.Request.Truncated {
		problems = append(problems, "request body truncated at the capture cap")
	}
	c.APIKeyFingerprint = str(ex.Request.Headers.KeyFingerprint())
	c.UserID = firstStr(req.User, headerValue(ex.Request.Headers, "X-Lessllm-User"), ex.Request.Headers.KeyFingerprint())

	// The upstream response, read in the API that produced it.
	var usage wire.Usage
	var hasUsage bool
	var stream *wire.Stream
	var output json.RawMessage
	if resp := ex.Response; resp != nil {
		c.Status = ptr(int32(resp.Status))
		c.ResponseBytes = resp.Bytes
		if ms := cmp.Or(headerValue(resp.Headers, "Openai-Processing-Ms"), headerValue(resp.Headers, "X-Amzn-Bedrock-Invocation-Latency")); ms != "" {
			if v, err := strconv.ParseFloat(ms, 64); err == nil {
				c.ServerProcessingMs = &v
			}
		}
		streamed := isEventStream(resp.Headers)
		awsStream := !streamed && mediaType(headerValue(resp.Headers, "Content-Type")) == wire.EventStreamType
		// Gemini streams without ?alt=sse as one JSON array of responses.
		jsonArray := !streamed && kind == wire.KindGeminiGenerate && wire.IsGeminiStream(up.Path) && resp.Status < 400
		c.Stream = c.Stream || streamed || awsStream || kind == wire.KindGeminiGenerate && wire.IsGeminiStream(up.Path)
		switch {
		case resp.Truncated:
			problems = append(problems, "response body truncated at the capture cap: not analysed")
		case (streamed && wire.NewReassembler(kind) != nil) || jsonArray || awsStream && (kind == wire.KindBedrockInvoke || kind == wire.KindBedrockConverse):
			read := wire.ReadStream
			switch {
			case jsonArray:
				read = wire.ReadJSONArrayStream
			case awsStream:
				read = wire.ReadEventStream
			}
			s := read(kind, chunksOf(resp))
			output = s.Response
			c.ResponseModel = str(s.Model)
			c.FinishReason = str(s.FinishReason)
			usage, hasUsage = s.Usage, s.HasUsage
			c.ContentEvents = int32(s.ContentEvents)
			c.StreamComplete = ptr(s.Done)
			if !s.Done {
				problems = append(problems, "stream ended before the API's end event")
			}
			if s.Error != nil {
				c.ErrorType, c.ErrorMessage = apiError(s.Error)
			}
			stream = s
		case streamed || awsStream:
			problems = append(problems, fmt.Sprintf("streamed response of endpoint %s not understood", up.Path))
		default:
			body := resp.Body()
			var r responseFields
			if len(body) > 0 && json.Unmarshal(body, &r) == nil { // fails on anything that is not JSON
				output = body
				c.ResponseModel = firstStr(r.Model, r.ModelVersion)
				c.FinishReason = str(r.finishReason())
				if len(r.Error) > 0 && string(r.Error) != "null" { // Responses always has "error": null
					c.ErrorType, c.ErrorMessage = apiError(body)
				}
				if kind != wire.KindUnknown {
					usage, hasUsage = wire.UsageOf(kind, body)
				}
				if typ := headerValue(resp.Headers, "X-Amzn-Errortype"); typ != "" && resp.Status >= 400 {
					// Bedrock: {"message"}, the kind in a header ("ValidationException:…").
					typ, _, _ = strings.Cut(typ, ":")
					c.ErrorType, c.ErrorMessage = str(typ), str(r.Message)
				}
				if !hasUsage && resp.Status < 400 {
					usage, hasUsage = bedrockHeaderUsage(resp.Headers)
				}
				if l := r.Metrics.LatencyMs; l != nil && c.ServerProcessingMs == nil {
					c.ServerProcessingMs = l
				}
			} else if len(body) > 0 {
				problems = append(problems, "response body is not JSON")
			}
			if resp.Status < 400 && generates(kind) {
				c.TTFTSource = str("modeled") // filled in by calibrate.go from streamed calls of the model
			}
		}
		if kind == wire.KindUnknown && resp.Status < 400 {
			problems = append(problems, fmt.Sprintf("endpoint %s has no parser: timing only", up.Path))
		}
	}
	// finish_reason is what the client saw: on a translated call, the
	// upstream's reason in the client's API's words, as the translator
	// sent it; upstream_finish_reason keeps the upstream's own.
	if c.FinishReason != nil {
		c.UpstreamFinishReason = c.FinishReason
		if c.UpstreamDialect != c.Dialect && kind.PayloadDialect() != wire.Dialect(c.Dialect) {
			c.FinishReason = str(wire.ClientFinishReason(wire.Dialect(c.Dialect), *c.FinishReason))
		}
	}
	if output != nil {
		c.ResponseJSON = str(string(output))
	}
	x.timings(&c, ex) // after the response: it needs the processing time from its headers
	if e := ex.Error; e != nil && c.ErrorType == nil {
		c.ErrorType, c.ErrorMessage = str(e.Kind), str(e.Message)
	}
	if c.ErrorType == nil && c.Status != nil && *c.Status >= 400 {
		c.ErrorType = str("http_" + strconv.Itoa(int(*c.Status)))
	}

	// Tokens: the API's own counts, else our estimate.
	if hasUsage && priceProvider == "gemini" && kind.PayloadDialect() == wire.OpenAI {
		usage = geminiCompatibleUsage(usage)
	}
	billable := c.Status != nil && *c.Status < 400
	model := firstNonEmpty(deref(c.UpstreamModel), deref(c.ResponseModel))
	switch {
	case hasUsage:
		c.UsageSource = "api"
		setUsage(&c, usage)
		if isClaude(model) && ex.Request.JSON != nil && sampled(ex.ID) {
			c.TokenizerPromptTokens = ptr(countRequest(model, upstreamBody(ex)))
		}
	case billable && generatesOrEmbeds(kind) && ex.Request.JSON != nil:
		c.UsageSource = "estimated"
		n := countRequest(model, upstreamBody(ex))
		c.TokenizerPromptTokens = ptr(n)
		if !isClaude(model) {
			c.EstimatedPromptTokens = ptr(n) // Claude's is calibrated later (calibrate.go)
		}
		if output != nil {
			c.TokenizerCompletionTokens = ptr(countOutput(model, output))
			if !isClaude(model) {
				c.EstimatedCompletionTokens = c.TokenizerCompletionTokens
			}
		}
	}

	if stream != nil && stream.ContentEvents > 0 {
		streamMetrics(&c, stream, firstNonNil(c.ActualCompletionTokens, c.EstimatedCompletionTokens))
	}
	var reported *float64 // what the API says the call cost (wire.Usage.CostUSD)
	if hasUsage && usage.CostReported {
		reported = &usage.CostUSD
	}
	x.cost(&c, priceProvider, model, reported)
	if c.ActualCompletionTokens != nil && *c.ActualCompletionTokens > 0 && c.TotalLatencyMs > 0 {
		c.OutputTokensPerS = ptr(float64(*c.ActualCompletionTokens) / (c.TotalLatencyMs / 1e3))
	}
	if fixed := sanitizeText(&c); len(fixed) > 0 {
		problems = append(problems, "invalid UTF-8 replaced by U+FFFD in "+strings.Join(fixed, ", "))
	}
	if len(problems) > 0 {
		c.Problems = str(strings.Join(problems, "; "))
	}
	return c
}

// timings fills the connection and latency breakdown (README "Metric
// definitions"). Offsets that did not happen are zero in the record and
// NULL here.
func (x *extractor) timings(c *Call, ex *format.Exchange) {
	t := ex.Timings
	if t.FirstByte > 0 {
		c.TTFBMs = ptr(ms(t.FirstByte))
	}
	if t.DNSDone > 0 && t.DNSStart > 0 {
		c.DNSMs = ptr(ms(t.DNSDone - t.DNSStart))
	}
	if t.ConnectDone > 0 && t.ConnectStart > 0 {
		c.ConnectMs = ptr(ms(t.ConnectDone - t.ConnectStart))
	}
	if t.TLSDone > 0 && t.TLSStart > 0 {
		c.TLSMs = ptr(ms(t.TLSDone - t.TLSStart))
	}
	if t.GotConn > 0 {
		c.ConnectionReused = ptr(t.ConnReused)
	}
	// proxy_ms: what going through the proxy cost this call — its
	// handshake on a new connection, nothing on a reused one or direct.
	switch {
	case c.Proxy != nil && *c.Proxy == "direct":
		c.ProxyMs = ptr(0.0)
	case t.ProxyHandshake > 0:
		c.ProxyMs = ptr(ms(t.ProxyHandshake))
	case t.GotConn > 0 && t.ConnReused:
		c.ProxyMs = ptr(0.0)
	}
	// Network: getting a connection, plus the part of the wait for the
	// first byte that the server did not spend processing. Without a
	// processing header the wait is split in calibrate.go.
	if t.GotConn > 0 && t.WroteRequest > 0 && t.FirstByte > 0 {
		setup := ms(t.GotConn - t.RequestRead)
		if t.RequestRead == 0 {
			setup = ms(t.GotConn)
		}
		if p := c.ServerProcessingMs; p != nil {
			wait := ms(t.FirstByte - t.WroteRequest)
			net := setup + max(0, wait-*p)
			c.EstimatedNetworkMs = ptr(round3(net))
			c.EstimatedComputeMs = ptr(round3(max(0, c.TotalLatencyMs-net)))
		}
	}
}

// streamMetrics measures TTFT, TPOT and ITL from the content events' times.
// TPOT divides by the output tokens the API reported, else by our estimate
// (nil: unknown, as for Claude before calibration).
func streamMetrics(c *Call, s *wire.Stream, outTokens *int64) {
	c.EstimatedTTFTMs = ptr(ms(s.FirstContentNS))
	c.TTFTSource = str("measured")
	if outTokens != nil && *outTokens > 1 {
		c.EstimatedTPOTMs = ptr(ms(s.LastContentNS-s.FirstContentNS) / float64(*outTokens-1))
	}
	if len(s.ContentNS) > 1 {
		gaps := make([]int64, len(s.ContentNS)-1)
		for i := range gaps {
			gaps[i] = s.ContentNS[i+1] - s.ContentNS[i]
		}
		c.ITLP50Ms = ptr(percentile(gaps, 0.50))
		c.ITLP99Ms = ptr(percentile(gaps, 0.99))
	}
}

// percentile interpolates linearly between closest ranks (numpy's default,
// which vLLM's benchmark_serving uses) and returns milliseconds. It selects
// the two ranks instead of sorting — a stream has hundreds of gaps and two
// percentiles are all it needs — and reorders gaps.
func percentile(gaps []int64, p float64) float64 {
	pos := p * float64(len(gaps)-1)
	i := int(pos)
	lo := selectNth(gaps, i)
	if i+1 >= len(gaps) {
		return ms(lo)
	}
	// After selecting rank i, every gap above it is at least gaps[i]:
	// rank i+1 is the smallest of them.
	hi := slices.Min(gaps[i+1:])
	return ms(lo) + (pos-float64(i))*(ms(hi)-ms(lo))
}

// selectNth reorders a so that a[k] is its k-th smallest element and every
// element before it is no larger, every element after no smaller (Hoare's
// quickselect, median-of-three pivot), and returns a[k].
func selectNth(a []int64, k int) int64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

func setUsage(c *Call, u wire.Usage) {
	c.ActualPromptTokens = ptr(u.Prompt)
	c.ActualCompletionTokens = ptr(u.Completion)
	c.ActualTotalTokens = ptr(u.Total)
	c.ActualReasoningTokens = ptr(u.Reasoning)
	c.ActualCachedTokens = ptr(u.CachedRead)
	c.ActualCacheCreationTokens = ptr(u.CacheWrite)
	c.ActualCacheCreation5mTokens = ptr(u.CacheWrite5m)
	c.ActualCacheCreation1hTokens = ptr(u.CacheWrite1h)
	if u.Prompt > 0 {
		c.ActualCacheHitRate = ptr(float64(u.CachedRead) / float64(u.Prompt))
	}
}

// cost prices the call's tokens — the API's counts when it gave them, else
// our estimate — at the table's prices for model as its provider bills it.
// Unknown model: NULL. An amount the API reported (OpenRouter's
// usage.cost) is the call's cost instead, with price_version "api"
// (price_source still names the table's entry, which the cache model's
// predictions use); what it would have cost without the prompt cache adds
// the table's cache discount to it when the table prices the model.
func (x *extractor) cost(c *Call, provider, model string, reported *float64) {
	p, ok := x.price(c, provider, model)
	if reported != nil {
		c.EstimatedCostUSD, c.PriceVersion = ptr(*reported), str("api")
		if *c.ActualCachedTokens == 0 && *c.ActualCacheCreationTokens == 0 {
			c.EstimatedCostWithoutCacheUSD = ptr(*reported)
		} else if ok {
			with, without := p.Cost(tokensOf(c))
			c.EstimatedCostWithoutCacheUSD = ptr(*reported + without - with)
		}
		return
	}
	if !ok {
		return
	}
	var t pricing.Tokens
	switch c.UsageSource {
	case "api":
		t = tokensOf(c)
	case "estimated":
		if c.EstimatedPromptTokens == nil { // Claude: priced after calibration, at price_source
			return
		}
		t = pricing.Tokens{Prompt: *c.EstimatedPromptTokens, Completion: deref(c.EstimatedCompletionTokens)}
	default:
		return
	}
	with, without := p.Cost(t)
	c.EstimatedCostUSD, c.EstimatedCostWithoutCacheUSD = ptr(with), ptr(without)
	c.PriceVersion = str(p.Version)
}

// tokensOf is the billed counts of a call with the API's usage.
func tokensOf(c *Call) pricing.Tokens {
	t := pricing.Tokens{Prompt: *c.ActualPromptTokens, Completion: *c.ActualCompletionTokens,
		CachedRead: *c.ActualCachedTokens, CacheWrite1h: *c.ActualCacheCreation1hTokens}
	// Writes not split by TTL (OpenAI's cache_write_tokens) bill as 5-minute writes.
	t.CacheWrite5m = *c.ActualCacheCreationTokens - t.CacheWrite1h
	return t
}

// price looks the call's price up by the provider its upstream URL belongs
// to (pricing.LookupFor) and sets price_source: the table key that priced
// it, which every later pass reads back (calibration, the cache model's
// predicted cost), or "missing:" and the key looked up. A call that names
// no model has neither.
func (x *extractor) price(c *Call, provider, model string) (pricing.Match, bool) {
	if model == "" && c.ResponseModel != nil {
		model = *c.ResponseModel
	}
	if model == "" {
		return pricing.Match{}, false
	}
	p, ok := x.prices.LookupFor(provider, model)
	if !ok && c.ResponseModel != nil {
		p, ok = x.prices.LookupFor(provider, *c.ResponseModel)
	}
	if !ok {
		key := model
		if provider != "" {
			key = provider + "/" + model
		}
		c.PriceSource = str("missing:" + key)
		return p, false
	}
	c.PriceSource = str(p.Source)
	return p, true
}

// requestFields are the parts of a request body analysis reads (Gemini
// names the model in the path, and has no user field).
type requestFields struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	User     string `json:"user"` // OpenAI
	Metadata struct {
		UserID string `json:"user_id"` // Anthropic
	} `json:"metadata"`
}

type parsedRequest struct {
	Model, User string
	Stream      bool
}

func parseRequest(body json.RawMessage) parsedRequest {
	var r requestFields
	if body == nil || json.Unmarshal(body, &r) != nil {
		return parsedRequest{}
	}
	return parsedRequest{Model: r.Model, Stream: r.Stream, User: firstNonEmpty(r.User, r.Metadata.UserID)}
}

// responseFields are the parts of a non-streamed response body analysis
// reads, across dialects.
type responseFields struct {
	Model        string          `json:"model"`
	ModelVersion string          `json:"modelVersion"` // Gemini
	Error        json.RawMessage `json:"error"`
	Message      string          `json:"message"`     // Bedrock's errors
	Status       string          `json:"status"`      // Responses
	Stop         string          `json:"stop_reason"` // Anthropic
	StopReason   string          `json:"stopReason"`  // Bedrock's Converse
	Metrics      struct {
		LatencyMs *float64 `json:"latencyMs"` // Bedrock's Converse: the model's time
	} `json:"metrics"`
	Choices []struct {
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Candidates []struct { // Gemini
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
}

func (r *responseFields) finishReason() string {
	switch {
	case len(r.Choices) > 0:
		return r.Choices[0].FinishReason
	case len(r.Candidates) > 0:
		return r.Candidates[0].FinishReason
	case r.Stop != "":
		return r.Stop
	case r.StopReason != "":
		return r.StopReason
	}
	return r.Status
}

// apiError reads an error body or event in any dialect: OpenAI
// {"error":{"type","message"}}, Anthropic {"type":"error","error":{...}},
// Gemini {"error":{"code","message","status"}}.
func apiError(raw []byte) (typ, msg *string) {
	var e struct {
		Error struct {
			Type    string `json:"type"`
			Status  string `json:"status"` // Gemini's google.rpc code name
			Code    any    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return str("unreadable_error"), nil
	}
	t := cmp.Or(e.Error.Type, e.Error.Status)
	if t == "" && e.Error.Code != nil {
		t = fmt.Sprint(e.Error.Code)
	}
	if t == "" {
		t = "api_error"
	}
	return str(t), str(e.Error.Message)
}

// chunksOf yields the response's chunks as byte slices without copying
// them: a D chunk's slice aliases its string. That is sound only because
// wire.ReadStream neither writes to the bytes it is given nor keeps them
// (its doc says so: the parser and the stream readers copy what they keep),
// and it saves copying every streamed body once more.
func chunksOf(r *format.Response) func(func(int64, []byte) bool) {
	return func(yield func(int64, []byte) bool) {
		for _, ch := range r.Chunks {
			b := ch.B
			if b == nil {
				b = unsafe.Slice(unsafe.StringData(ch.D), len(ch.D))
			}
			if !yield(ch.T, b) {
				return
			}
		}
	}
}

func isEventStream(h format.Header) bool {
	return mediaType(headerValue(h, "Content-Type")) == "text/event-stream"
}

func headerValue(h format.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// upstreamBody is the request body the model actually read.
func upstreamBody(ex *format.Exchange) json.RawMessage {
	if ex.Upstream != nil && ex.Upstream.JSON != nil {
		return ex.Upstream.JSON
	}
	return ex.Request.JSON
}

func generates(k wire.Kind) bool {
	return k == wire.KindOpenAIChat || k == wire.KindOpenAIResponses || k == wire.KindOpenAICompletions || k == wire.KindAnthropicMessages ||
		k == wire.KindGeminiGenerate || k == wire.KindBedrockInvoke || k == wire.KindBedrockConverse
}

// geminiCompatibleUsage reads the usage of Gemini's OpenAI-compatible
// endpoint by Gemini's own arithmetic: its total is prompt + candidates +
// thoughts (usageMetadata.totalTokenCount), and thoughts bill as output,
// so whatever of the total completion_tokens leaves out is reasoning
// output. When completion_tokens already holds it, the total adds up and
// nothing changes.
func geminiCompatibleUsage(u wire.Usage) wire.Usage {
	if extra := u.Total - u.Prompt - u.Completion; extra > 0 {
		u.Completion += extra
		u.Reasoning = max(u.Reasoning, extra)
	}
	return u
}

// bedrockHeaderUsage reads the token counts Bedrock's invoke sends in its
// headers for every model (X-Amzn-Bedrock-Input-Token-Count, …-Output-…),
// for answers whose body has none it knows.
func bedrockHeaderUsage(h format.Header) (wire.Usage, bool) {
	in, err1 := strconv.ParseInt(headerValue(h, "X-Amzn-Bedrock-Input-Token-Count"), 10, 64)
	out, err2 := strconv.ParseInt(headerValue(h, "X-Amzn-Bedrock-Output-Token-Count"), 10, 64)
	if err1 != nil || err2 != nil {
		return wire.Usage{}, false
	}
	return wire.Usage{Prompt: in, Completion: out, Total: in + out}, true
}

func mediaType(v string) string {
	mt, _, _ := mime.ParseMediaType(v)
	return mt
}

func generatesOrEmbeds(k wire.Kind) bool { return generates(k) || k == wire.KindOpenAIEmbeddings }

func sampled(id string) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()%calibrationSample == 0
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func round3(v float64) float64 {
	return float64(int64(v*1000+0.5)) / 1000
}

func ptr[T any](v T) *T { return &v }

// str is nil for "", so that an absent value is NULL rather than ”.
func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func firstStr(vals ...string) *string { return str(firstNonEmpty(vals...)) }

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstNonNil[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
