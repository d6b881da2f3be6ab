package anthropic

import "encoding/json"

// Stream event types, each the SSE event name of its data.
const (
	EventMessageStart      = "message_start"
	EventContentBlockStart = "content_block_start"
	EventContentBlockDelta = "content_block_delta"
	EventContentBlockStop  = "content_block_stop"
	EventMessageDelta      = "message_delta"
	EventMessageStop       = "message_stop"
	EventPing              = "ping"
	EventError             = "error"
)

// Event is one stream event: Type names it (and its SSE event), Data is
// its whole JSON object, "type" included.
type Event struct {
	Type string
	Data json.RawMessage
}

// MessageStart opens a stream with the message, its content empty.
type MessageStart struct {
	Type    string          `json:"type"`
	Message MessageResponse `json:"message"`
}

// ContentBlockStart opens block Index.
type ContentBlockStart struct {
	Type         string       `json:"type"`
	Index        int          `json:"index"`
	ContentBlock ContentBlock `json:"content_block"`
}

// ContentBlockDelta adds to block Index.
type ContentBlockDelta struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
	Delta Delta  `json:"delta"`
}

// Delta is text_delta, input_json_delta, thinking_delta or signature_delta.
type Delta struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
	Thinking    *string `json:"thinking,omitempty"`
	Signature   *string `json:"signature,omitempty"`
}

// ContentBlockStop closes block Index.
type ContentBlockStop struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
}

// MessageDelta carries the stop reason and the final output count.
type MessageDelta struct {
	Type  string            `json:"type"`
	Delta MessageDeltaDelta `json:"delta"`
	Usage DeltaUsage        `json:"usage"`
}

// MessageDeltaDelta is the top-level change a message_delta makes.
type MessageDeltaDelta struct {
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// DeltaUsage is the usage a message_delta reports: cumulative output, and
// the input counts when known.
type DeltaUsage struct {
	InputTokens              *int `json:"input_tokens,omitempty"`
	OutputTokens             int  `json:"output_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens,omitempty"`
}

// TypeOnly is an event with nothing but its type (message_stop, ping).
type TypeOnly struct {
	Type string `json:"type"`
}
