package config

import (
	"regexp"
	"strconv"
	"strings"
)

// Unserved is a model_list entry for a provider other than AWS Bedrock
// (azure/, openai/, ollama/, a bare gpt-4o ...). LiteLLM configs mix
// providers; Strata starts without these entries, names them in one
// warning, and answers a request for their model_name with a 400 that says
// this gateway serves Bedrock.
type Unserved struct {
	Name     string // model_name
	Provider string // "azure", "openai" ...; "" when the model names none Strata can tell
	Model    string // litellm_params.model as written
	Line     int
}

// Describe says what the entry is, for messages: `an azure model ("azure/gpt-4")`.
func (u Unserved) Describe() string {
	if u.Provider == "" {
		return "a model of no provider Strata can tell (" + strconv.Quote(u.Model) + ")"
	}
	return article(u.Provider) + " " + u.Provider + " model (" + strconv.Quote(u.Model) + ")"
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// bedrockVendors are the model providers Bedrock's model ids start with.
var bedrockVendors = map[string]bool{
	"ai21": true, "amazon": true, "anthropic": true, "cohere": true, "deepseek": true,
	"google": true, "luma": true, "meta": true, "minimax": true, "mistral": true,
	"moonshot": true, "moonshotai": true, "nvidia": true, "openai": true, "qwen": true,
	"stability": true, "twelvelabs": true, "writer": true,
}

// profilePrefixes are the geographies of cross-region inference profile ids
// ("us.anthropic.claude-...").
var profilePrefixes = map[string]bool{
	"us": true, "us-gov": true, "eu": true, "apac": true, "jp": true, "au": true, "ca": true, "global": true,
}

var (
	// vendor.model: a lower-case vendor, a dot, then what model ids are made of.
	bedrockIDShape = regexp.MustCompile(`^([a-z][a-z0-9]*)\.([a-z0-9][a-zA-Z0-9._:-]*)$`)
	// A model version: "-v1:0", "-v2", ":0", "-1:0".
	bedrockVersion = regexp.MustCompile(`(-v\d+(:\d+)?|:\d+)$`)
	bedrockARN     = regexp.MustCompile(`^arn:aws(-[a-z]+)*:bedrock:`)
)

// looksLikeBedrockID reports whether id is shaped like a Bedrock model id as
// LiteLLM recognises one without the bedrock/ prefix: a foundation model id
// (vendor.model with a version, or of a vendor Bedrock hosts), the same
// behind a cross-region profile prefix, or a Bedrock ARN.
func looksLikeBedrockID(id string) bool {
	// A trailing comma is debris from a Python snippet: the id is still
	// recognised, so that the error about the comma can name it.
	id = strings.TrimSuffix(id, ",")
	if bedrockARN.MatchString(id) {
		return !strings.ContainsAny(id, " \t")
	}
	if geo, rest, ok := strings.Cut(id, "."); ok && profilePrefixes[geo] {
		id = rest
	}
	m := bedrockIDShape.FindStringSubmatch(id)
	if m == nil {
		return false
	}
	return bedrockVendors[m[1]] || bedrockVersion.MatchString(id)
}

// bareModelProviders guess the provider of a model written without a
// provider prefix, by the name families LiteLLM itself recognises; only
// for the messages.
var bareModelProviders = []struct{ prefix, provider string }{
	{"gpt-", "openai"}, {"chatgpt-", "openai"}, {"o1", "openai"}, {"o3", "openai"}, {"o4", "openai"},
	{"text-embedding-", "openai"}, {"dall-e", "openai"}, {"whisper", "openai"}, {"tts-", "openai"},
	{"omni-moderation", "openai"}, {"davinci", "openai"}, {"babbage", "openai"},
	{"claude", "anthropic"},
	{"gemini", "vertex_ai"}, {"text-bison", "vertex_ai"}, {"chat-bison", "vertex_ai"},
	{"command", "cohere"}, {"embed-english", "cohere"}, {"embed-multilingual", "cohere"},
	{"mistral-", "mistral"}, {"mixtral-", "mistral"}, {"codestral", "mistral"}, {"open-mistral", "mistral"},
	{"deepseek-", "deepseek"}, {"grok-", "xai"},
}

// modelClass is what a model_list entry's model says about where it is served.
type modelClass int

const (
	classBedrock           modelClass = iota // bedrock/<id>, or custom_llm_provider: bedrock
	classBedrockUnprefixed                   // a Bedrock id without bedrock/, recognised by its shape
	classOther                               // another provider
)

// classifyModel says whether an entry's model (and custom_llm_provider, if
// set) is served on Bedrock and, if not, names its provider.
func classifyModel(model, customProvider string) (modelClass, string) {
	switch {
	case customProvider == "bedrock":
		return classBedrock, ""
	case customProvider != "":
		return classOther, customProvider
	case strings.HasPrefix(model, "bedrock/"):
		return classBedrock, ""
	case looksLikeBedrockID(model):
		return classBedrockUnprefixed, ""
	}
	if provider, _, ok := strings.Cut(model, "/"); ok && provider != "" && !strings.Contains(provider, ":") {
		return classOther, provider
	}
	lower := strings.ToLower(model)
	for _, p := range bareModelProviders {
		if strings.HasPrefix(lower, p.prefix) {
			return classOther, p.provider
		}
	}
	return classOther, ""
}
