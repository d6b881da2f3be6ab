package bedrock

import "encoding/json"

// Event types of a ConverseStream response: the value of an eventstream
// message's ":event-type" header. Each payload is the JSON of the matching
// struct below.
const (
	EventMessageStart      = "messageStart"
	EventContentBlockStart = "contentBlockStart"
	EventContentBlockDelta = "contentBlockDelta"
	EventContentBlockStop  = "contentBlockStop"
	EventMessageStop       = "messageStop"
	EventMetadata          = "metadata"
)

// MessageStartEvent opens the assistant message.
type MessageStartEvent struct {
	Role string `json:"role"`
}

// ContentBlockStartEvent opens a content block that needs a header, such as
// a tool call. Text blocks start with their first delta instead.
type ContentBlockStartEvent struct {
	ContentBlockIndex int               `json:"contentBlockIndex"`
	Start             ContentBlockStart `json:"start"`
}

// ContentBlockStart is a union; tool use is the one that matters for chat.
type ContentBlockStart struct {
	ToolUse *ToolUseStart `json:"toolUse,omitempty"`
}

// ToolUseStart names a tool call before its input streams in.
type ToolUseStart struct {
	ToolUseID string `json:"toolUseId"`
	Name      string `json:"name"`
}

// ContentBlockDeltaEvent carries one piece of a content block.
type ContentBlockDeltaEvent struct {
	ContentBlockIndex int               `json:"contentBlockIndex"`
	Delta             ContentBlockDelta `json:"delta"`
}

// ContentBlockDelta is a union: exactly one field is set.
type ContentBlockDelta struct {
	Text             *string         `json:"text,omitempty"`
	ToolUse          *ToolUseDelta   `json:"toolUse,omitempty"`
	ReasoningContent *ReasoningDelta `json:"reasoningContent,omitempty"`
}

// ToolUseDelta is a fragment of a tool call's JSON input.
type ToolUseDelta struct {
	Input string `json:"input"`
}

// ReasoningDelta is a union of reasoning text, its signature and redacted
// reasoning bytes.
type ReasoningDelta struct {
	Text            *string `json:"text,omitempty"`
	Signature       *string `json:"signature,omitempty"`
	RedactedContent []byte  `json:"redactedContent,omitempty"`
}

// ContentBlockStopEvent closes a content block.
type ContentBlockStopEvent struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
}

// MessageStopEvent closes the message with the reason it stopped.
type MessageStopEvent struct {
	StopReason                    string          `json:"stopReason"`
	AdditionalModelResponseFields json.RawMessage `json:"additionalModelResponseFields,omitempty"`
}

// MetadataEvent is the stream's last event: usage and metrics.
type MetadataEvent struct {
	Usage             TokenUsage         `json:"usage"`
	Metrics           *Metrics           `json:"metrics,omitempty"`
	Trace             json.RawMessage    `json:"trace,omitempty"`
	PerformanceConfig *PerformanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier       *ServiceTier       `json:"serviceTier,omitempty"`
}

// StreamEvent is one decoded ConverseStream event: exactly one field is set.
type StreamEvent struct {
	MessageStart      *MessageStartEvent
	ContentBlockStart *ContentBlockStartEvent
	ContentBlockDelta *ContentBlockDeltaEvent
	ContentBlockStop  *ContentBlockStopEvent
	MessageStop       *MessageStopEvent
	Metadata          *MetadataEvent
}
