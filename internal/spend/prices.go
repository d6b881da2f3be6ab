package spend

import (
	"strings"
)

// Price is what Bedrock charges for one model, in US dollars. A zero field
// means the model is not billed for that: a text model has no image price.
type Price struct {
	InputPerToken      float64 // input_cost_per_token
	OutputPerToken     float64 // output_cost_per_token
	CacheReadPerToken  float64 // cache_read_input_token_cost; input price when zero
	CacheWritePerToken float64 // cache_creation_input_token_cost; input price when zero
	InputPerImage      float64 // input_cost_per_image: an image given to an embedding model
	OutputPerImage     float64 // output_cost_per_image: an image made
	PerQuery           float64 // input_cost_per_query: a rerank query of up to 100 documents
	// GeoMarkup is the share added for geographic cross-region inference
	// profiles (us., eu., jp., au., ...): Bedrock bills those 10% over the
	// model's own price for models released from late 2025 on. Global
	// profiles (global.) and in-region calls pay the base price.
	GeoMarkup float64
	// TierPrices are a deployment's own prices for a service tier
	// (LiteLLM's *_flex and *_priority keys), by tier. A field left zero
	// there is the standard price times the tier's factor.
	TierPrices map[string]Price
}

// Service tiers priced apart from the standard one.
const (
	TierFlex     = "flex"
	TierPriority = "priority"
)

// tierFactors scale the standard (on-demand) price for the tier Bedrock
// served. [AWS]: the pricing page lists, for each model that offers the
// tiers, Flex at half the standard price and Priority at the standard
// price plus 75%. "default" and "reserved" (capacity billed by
// reservation, not by token) keep the standard price.
var tierFactors = map[string]float64{TierFlex: 0.5, TierPriority: 1.75}

// ForTier is the price of a request Bedrock served on tier: the standard
// price scaled by the tier's factor, with the deployment's own prices for
// that tier over it.
func (p Price) ForTier(tier string) Price {
	f, ok := tierFactors[tier]
	if !ok {
		return p
	}
	t := p.scaled(f)
	if o, ok := p.TierPrices[tier]; ok {
		for _, field := range []struct{ own, into *float64 }{
			{&o.InputPerToken, &t.InputPerToken}, {&o.OutputPerToken, &t.OutputPerToken}, {&o.CacheReadPerToken, &t.CacheReadPerToken},
		} {
			if *field.own != 0 {
				*field.into = *field.own
			}
		}
	}
	return t
}

// perMillion reads a price as AWS publishes it: dollars per million tokens.
func perMillion(dollars float64) float64 { return dollars / 1e6 }

// Sources of the prices below:
//
//	[LiteLLM] LiteLLM's model_prices_and_context_window.json
//	          (github.com/BerriAI/litellm, at commit 00035b69f416), the
//	          prices LiteLLM users are billed by today.
//	[AWS]     Amazon Bedrock's pricing page, https://aws.amazon.com/bedrock/pricing/,
//	          on-demand, US East (N. Virginia).
//
// Each row says which. Prices are for on-demand use in us-east-1; batch,
// provisioned throughput and other regions differ, so set a deployment's
// own prices in the config (input_cost_per_token, ...) where that matters.

// priceRow prices every model id starting with prefix; the first row that
// matches wins, so longer prefixes come first.
type priceRow struct {
	prefix string
	price  Price
}

// claude returns a Claude price with Anthropic's cache multipliers: a cache
// write costs 1.25 times the input price, a cache read a tenth of it.
func claude(in, out float64) Price {
	return Price{
		InputPerToken: perMillion(in), OutputPerToken: perMillion(out),
		CacheWritePerToken: perMillion(in * 1.25), CacheReadPerToken: perMillion(in / 10),
	}
}

func tokens(in, out float64) Price {
	return Price{InputPerToken: perMillion(in), OutputPerToken: perMillion(out)}
}

func withGeoMarkup(p Price) Price {
	p.GeoMarkup = 0.10
	return p
}

var priceTable = []priceRow{
	// Anthropic Claude. [LiteLLM]: each row's input, output, cache write and
	// cache read prices, as in its anthropic.* entries; its us./eu./jp./au.
	// entries of the models marked geo are 10% higher.
	{"anthropic.claude-3-haiku", Price{InputPerToken: perMillion(0.25), OutputPerToken: perMillion(1.25), CacheWritePerToken: perMillion(0.3125), CacheReadPerToken: perMillion(0.025)}},
	{"anthropic.claude-3-5-haiku", Price{InputPerToken: perMillion(0.80), OutputPerToken: perMillion(4), CacheWritePerToken: perMillion(1), CacheReadPerToken: perMillion(0.08)}},
	{"anthropic.claude-haiku-4-5", claude(1, 5)},
	{"anthropic.claude-3-sonnet", claude(3, 15)},
	{"anthropic.claude-3-5-sonnet", claude(3, 15)},
	{"anthropic.claude-3-7-sonnet", claude(3, 15)},
	{"anthropic.claude-sonnet-4-6", withGeoMarkup(claude(3, 15))},
	{"anthropic.claude-sonnet-4", claude(3, 15)}, // [AWS]: Sonnet 4 and 4.5 at Sonnet's price
	{"anthropic.claude-sonnet-5", withGeoMarkup(claude(2, 10))},
	{"anthropic.claude-3-opus", claude(15, 75)},
	{"anthropic.claude-opus-4-1", claude(15, 75)},
	{"anthropic.claude-opus-4-20250514", claude(15, 75)},
	{"anthropic.claude-opus-4-5", claude(5, 25)},
	{"anthropic.claude-opus-4-6", withGeoMarkup(claude(5, 25))},
	{"anthropic.claude-opus-4-7", withGeoMarkup(claude(5, 25))},
	{"anthropic.claude-opus-4-8", withGeoMarkup(claude(5, 25))},
	{"anthropic.claude-instant", tokens(0.80, 2.40)},
	{"anthropic.claude-v2", tokens(8, 24)}, // [AWS]: Claude 2.0 and 2.1

	// Amazon. [LiteLLM]: Nova, Titan Text, the embedding and image models.
	{"amazon.nova-micro", tokens(0.035, 0.14)},
	{"amazon.nova-lite", tokens(0.06, 0.24)},
	{"amazon.nova-pro", tokens(0.80, 3.20)},
	{"amazon.nova-premier", tokens(2.50, 12.50)}, // [AWS]
	{"amazon.nova-2-lite", Price{InputPerToken: perMillion(0.30), OutputPerToken: perMillion(2.50), CacheReadPerToken: perMillion(0.075)}},
	{"amazon.titan-text-lite", tokens(0.30, 0.40)},
	{"amazon.titan-text-express", tokens(1.30, 1.70)},
	{"amazon.titan-text-premier", tokens(0.50, 1.50)},
	{"amazon.titan-embed-text-v1", tokens(0.10, 0)},
	{"amazon.titan-embed-g1-text", tokens(0.10, 0)},
	{"amazon.titan-embed-text-v2", tokens(0.02, 0)},
	{"amazon.titan-embed-image", Price{InputPerToken: perMillion(0.80), InputPerImage: 0.00006}},
	{"amazon.nova-2-multimodal-embeddings", Price{InputPerToken: perMillion(0.135), InputPerImage: 0.00006}},
	{"amazon.titan-image-generator", Price{OutputPerImage: 0.008}}, // v1 and v2: a standard 512x512 image
	{"amazon.nova-canvas", Price{OutputPerImage: 0.06}},            // a 1024x1024 premium image
	// [AWS] Amazon Rerank 1.0: $1.00 per 1,000 queries, a query being up to
	// 100 documents (350 documents are 4 queries); LiteLLM's
	// input_cost_per_query for it is the same $0.001.
	{"amazon.rerank", Price{PerQuery: 0.001}},

	// AI21. [LiteLLM].
	{"ai21.j2-mid", tokens(12.50, 12.50)},
	{"ai21.j2-ultra", tokens(18.80, 18.80)},
	{"ai21.jamba-instruct", tokens(0.50, 0.70)},
	{"ai21.jamba-1-5-large", tokens(2, 8)},
	{"ai21.jamba-1-5-mini", tokens(0.20, 0.40)},

	// Writer. [LiteLLM].
	{"writer.palmyra-x4", tokens(2.50, 10)},
	{"writer.palmyra-x5", tokens(0.60, 6)},

	// Meta Llama. [AWS].
	{"meta.llama2-13b", tokens(0.75, 1)},
	{"meta.llama2-70b", tokens(1.95, 2.56)},
	{"meta.llama3-8b", tokens(0.30, 0.60)},
	{"meta.llama3-70b", tokens(2.65, 3.50)},
	{"meta.llama3-1-8b", tokens(0.22, 0.22)},
	{"meta.llama3-1-70b", tokens(0.72, 0.72)},
	{"meta.llama3-1-405b", tokens(2.40, 2.40)},
	{"meta.llama3-2-1b", tokens(0.10, 0.10)},
	{"meta.llama3-2-3b", tokens(0.15, 0.15)},
	{"meta.llama3-2-11b", tokens(0.16, 0.16)},
	{"meta.llama3-2-90b", tokens(0.72, 0.72)},
	{"meta.llama3-3-70b", tokens(0.72, 0.72)},
	{"meta.llama4-maverick", tokens(0.24, 0.97)},
	{"meta.llama4-scout", tokens(0.17, 0.66)},

	// Mistral. [AWS].
	{"mistral.mistral-7b", tokens(0.15, 0.20)},
	{"mistral.mixtral-8x7b", tokens(0.45, 0.70)},
	{"mistral.mistral-large-2402", tokens(4, 12)},
	{"mistral.mistral-small-2402", tokens(1, 3)},

	// Cohere. [AWS].
	{"cohere.command-text", tokens(1.50, 2)},
	{"cohere.command-light-text", tokens(0.30, 0.60)},
	{"cohere.command-r-plus", tokens(3, 15)},
	{"cohere.command-r", tokens(0.50, 1.50)},
	{"cohere.embed-english-v3", tokens(0.10, 0)},
	{"cohere.embed-multilingual-v3", tokens(0.10, 0)},
	{"cohere.embed-v4", tokens(0.12, 0)},
	{"cohere.rerank-v3-5", Price{PerQuery: 0.002}}, // $2.00 per 1,000 queries of up to 100 documents

	// DeepSeek. [AWS].
	{"deepseek.r1", tokens(1.35, 5.40)},

	// Stability AI, per image. [LiteLLM] for SDXL (1024x1024, up to 50 steps);
	// [AWS] for the others.
	{"stability.stable-diffusion-xl-v1", Price{OutputPerImage: 0.04}},
	{"stability.stable-diffusion-xl-v0", Price{OutputPerImage: 0.018}}, // 512x512, up to 50 steps
	{"stability.sd3-large", Price{OutputPerImage: 0.08}},
	{"stability.sd3-5-large", Price{OutputPerImage: 0.08}},
	{"stability.stable-image-core", Price{OutputPerImage: 0.04}},
	{"stability.stable-image-ultra", Price{OutputPerImage: 0.14}},
}

// geoPrefixes are the geographic cross-region profile prefixes; "global."
// is not one of them.
var geoPrefixes = []string{"us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au."}

// Lookup finds the price of a Bedrock model id: a foundation model id, a
// cross-region inference profile id ("us.anthropic...") or an ARN naming
// one. ok is false for a model the table does not know.
func Lookup(modelID string) (p Price, ok bool) {
	id := modelID
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	geo := false
	if rest, cut := strings.CutPrefix(id, "global."); cut {
		id = rest
	}
	for _, prefix := range geoPrefixes {
		if rest, cut := strings.CutPrefix(id, prefix); cut && strings.Contains(rest, ".") {
			id, geo = rest, true
			break
		}
	}
	for _, row := range priceTable {
		if strings.HasPrefix(id, row.prefix) {
			p = row.price
			if geo && p.GeoMarkup > 0 {
				p = p.scaled(1 + p.GeoMarkup)
			}
			return p, true
		}
	}
	return Price{}, false
}

func (p Price) scaled(f float64) Price {
	return Price{
		InputPerToken: p.InputPerToken * f, OutputPerToken: p.OutputPerToken * f,
		CacheReadPerToken: p.CacheReadPerToken * f, CacheWritePerToken: p.CacheWritePerToken * f,
		InputPerImage: p.InputPerImage * f, OutputPerImage: p.OutputPerImage * f,
		PerQuery: p.PerQuery * f,
	}
}
