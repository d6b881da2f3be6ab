package spend

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Usage is what one request consumed, as Bedrock reported it.
type Usage struct {
	// InputTokens counts every input token, cache reads and writes included
	// (OpenAI's prompt_tokens).
	InputTokens      int
	OutputTokens     int
	CacheReadTokens  int // of InputTokens, read from the prompt cache
	CacheWriteTokens int // of InputTokens, written to the prompt cache
	InputImages      int // images given to an embedding model
	OutputImages     int // images made
	Queries          int // rerank queries (search units) billed
	// ServiceTier is the tier Bedrock served the request on ("flex",
	// "priority", "default", "reserved"); "" when it did not say, which is
	// the standard tier.
	ServiceTier string
}

// Cost is the price of u in US dollars. Cache tokens are billed at the
// cache prices when the model has them, else as plain input.
func (p Price) Cost(u Usage) float64 {
	p = p.ForTier(u.ServiceTier)
	cacheRead, cacheWrite := p.CacheReadPerToken, p.CacheWritePerToken
	if cacheRead == 0 {
		cacheRead = p.InputPerToken
	}
	if cacheWrite == 0 {
		cacheWrite = p.InputPerToken
	}
	plain := max(u.InputTokens-u.CacheReadTokens-u.CacheWriteTokens, 0)
	return float64(plain)*p.InputPerToken +
		float64(u.CacheReadTokens)*cacheRead +
		float64(u.CacheWriteTokens)*cacheWrite +
		float64(u.OutputTokens)*p.OutputPerToken +
		float64(u.InputImages)*p.InputPerImage +
		float64(u.OutputImages)*p.OutputPerImage +
		float64(u.Queries)*p.PerQuery
}

// OverrideKeys are LiteLLM's price keys, accepted in a deployment's
// litellm_params and model_info. Each replaces one field of the table's price.
var OverrideKeys = map[string]func(p *Price, v float64){
	"input_cost_per_token":            func(p *Price, v float64) { p.InputPerToken = v },
	"output_cost_per_token":           func(p *Price, v float64) { p.OutputPerToken = v },
	"cache_read_input_token_cost":     func(p *Price, v float64) { p.CacheReadPerToken = v },
	"cache_creation_input_token_cost": func(p *Price, v float64) { p.CacheWritePerToken = v },
	"input_cost_per_image":            func(p *Price, v float64) { p.InputPerImage = v },
	"output_cost_per_image":           func(p *Price, v float64) { p.OutputPerImage = v },
	"input_cost_per_query":            func(p *Price, v float64) { p.PerQuery = v },

	"input_cost_per_token_flex":            tierOverride(TierFlex, func(p *Price, v float64) { p.InputPerToken = v }),
	"output_cost_per_token_flex":           tierOverride(TierFlex, func(p *Price, v float64) { p.OutputPerToken = v }),
	"cache_read_input_token_cost_flex":     tierOverride(TierFlex, func(p *Price, v float64) { p.CacheReadPerToken = v }),
	"input_cost_per_token_priority":        tierOverride(TierPriority, func(p *Price, v float64) { p.InputPerToken = v }),
	"output_cost_per_token_priority":       tierOverride(TierPriority, func(p *Price, v float64) { p.OutputPerToken = v }),
	"cache_read_input_token_cost_priority": tierOverride(TierPriority, func(p *Price, v float64) { p.CacheReadPerToken = v }),
}

// tierOverride sets one field of a deployment's own price for a tier.
func tierOverride(tier string, set func(p *Price, v float64)) func(p *Price, v float64) {
	return func(p *Price, v float64) {
		if p.TierPrices == nil {
			p.TierPrices = map[string]Price{}
		}
		t := p.TierPrices[tier]
		set(&t, v)
		p.TierPrices[tier] = t
	}
}

// WithOverrides applies LiteLLM price keys to base. model_info is read
// first and litellm_params after, so litellm_params wins, as in LiteLLM.
// known is true when the result prices the model: the table knew it or an
// override set a price. A key with a value that is not a number >= 0 is an
// error naming it.
func WithOverrides(base Price, tableKnows bool, modelInfo map[string]any, params map[string]float64) (p Price, known bool, err error) {
	p, known = base, tableKnows
	fromParams := make(map[string]any, len(params))
	for k, v := range params {
		fromParams[k] = v
	}
	for _, section := range []struct {
		name   string
		values map[string]any
	}{{"model_info", modelInfo}, {"litellm_params", fromParams}} {
		keys := make([]string, 0, len(section.values))
		for k := range section.values {
			if OverrideKeys[k] != nil {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, ok := number(section.values[k])
			if !ok || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return p, known, fmt.Errorf("%s.%s must be a number >= 0, got %v", section.name, k, section.values[k])
			}
			OverrideKeys[k](&p, v)
			known = true
		}
	}
	return p, known, nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	case string: // from os.environ/
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}
