package wire

import "encoding/json"

// Usage is token usage as the API reported it, in one shape for every
// dialect. Prompt includes cached and cache-written tokens and Completion
// includes reasoning tokens, whatever the provider's own convention.
type Usage struct {
	Prompt       int64 `json:"prompt_tokens"`
	Completion   int64 `json:"completion_tokens"`
	Total        int64 `json:"total_tokens"`
	Reasoning    int64 `json:"reasoning_tokens"`
	CachedRead   int64 `json:"cached_tokens"`         // served from the prompt cache
	CacheWrite   int64 `json:"cache_creation_tokens"` // written to the cache (Anthropic; OpenAI's explicit mode)
	CacheWrite5m int64 `json:"cache_creation_5m_tokens"`
	CacheWrite1h int64 `json:"cache_creation_1h_tokens"`
	// CostUSD is what the API says the call cost, when it says
	// (CostReported): OpenRouter's usage.cost
	// (openrouter.ai/docs/use-cases/usage-accounting), xAI's
	// cost_in_usd_ticks.
	CostUSD      float64 `json:"-"`
	CostReported bool    `json:"-"`
}

// Uncached is the prompt tokens billed at the plain input price: neither
// read from nor written to the cache.
func (u Usage) Uncached() int64 { return u.Prompt - u.CachedRead - u.CacheWrite }

// openAIChatUsage is the usage block of Chat Completions and Completions
// (platform.openai.com/docs/api-reference/chat/object). prompt_tokens
// already includes cached_tokens.
type openAIChatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens     int64 `json:"cached_tokens"`
		CacheWriteTokens int64 `json:"cache_write_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	// DeepSeek's own split of prompt_tokens: read from its disk cache, and
	// the rest (api-docs.deepseek.com/guides/kv_cache). Some of its answers
	// carry prompt_tokens_details.cached_tokens as well, some only these.
	PromptCacheHitTokens  *int64 `json:"prompt_cache_hit_tokens"`
	PromptCacheMissTokens *int64 `json:"prompt_cache_miss_tokens"`
	// Moonshot's explicit context caching (moonshot-v1 with a cache id)
	// reports the tokens it read at the top level; its automatic caching
	// (Kimi K2) uses prompt_tokens_details like OpenAI's.
	CachedTokens *int64 `json:"cached_tokens"`
	// The amount billed for the call: OpenRouter's in USD, xAI's in ticks
	// of 10⁻¹⁰ USD (docs.x.ai/developers/cost-tracking).
	Cost           *float64 `json:"cost"`
	CostInUSDTicks *int64   `json:"cost_in_usd_ticks"`
}

func (u *openAIChatUsage) normalize() Usage {
	n := Usage{Prompt: u.PromptTokens, Completion: u.CompletionTokens, Total: u.TotalTokens}
	if d := u.PromptTokensDetails; d != nil {
		n.CachedRead, n.CacheWrite = d.CachedTokens, d.CacheWriteTokens
	}
	// The OpenAI-compatible APIs that report the cache in their own fields
	// are recognised by the field; the provider's own count is what it bills.
	if c := u.CachedTokens; c != nil && u.PromptTokensDetails == nil {
		n.CachedRead = *c
	}
	if hit := u.PromptCacheHitTokens; hit != nil {
		n.CachedRead = *hit
		if n.Prompt == 0 && u.PromptCacheMissTokens != nil {
			n.Prompt = *hit + *u.PromptCacheMissTokens
		}
	}
	if d := u.CompletionTokensDetails; d != nil {
		n.Reasoning = d.ReasoningTokens
		// xAI counts reasoning outside completion_tokens (its total is
		// prompt + completion + reasoning) and bills it as output, as
		// OpenAI does with it inside: recognised by the total.
		if n.Reasoning > 0 && n.Total == n.Prompt+n.Completion+n.Reasoning {
			n.Completion += n.Reasoning
		}
	}
	switch {
	case u.Cost != nil:
		n.CostUSD, n.CostReported = *u.Cost, true
	case u.CostInUSDTicks != nil:
		n.CostUSD, n.CostReported = float64(*u.CostInUSDTicks)/1e10, true
	}
	if n.Total == 0 {
		n.Total = n.Prompt + n.Completion
	}
	return n
}

// openAIResponsesUsage is the Responses API's usage block; it arrives only
// on the terminal event. input_tokens includes cached_tokens.
type openAIResponsesUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	OutputTokens       int64 `json:"output_tokens"`
	TotalTokens        int64 `json:"total_tokens"`
	InputTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

func (u *openAIResponsesUsage) normalize() Usage {
	n := Usage{Prompt: u.InputTokens, Completion: u.OutputTokens, Total: u.TotalTokens}
	if d := u.InputTokensDetails; d != nil {
		n.CachedRead = d.CachedTokens
	}
	if d := u.OutputTokensDetails; d != nil {
		n.Reasoning = d.ReasoningTokens
	}
	if n.Total == 0 {
		n.Total = n.Prompt + n.Completion
	}
	return n
}

// anthropicUsage is the Messages API's usage block
// (docs.anthropic.com/en/api/messages). input_tokens counts only what was
// neither read from nor written to the cache. Fields are pointers because a
// message_delta overrides only the counts it carries.
type anthropicUsage struct {
	InputTokens              *int64                  `json:"input_tokens"`
	OutputTokens             *int64                  `json:"output_tokens"`
	CacheCreationInputTokens *int64                  `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64                  `json:"cache_read_input_tokens"`
	CacheCreation            *anthropicCacheCreation `json:"cache_creation"`
}

// anthropicCacheCreation splits the cache write by lifetime.
type anthropicCacheCreation struct {
	Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
	Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
}

// merge applies the counts present in later over a (ARCHITECTURE.md §8: the
// final message_delta can carry different, final counts).
func (a *anthropicUsage) merge(later *anthropicUsage) {
	if later.InputTokens != nil {
		a.InputTokens = later.InputTokens
	}
	if later.OutputTokens != nil {
		a.OutputTokens = later.OutputTokens
	}
	if later.CacheCreationInputTokens != nil {
		a.CacheCreationInputTokens = later.CacheCreationInputTokens
	}
	if later.CacheReadInputTokens != nil {
		a.CacheReadInputTokens = later.CacheReadInputTokens
	}
	if later.CacheCreation != nil {
		a.CacheCreation = later.CacheCreation
	}
}

func val(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func (a *anthropicUsage) normalize() Usage {
	in, read, write := val(a.InputTokens), val(a.CacheReadInputTokens), val(a.CacheCreationInputTokens)
	n := Usage{
		Prompt: in + read + write, Completion: val(a.OutputTokens),
		CachedRead: read, CacheWrite: write,
	}
	if c := a.CacheCreation; c != nil {
		n.CacheWrite5m, n.CacheWrite1h = c.Ephemeral5m, c.Ephemeral1h
	} else {
		n.CacheWrite5m = write // before the 1-hour option, every write was 5-minute
	}
	n.Total = n.Prompt + n.Completion
	return n
}

// UsageOf reads the usage of a non-streamed response body of the given
// dialect and endpoint kind; ok is false when the body reports none.
func UsageOf(kind Kind, body []byte) (u Usage, ok bool) {
	switch kind {
	case KindAnthropicMessages, KindBedrockInvoke: // Bedrock's invoke of Anthropic's models: the Messages API
		var r struct {
			Usage *anthropicUsage `json:"usage"`
		}
		if json.Unmarshal(body, &r) != nil || r.Usage == nil {
			return u, false
		}
		return r.Usage.normalize(), true
	case KindBedrockConverse:
		var r struct {
			Usage *bedrockUsage `json:"usage"`
		}
		if json.Unmarshal(body, &r) != nil || r.Usage == nil {
			return u, false
		}
		return r.Usage.normalize(), true
	case KindOpenAIResponses:
		var r struct {
			Usage *openAIResponsesUsage `json:"usage"`
		}
		if json.Unmarshal(body, &r) != nil || r.Usage == nil {
			return u, false
		}
		return r.Usage.normalize(), true
	case KindGeminiGenerate:
		var r struct {
			Usage *geminiUsage `json:"usageMetadata"`
		}
		if json.Unmarshal(body, &r) != nil || r.Usage == nil {
			return u, false
		}
		return r.Usage.normalize(), true
	default:
		var r struct {
			Usage *openAIChatUsage `json:"usage"`
		}
		if json.Unmarshal(body, &r) != nil || r.Usage == nil {
			return u, false
		}
		return r.Usage.normalize(), true
	}
}
