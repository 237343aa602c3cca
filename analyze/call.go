package analyze

import (
	"reflect"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
)

// SchemaVersion is the version of the api_calls schema (columns, types,
// meaning). It is stored in every Parquet file's metadata and in the
// database; a change to a column's meaning or type bumps it. Columns are
// only ever added at the end.
const SchemaVersion = 3

// Call is one row of api_calls: one captured exchange, analysed. The struct
// is the single definition of the schema: Parquet files are written from it
// and the DuckDB table is loaded from those files, so both always agree.
//
// Types are the ones Spark, Trino, pandas and DuckDB agree on: timestamps
// are INT64 microseconds adjusted to UTC, integers are signed, JSON is a
// string column with the JSON logical type. A nil pointer is SQL NULL:
// "not known", never zero (README "Metric definitions" says when each is set).
type Call struct {
	RequestID         string  `parquet:"request_id"`
	Timestamp         int64   `parquet:"timestamp,timestamp(microsecond:utc)"` // request received
	Node              string  `parquet:"node,dict"`
	Segment           string  `parquet:"segment,dict"`
	Provider          string  `parquet:"provider,dict"`
	Endpoint          string  `parquet:"endpoint,dict"`                // request path, e.g. /v1/chat/completions
	Model             *string `parquet:"model,optional,dict"`          // as the client asked
	UpstreamModel     *string `parquet:"upstream_model,optional,dict"` // as sent upstream (alias resolved)
	ResponseModel     *string `parquet:"response_model,optional,dict"` // as the API answered
	UserID            *string `parquet:"user_id,optional,dict"`
	APIKeyFingerprint *string `parquet:"api_key_fingerprint,optional,dict"`
	Stream            bool    `parquet:"stream"`
	Status            *int32  `parquet:"status,optional"` // NULL: no response headers arrived
	ErrorType         *string `parquet:"error_type,optional,dict"`
	ErrorMessage      *string `parquet:"error_message,optional"`
	FinishReason      *string `parquet:"finish_reason,optional,dict"`

	EstimatedTTFTMs    *float64 `parquet:"estimated_ttft_ms,optional"`
	TTFTSource         *string  `parquet:"ttft_source,optional,dict"` // measured | modeled
	EstimatedTPOTMs    *float64 `parquet:"estimated_tpot_ms,optional"`
	ITLP50Ms           *float64 `parquet:"itl_p50_ms,optional"`
	ITLP99Ms           *float64 `parquet:"itl_p99_ms,optional"`
	TotalLatencyMs     float64  `parquet:"total_latency_ms"`
	TTFBMs             *float64 `parquet:"ttfb_ms,optional"`
	DNSMs              *float64 `parquet:"dns_ms,optional"`
	ConnectMs          *float64 `parquet:"connect_ms,optional"`
	ProxyMs            *float64 `parquet:"proxy_ms,optional"`
	TLSMs              *float64 `parquet:"tls_ms,optional"`
	ConnectionReused   *bool    `parquet:"connection_reused,optional"`
	ServerProcessingMs *float64 `parquet:"server_processing_ms,optional"`
	EstimatedNetworkMs *float64 `parquet:"estimated_network_ms,optional"`
	EstimatedComputeMs *float64 `parquet:"estimated_compute_ms,optional"`
	OutputTokensPerS   *float64 `parquet:"output_tokens_per_s,optional"`

	ActualPromptTokens          *int64   `parquet:"actual_prompt_tokens,optional"`
	ActualCompletionTokens      *int64   `parquet:"actual_completion_tokens,optional"`
	ActualTotalTokens           *int64   `parquet:"actual_total_tokens,optional"`
	ActualReasoningTokens       *int64   `parquet:"actual_reasoning_tokens,optional"`
	ActualCachedTokens          *int64   `parquet:"actual_cached_tokens,optional"`
	ActualCacheCreationTokens   *int64   `parquet:"actual_cache_creation_tokens,optional"`
	ActualCacheCreation5mTokens *int64   `parquet:"actual_cache_creation_5m_tokens,optional"`
	ActualCacheCreation1hTokens *int64   `parquet:"actual_cache_creation_1h_tokens,optional"`
	ActualCacheHitRate          *float64 `parquet:"actual_cache_hit_rate,optional"`
	EstimatedPromptTokens       *int64   `parquet:"estimated_prompt_tokens,optional"`
	EstimatedCompletionTokens   *int64   `parquet:"estimated_completion_tokens,optional"`
	EstimatedCachedTokens       *int64   `parquet:"estimated_cached_tokens,optional"`
	EstimatedCacheHitRate       *float64 `parquet:"estimated_cache_hit_rate,optional"`

	EstimatedCostUSD             *float64 `parquet:"estimated_cost_usd,optional"`
	EstimatedCostWithoutCacheUSD *float64 `parquet:"estimated_cost_without_cache_usd,optional"`
	PriceVersion                 *string  `parquet:"price_version,optional,dict"`
	RequestJSON                  *string  `parquet:"request_json,optional"`
	ResponseJSON                 *string  `parquet:"response_json,optional"`

	// Beyond the contract's columns: what a reader needs to judge a row.
	Dialect         string  `parquet:"dialect,dict"`             // client's API: openai | anthropic
	UpstreamDialect string  `parquet:"upstream_dialect,dict"`    // API spoken upstream (differs when translated)
	Proxy           *string `parquet:"proxy,optional,dict"`      // route: direct or proxy URL without credentials
	RequestBytes    int64   `parquet:"request_bytes"`            // client request body on the wire
	ResponseBytes   int64   `parquet:"response_bytes"`           // upstream response body on the wire
	Chunks          int32   `parquet:"chunks"`                   // reads of the response body
	ContentEvents   int32   `parquet:"content_events"`           // streamed events carrying generated output
	StreamComplete  *bool   `parquet:"stream_complete,optional"` // the stream ended as the API ends an answer
	UsageSource     string  `parquet:"usage_source,dict"`        // api | estimated | none
	// The offline tokenizer's raw counts, before the Claude calibration
	// (calibrate.go): set where usage was estimated, and on a sample of
	// Claude calls with usage to calibrate against.
	TokenizerPromptTokens     *int64  `parquet:"tokenizer_prompt_tokens,optional"`
	TokenizerCompletionTokens *int64  `parquet:"tokenizer_completion_tokens,optional"`
	Problems                  *string `parquet:"problems,optional"` // what analysis could not read, "; "-separated
	// UpstreamFinishReason is the upstream's own finish reason, in its
	// API's words; finish_reason is what the client saw (they differ on
	// translated calls: length vs max_tokens). Schema version 2.
	UpstreamFinishReason *string `parquet:"upstream_finish_reason,optional,dict"`
	// PriceSource is the price table key that priced the call
	// ("azure/gpt-4o-mini", "gpt-4o"), "fallback:" and a key when the
	// provider's own entry is missing and every provider lists that model
	// at one price, or "missing:" and the key looked up when nothing
	// priced it (pricing.LookupFor). Schema version 3.
	PriceSource *string `parquet:"price_source,optional,dict"`
}

// jsonColumns hold a JSON document as text.
var jsonColumns = map[string]bool{"request_json": true, "response_json": true}

// callSchema is Call's Parquet schema with the JSON logical type on the
// JSON columns. (parquet-go v0.32's "json" struct tag re-encodes a *string
// and writes NULL, so the type is set on the schema node instead; columns
// come out ordered by name, and callColumns gives the table order.)
var callSchema = sync.OnceValue(func() *parquet.Schema {
	g := parquet.Group{}
	for _, f := range parquet.SchemaOf(Call{}).Fields() {
		var n parquet.Node = f
		if jsonColumns[f.Name()] {
			n = parquet.Optional(parquet.JSON())
		}
		g[f.Name()] = n
	}
	return parquet.NewSchema("api_calls", g)
})

// callColumns are api_calls' column names in declaration order.
var callColumns = sync.OnceValue(func() []string {
	t := reflect.TypeFor[Call]()
	cols := make([]string, t.NumField())
	for i := range cols {
		cols[i], _, _ = strings.Cut(t.Field(i).Tag.Get("parquet"), ",")
	}
	return cols
})
