package config

import "testing"

func TestClassifyModel(t *testing.T) {
	tests := []struct {
		model, customProvider string
		class                 modelClass
		provider              string
	}{
		{"bedrock/anthropic.claude-3-haiku-20240307-v1:0", "", classBedrock, ""},
		{"anthropic.claude-3-haiku-20240307-v1:0", "bedrock", classBedrock, ""},
		{"anthropic.claude-3-haiku-20240307-v1:0", "", classBedrockUnprefixed, ""},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "", classBedrockUnprefixed, ""},
		{"global.anthropic.claude-sonnet-4-5-20250929-v1:0", "", classBedrockUnprefixed, ""},
		{"apac.amazon.nova-lite-v1:0", "", classBedrockUnprefixed, ""},
		{"meta.llama3-1-70b-instruct-v1:0", "", classBedrockUnprefixed, ""},
		{"amazon.titan-embed-text-v2:0", "", classBedrockUnprefixed, ""},
		{"anthropic.claude-v2", "", classBedrockUnprefixed, ""},
		{"openai.gpt-oss-120b-1:0", "", classBedrockUnprefixed, ""},
		{"moonshot.kimi-k2-thinking", "", classBedrockUnprefixed, ""},               // a Bedrock vendor, no version
		{"acme.new-model-v1:0", "", classBedrockUnprefixed, ""},                     // an unknown vendor, with a version
		{"anthropic.claude-3-haiku-20240307-v1:0,", "", classBedrockUnprefixed, ""}, // the comma is reported later
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", "", classBedrockUnprefixed, ""},
		{"arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:provisioned-model/abc", "", classBedrockUnprefixed, ""},
		{"azure/gpt-4", "", classOther, "azure"},
		{"azure/gpt-4", "azure", classOther, "azure"},
		{"openai/gpt-4o", "", classOther, "openai"},
		{"ollama/llama3.1:8b", "", classOther, "ollama"},
		{"vertex_ai/gemini-1.5-pro", "", classOther, "vertex_ai"},
		{"gemini/gemini-2.0-flash", "", classOther, "gemini"},
		{"sagemaker/jumpstart-llama", "", classOther, "sagemaker"},
		{"gpt-4o", "", classOther, "openai"},
		{"o3-mini", "", classOther, "openai"},
		{"claude-3-5-sonnet-20240620", "", classOther, "anthropic"},
		{"gemini-1.5-pro", "", classOther, "vertex_ai"},
		{"gpt-4.1", "", classOther, "openai"},
		{"acme.model", "", classOther, ""}, // neither a Bedrock vendor nor a version
		{"my-model", "", classOther, ""},
		{"arn:aws:sagemaker:us-east-1:123456789012:endpoint/x", "", classOther, ""},
	}
	for _, tt := range tests {
		class, provider := classifyModel(tt.model, tt.customProvider)
		if class != tt.class || provider != tt.provider {
			t.Errorf("classifyModel(%q, %q) = %v, %q; want %v, %q", tt.model, tt.customProvider, class, provider, tt.class, tt.provider)
		}
	}
}
