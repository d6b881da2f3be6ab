package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
)

// MessagesRequest is a POST /v1/messages body. Raw keeps every key the
// client sent, as sent, so that a Claude deployment gets the body it was
// written for (cache_control, citations, betas' own fields) without Strata
// having to know each one; the typed fields are the ones Strata reads.
type MessagesRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int             `json:"max_tokens"`
	Messages      []Message       `json:"messages"`
	System        Content         `json:"system,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	TopK          *int            `json:"top_k,omitempty"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Tools         []Tool          `json:"tools,omitempty"`
	ToolChoice    *ToolChoice     `json:"tool_choice,omitempty"`
	Thinking      *Thinking       `json:"thinking,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`

	Raw map[string]json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes the typed fields and keeps the raw keys.
func (r *MessagesRequest) UnmarshalJSON(b []byte) error {
	type plain MessagesRequest
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	return json.Unmarshal(b, &r.Raw)
}

// Message is one turn. Content is a string or a list of blocks on the
// wire; it is always blocks here.
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Content is a list of content blocks that also decodes from a plain
// string, as the API accepts for message content, system and tool results.
type Content []ContentBlock

// UnmarshalJSON accepts a string (one text block) or a list of blocks.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = Content{{Type: "text", Text: s}}
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*c = nil
		return nil
	}
	var blocks []ContentBlock
	if err := json.Unmarshal(b, &blocks); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			// The value itself is neither a string nor a list: the
			// decoder adds the field's path to a type error of Content.
			return &json.UnmarshalTypeError{Value: te.Value, Type: reflect.TypeFor[Content](), Offset: te.Offset}
		}
		return err
	}
	*c = blocks
	return nil
}

// Expected says what a type error of a Content expected.
func (Content) Expected() string { return "a string or an array of content blocks" }

// Text joins the text blocks.
func (c Content) Text() string {
	var b bytes.Buffer
	for _, blk := range c {
		if blk.Type == "text" {
			b.WriteString(blk.Text)
		}
	}
	return b.String()
}

// ContentBlock is any content block: text, image, document, tool_use,
// tool_result, thinking, redacted_thinking. Only the fields of its type are
// set.
type ContentBlock struct {
	Type string `json:"type"`

	Text string `json:"text,omitempty"`

	Source *Source `json:"source,omitempty"` // image, document
	Title  string  `json:"title,omitempty"`  // document

	ID    string          `json:"id,omitempty"`    // tool_use
	Name  string          `json:"name,omitempty"`  // tool_use
	Input json.RawMessage `json:"input,omitempty"` // tool_use

	ToolUseID string  `json:"tool_use_id,omitempty"` // tool_result
	Content   Content `json:"content,omitempty"`     // tool_result
	IsError   bool    `json:"is_error,omitempty"`    // tool_result

	Thinking  string `json:"thinking,omitempty"`  // thinking
	Signature string `json:"signature,omitempty"` // thinking
	Data      string `json:"data,omitempty"`      // redacted_thinking

	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// MarshalJSON writes the fields a block of its type always has, even when
// empty: a text block's text, a tool_use block's input, a thinking block's
// thinking and signature.
func (b ContentBlock) MarshalJSON() ([]byte, error) {
	switch b.Type {
	case "text":
		return json.Marshal(struct {
			Type         string          `json:"type"`
			Text         string          `json:"text"`
			CacheControl json.RawMessage `json:"cache_control,omitempty"`
		}{b.Type, b.Text, b.CacheControl})
	case "tool_use":
		input := b.Input
		if len(input) == 0 {
			input = json.RawMessage("{}")
		}
		return json.Marshal(struct {
			Type         string          `json:"type"`
			ID           string          `json:"id"`
			Name         string          `json:"name"`
			Input        json.RawMessage `json:"input"`
			CacheControl json.RawMessage `json:"cache_control,omitempty"`
		}{b.Type, b.ID, b.Name, input, b.CacheControl})
	case "thinking":
		return json.Marshal(struct {
			Type      string `json:"type"`
			Thinking  string `json:"thinking"`
			Signature string `json:"signature"`
		}{b.Type, b.Thinking, b.Signature})
	case "redacted_thinking":
		return json.Marshal(struct {
			Type string `json:"type"`
			Data string `json:"data"`
		}{b.Type, b.Data})
	}
	type plain ContentBlock
	return json.Marshal(plain(b))
}

// Source is where an image or document comes from: base64 data, a URL,
// or text (documents).
type Source struct {
	Type      string `json:"type"` // base64, url, text
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// Tool is a tool the model may call. Server tools (web search, bash...)
// carry a versioned type and no schema.
type Tool struct {
	Type         string          `json:"type,omitempty"`
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// ToolChoice is auto, any, tool (with Name) or none.
type ToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// Thinking is extended thinking: enabled (with a budget), adaptive or disabled.
type Thinking struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens,omitempty"`
}

// MessageResponse is a whole answer: the message object.
type MessageResponse struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"` // "message"
	Role         string  `json:"role"` // "assistant"
	Model        string  `json:"model"`
	Content      Content `json:"content"`
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
	Usage        Usage   `json:"usage"`
}

// Usage is the tokens of a call. The cache counts are always written,
// as the API does.
type Usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// Stop reasons.
const (
	StopEndTurn      = "end_turn"
	StopMaxTokens    = "max_tokens"
	StopSequence     = "stop_sequence"
	StopToolUse      = "tool_use"
	StopRefusal      = "refusal"
	StopPauseTurn    = "pause_turn"
	StopContextLimit = "model_context_window_exceeded"
)

// CountTokensResponse answers POST /v1/messages/count_tokens.
type CountTokensResponse struct {
	InputTokens int `json:"input_tokens"`
}
