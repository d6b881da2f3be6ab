// Package bedrock owns the Bedrock runtime wire format and the client that
// speaks it: request signing, credentials, Converse, ConverseStream and the
// AWS eventstream. It knows nothing about OpenAI; translation lives elsewhere.
package bedrock

import "encoding/json"

// ConverseRequest is the JSON body of POST /model/{modelId}/converse and
// /converse-stream. The model id travels in the path, not the body.
type ConverseRequest struct {
	Messages                          []Message          `json:"messages"`
	System                            []SystemBlock      `json:"system,omitempty"`
	InferenceConfig                   *InferenceConfig   `json:"inferenceConfig,omitempty"`
	ToolConfig                        *ToolConfig        `json:"toolConfig,omitempty"`
	GuardrailConfig                   *GuardrailConfig   `json:"guardrailConfig,omitempty"`
	AdditionalModelRequestFields      json.RawMessage    `json:"additionalModelRequestFields,omitempty"`
	AdditionalModelResponseFieldPaths []string           `json:"additionalModelResponseFieldPaths,omitempty"`
	RequestMetadata                   map[string]string  `json:"requestMetadata,omitempty"`
	PerformanceConfig                 *PerformanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier                       *ServiceTier       `json:"serviceTier,omitempty"`
	OutputConfig                      *OutputConfig      `json:"outputConfig,omitempty"`
}

// OutputConfig constrains the answer's text: structured output.
type OutputConfig struct {
	TextFormat *OutputFormat `json:"textFormat,omitempty"`
}

// OutputFormat is the format the answer's text must take.
type OutputFormat struct {
	Type      string                `json:"type"` // "json_schema"
	Structure OutputFormatStructure `json:"structure"`
}

// OutputFormatStructure is a union; only JSONSchema is defined today.
type OutputFormatStructure struct {
	JSONSchema *JSONSchemaDefinition `json:"jsonSchema,omitempty"`
}

// JSONSchemaDefinition carries the schema as a string of JSON, as Bedrock
// takes it.
type JSONSchemaDefinition struct {
	Schema      string `json:"schema"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

// Message is one conversation turn. Bedrock requires turns to alternate
// between "user" and "assistant", starting with "user".
type Message struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"content"`
}

// ContentBlock is a union: exactly one field is set.
type ContentBlock struct {
	Text             *string           `json:"text,omitempty"`
	Image            *ImageBlock       `json:"image,omitempty"`
	Document         *DocumentBlock    `json:"document,omitempty"`
	ToolUse          *ToolUseBlock     `json:"toolUse,omitempty"`
	ToolResult       *ToolResultBlock  `json:"toolResult,omitempty"`
	GuardContent     json.RawMessage   `json:"guardContent,omitempty"`
	CachePoint       *CachePointBlock  `json:"cachePoint,omitempty"`
	ReasoningContent *ReasoningContent `json:"reasoningContent,omitempty"`
}

// SystemBlock is a union of the blocks allowed in the system prompt.
type SystemBlock struct {
	Text         *string          `json:"text,omitempty"`
	GuardContent json.RawMessage  `json:"guardContent,omitempty"`
	CachePoint   *CachePointBlock `json:"cachePoint,omitempty"`
}

// ImageBlock carries raw image bytes (base64 in JSON, as []byte encodes).
type ImageBlock struct {
	Format string      `json:"format"` // png | jpeg | gif | webp
	Source ImageSource `json:"source"`
}

// ImageSource holds the image bytes.
type ImageSource struct {
	Bytes []byte `json:"bytes"`
}

// DocumentBlock carries a document (pdf, csv, txt, ...).
type DocumentBlock struct {
	Format string         `json:"format"`
	Name   string         `json:"name"`
	Source DocumentSource `json:"source"`
}

// DocumentSource holds the document bytes.
type DocumentSource struct {
	Bytes []byte `json:"bytes"`
}

// ToolUseBlock is a tool call made by the model.
type ToolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

// ToolResultBlock answers a ToolUseBlock in the next user turn.
type ToolResultBlock struct {
	ToolUseID string              `json:"toolUseId"`
	Content   []ToolResultContent `json:"content"`
	Status    string              `json:"status,omitempty"` // success | error
}

// ToolResultContent is a union: exactly one field is set.
type ToolResultContent struct {
	Text     *string         `json:"text,omitempty"`
	JSON     json.RawMessage `json:"json,omitempty"`
	Image    *ImageBlock     `json:"image,omitempty"`
	Document *DocumentBlock  `json:"document,omitempty"`
}

// CachePointBlock marks the end of a cacheable prompt prefix.
type CachePointBlock struct {
	Type string `json:"type"`          // "default"
	TTL  string `json:"ttl,omitempty"` // CacheTTLs; none: Bedrock's 5 minutes
}

// CacheTTLs are the values CachePointBlock.TTL may take.
var CacheTTLs = []string{"5m", "1h"}

// ReasoningContent is a union of visible (signed) and redacted reasoning.
type ReasoningContent struct {
	ReasoningText   *ReasoningText `json:"reasoningText,omitempty"`
	RedactedContent []byte         `json:"redactedContent,omitempty"`
}

// ReasoningText is the model's visible reasoning with its signature.
type ReasoningText struct {
	Text      string `json:"text"`
	Signature string `json:"signature,omitempty"`
}

// InferenceConfig holds the inference parameters Converse knows by name.
type InferenceConfig struct {
	MaxTokens     *int     `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// ToolConfig lists the tools the model may call and how it must choose.
type ToolConfig struct {
	Tools      []Tool      `json:"tools"`
	ToolChoice *ToolChoice `json:"toolChoice,omitempty"`
}

// Tool is a union of a tool specification and a cache point.
type Tool struct {
	ToolSpec   *ToolSpec        `json:"toolSpec,omitempty"`
	CachePoint *CachePointBlock `json:"cachePoint,omitempty"`
}

// ToolSpec describes one tool.
type ToolSpec struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema ToolInputSchema `json:"inputSchema"`
}

// ToolInputSchema wraps the tool's JSON schema.
type ToolInputSchema struct {
	JSON json.RawMessage `json:"json"`
}

// ToolChoice is a union: auto, any or a named tool.
type ToolChoice struct {
	Auto *struct{}     `json:"auto,omitempty"`
	Any  *struct{}     `json:"any,omitempty"`
	Tool *SpecificTool `json:"tool,omitempty"`
}

// SpecificTool names the tool the model must call.
type SpecificTool struct {
	Name string `json:"name"`
}

// GuardrailConfig applies a Bedrock guardrail to the call.
type GuardrailConfig struct {
	GuardrailIdentifier string `json:"guardrailIdentifier"`
	GuardrailVersion    string `json:"guardrailVersion"`
	Trace               string `json:"trace,omitempty"` // enabled | disabled | enabled_full
}

// ServiceTier is the capacity tier a call asks for, or was served on.
type ServiceTier struct {
	Type string `json:"type"` // priority | default | flex | reserved
}

// ServiceTiers are the values ServiceTier.Type may take.
var ServiceTiers = []string{"priority", "default", "flex", "reserved"}

// PerformanceConfig selects latency-optimised inference.
type PerformanceConfig struct {
	Latency string `json:"latency"` // standard | optimized
}

// ConverseResponse is the JSON body Converse answers with.
type ConverseResponse struct {
	Output                        ConverseOutput     `json:"output"`
	StopReason                    string             `json:"stopReason"`
	Usage                         TokenUsage         `json:"usage"`
	Metrics                       *Metrics           `json:"metrics,omitempty"`
	AdditionalModelResponseFields json.RawMessage    `json:"additionalModelResponseFields,omitempty"`
	Trace                         json.RawMessage    `json:"trace,omitempty"`
	PerformanceConfig             *PerformanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier                   *ServiceTier       `json:"serviceTier,omitempty"`
}

// ConverseOutput is a union; only Message is defined today.
type ConverseOutput struct {
	Message *Message `json:"message,omitempty"`
}

// TokenUsage counts tokens. InputTokens excludes cache reads and writes.
type TokenUsage struct {
	InputTokens           int `json:"inputTokens"`
	OutputTokens          int `json:"outputTokens"`
	TotalTokens           int `json:"totalTokens"`
	CacheReadInputTokens  int `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokens int `json:"cacheWriteInputTokens,omitempty"`
}

// Metrics reports the call's latency as Bedrock measured it.
type Metrics struct {
	LatencyMs int64 `json:"latencyMs"`
}

// Stop reasons Bedrock reports.
const (
	StopEndTurn                    = "end_turn"
	StopToolUse                    = "tool_use"
	StopMaxTokens                  = "max_tokens"
	StopSequence                   = "stop_sequence"
	StopGuardrailIntervened        = "guardrail_intervened"
	StopContentFiltered            = "content_filtered"
	StopMalformedModelOutput       = "malformed_model_output"
	StopMalformedToolUse           = "malformed_tool_use"
	StopModelContextWindowExceeded = "model_context_window_exceeded"
)
