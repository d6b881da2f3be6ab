package translate

import (
	"bytes"
	"encoding/json"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// Structured output: where the model takes Converse's outputConfig
// (structured outputs, constrained decoding), response_format json_schema
// is sent there and the answer is the model's text. Elsewhere it rides on
// a forced tool (see toolConfigFromChat). The client gets the same answer
// either way: the JSON as message content, finish_reason "stop".

// nativeStructuredOutput lists the models that take outputConfig.textFormat,
// matched by prefix like modelCapabilities. Source: the Bedrock User Guide,
// "Get validated JSON results from models" (structured-output.html) and
// its Claude page (claude-messages-structured-outputs.html): Claude Sonnet
// 4.5, Haiku 4.5, Opus 4.5 and Opus 4.6 on Converse, and OpenAI's gpt-oss
// and Moonshot's Kimi among the open-weight models. The guide names only
// "select" models of the other open-weight families; they keep the forced
// tool, which works on every model with tool use. A Claude the table does
// not know is taken to be newer than it.
var nativeStructuredOutput = []prefixRow[bool]{
	{"anthropic.claude-sonnet-4-5", true},
	{"anthropic.claude-haiku-4-5", true},
	{"anthropic.claude-opus-4-5", true},
	{"anthropic.claude-opus-4-6", true},
	{"anthropic.claude-sonnet-4-6", true},
	{"anthropic.claude-3", false},
	{"anthropic.claude-v2", false},
	{"anthropic.claude-instant", false},
	{"anthropic.claude-sonnet-4", false},
	{"anthropic.claude-opus-4", false},
	{"anthropic.", true},
	{"openai.gpt-oss", true},
	{"moonshot.kimi", true},
}

// NativeStructuredOutput reports whether model takes Converse's
// outputConfig.textFormat.
func NativeStructuredOutput(model string) bool {
	native, _ := byPrefix(nativeStructuredOutput, model)
	return native
}

// outputConfigFor is the outputConfig of a json_schema response_format.
// Bedrock takes the schema as a string of JSON.
func outputConfigFor(rf *openai.ResponseFormat) (*bedrock.OutputConfig, error) {
	if rf.JSONSchema == nil || len(bytes.TrimSpace(rf.JSONSchema.Schema)) == 0 {
		return nil, openai.InvalidRequest("response_format.json_schema.schema", "response_format json_schema needs json_schema.schema")
	}
	var schema bytes.Buffer
	if err := json.Compact(&schema, rf.JSONSchema.Schema); err != nil || schema.Bytes()[0] != '{' {
		return nil, openai.InvalidRequest("response_format.json_schema.schema", "response_format.json_schema.schema must be a JSON schema object")
	}
	return &bedrock.OutputConfig{TextFormat: &bedrock.OutputFormat{
		Type: "json_schema",
		Structure: bedrock.OutputFormatStructure{JSONSchema: &bedrock.JSONSchemaDefinition{
			Schema: schema.String(), Name: rf.JSONSchema.Name, Description: rf.JSONSchema.Description,
		}},
	}}, nil
}
