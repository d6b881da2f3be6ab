// Package openai holds the OpenAI API wire types Strata serves: one file per
// endpoint, plus the error body every endpoint shares. It has no behaviour
// beyond decoding and encoding; it knows nothing about Bedrock.
package openai
