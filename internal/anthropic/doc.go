// Package anthropic holds the wire types of Anthropic's Messages API as
// Strata serves it (POST /v1/messages, its stream events, count_tokens and
// the error body). It decodes and encodes; it does not translate or call
// Bedrock.
package anthropic
