package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
)

// ResponsesRequest is the body of POST /responses. Fields OpenAI defines
// are typed; OpenAI platform parameters with no Bedrock meaning land in
// Ignored, every other key in Extra, as for chat.
type ResponsesRequest struct {
	Model              string            `json:"model"`
	Input              Input             `json:"input"`
	Instructions       *string           `json:"instructions,omitempty"`
	Tools              []ResponsesTool   `json:"tools,omitempty"`
	ToolChoice         json.RawMessage   `json:"tool_choice,omitempty"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls,omitempty"`
	Text               *TextConfig       `json:"text,omitempty"`
	Reasoning          *ReasoningConfig  `json:"reasoning,omitempty"`
	MaxOutputTokens    *int              `json:"max_output_tokens,omitempty"`
	Temperature        *float64          `json:"temperature,omitempty"`
	TopP               *float64          `json:"top_p,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	User               string            `json:"user,omitempty"`
	Stream             bool              `json:"stream,omitempty"`
	Store              *bool             `json:"store,omitempty"`
	PreviousResponseID string            `json:"previous_response_id,omitempty"`
	Include            []string          `json:"include,omitempty"`

	// Unsupported collects parameters Strata cannot honour (conversation,
	// prompt, background...), by name, so the request can be refused.
	Unsupported map[string]json.RawMessage `json:"-"`
	// Ignored collects OpenAI platform parameters with no effect on Bedrock
	// (prompt_cache_key, service_tier, client_metadata...), for logging.
	Ignored map[string]json.RawMessage `json:"-"`
	// Extra collects every other key: provider-specific parameters and the
	// gateway's own routing keys.
	Extra map[string]json.RawMessage `json:"-"`
}

// IncludeReasoningEncrypted is the include value that asks for reasoning
// items' encrypted_content.
const IncludeReasoningEncrypted = "reasoning.encrypted_content"

// StoreOrDefault reports whether the response is to be kept: store
// defaults to true, as on OpenAI.
func (r *ResponsesRequest) StoreOrDefault() bool { return r.Store == nil || *r.Store }

// Includes reports whether include names v.
func (r *ResponsesRequest) Includes(v string) bool {
	for _, s := range r.Include {
		if s == v {
			return true
		}
	}
	return false
}

var responsesRequestFields = map[string]bool{
	"model": true, "input": true, "instructions": true, "tools": true, "tool_choice": true,
	"parallel_tool_calls": true, "text": true, "reasoning": true, "max_output_tokens": true,
	"temperature": true, "top_p": true, "metadata": true, "user": true, "stream": true,
	"store": true, "previous_response_id": true, "include": true,
}

// unsupportedResponsesParams change what a response is in ways Bedrock
// cannot follow; a request that sets one is refused unless the value is
// neutral (see translation).
var unsupportedResponsesParams = map[string]bool{
	"conversation": true, "prompt": true, "background": true, "top_logprobs": true,
	"max_tool_calls": true, "context_management": true,
}

// ignoredResponsesParams only concern OpenAI's platform or the client.
var ignoredResponsesParams = map[string]bool{
	"prompt_cache_key": true, "prompt_cache_retention": true, "safety_identifier": true,
	"service_tier": true, "truncation": true, "stream_options": true, "client_metadata": true,
}

// UnmarshalJSON decodes the typed fields and sorts the other keys.
func (r *ResponsesRequest) UnmarshalJSON(b []byte) error {
	type plain ResponsesRequest
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	return eachMember(b, responsesRequestFields, func(k string, v json.RawMessage) {
		into := &r.Extra
		switch {
		case unsupportedResponsesParams[k]:
			into = &r.Unsupported
		case ignoredResponsesParams[k]:
			into = &r.Ignored
		}
		if *into == nil {
			*into = make(map[string]json.RawMessage)
		}
		(*into)[k] = v
	})
}

// Input is the request's input: a string (one user message) or a list of
// items.
type Input struct {
	Text  *string
	Items []Item
}

// UnmarshalJSON accepts a string or an array of items.
func (in *Input) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*in = Input{}
		return nil
	case b[0] == '"':
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*in = Input{Text: &s}
		return nil
	case b[0] == '[':
		var items []Item
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		*in = Input{Items: items}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[Input]()}
}

// Expected says what an input value may be, for the error that names it.
func (Input) Expected() string { return "a string or an array of input items" }

// MarshalJSON writes the string or the items.
func (in Input) MarshalJSON() ([]byte, error) {
	if in.Text != nil {
		return json.Marshal(*in.Text)
	}
	if in.Items == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(in.Items)
}

// ResponsesTool is one entry of tools. Function tools and namespaces (a
// named group of function tools) are typed; the raw entry is kept so the
// response can echo it and unknown types can be named.
type ResponsesTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
	// Tools are a namespace's members.
	Tools []ResponsesTool `json:"tools,omitempty"`

	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps the raw entry beside the typed fields.
func (t *ResponsesTool) UnmarshalJSON(b []byte) error {
	type plain ResponsesTool
	if err := json.Unmarshal(b, (*plain)(t)); err != nil {
		return err
	}
	t.Raw = bytes.Clone(b)
	return nil
}

// MarshalJSON echoes the tool as it was given.
func (t ResponsesTool) MarshalJSON() ([]byte, error) {
	if t.Raw != nil {
		return t.Raw, nil
	}
	type plain ResponsesTool
	return json.Marshal(plain(t))
}

// TextConfig is text: the output format.
type TextConfig struct {
	Format    *TextFormat `json:"format,omitempty"`
	Verbosity string      `json:"verbosity,omitempty"`
}

// TextFormat is text.format: text, json_object, or json_schema with the
// schema inline (not nested as in chat's response_format).
type TextFormat struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ReasoningConfig is reasoning: how hard to think and whether to summarize.
type ReasoningConfig struct {
	Effort          *string `json:"effort"`
	Summary         *string `json:"summary"`
	GenerateSummary *string `json:"generate_summary,omitempty"`
}

// Item is an input or output item: a message, a function call or its
// output, a reasoning item, or a reference to an earlier item. Which
// fields apply depends on Type; MarshalJSON writes only those.
type Item struct {
	Type   string `json:"type,omitempty"`
	ID     string `json:"id,omitempty"`
	Status string `json:"status,omitempty"`

	// message
	Role    string      `json:"role,omitempty"`
	Content ItemContent `json:"content,omitzero"`

	// function_call and function_call_output
	CallID    string          `json:"call_id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Namespace string          `json:"namespace,omitempty"`
	Arguments string          `json:"arguments,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`

	// reasoning
	Summary          []Part  `json:"summary,omitempty"`
	EncryptedContent *string `json:"encrypted_content,omitempty"`
}

// Item types.
const (
	ItemMessage            = "message"
	ItemFunctionCall       = "function_call"
	ItemFunctionCallOutput = "function_call_output"
	ItemReasoning          = "reasoning"
	ItemReference          = "item_reference"
)

// MarshalJSON writes the fields of the item's type, with the required ones
// present even when empty, as OpenAI writes them.
func (it Item) MarshalJSON() ([]byte, error) {
	switch it.Type {
	case ItemMessage:
		parts := it.Content.Parts
		if it.Content.Text != nil {
			kind := PartInputText
			if it.Role == "assistant" {
				kind = PartOutputText
			}
			parts = []Part{{Type: kind, Text: *it.Content.Text}}
		}
		if parts == nil {
			parts = []Part{}
		}
		return json.Marshal(struct {
			ID      string `json:"id,omitempty"`
			Type    string `json:"type"`
			Status  string `json:"status,omitempty"`
			Role    string `json:"role"`
			Content []Part `json:"content"`
		}{it.ID, it.Type, it.Status, it.Role, parts})
	case ItemFunctionCall:
		return json.Marshal(struct {
			ID        string `json:"id,omitempty"`
			Type      string `json:"type"`
			Status    string `json:"status,omitempty"`
			Arguments string `json:"arguments"`
			CallID    string `json:"call_id"`
			Name      string `json:"name"`
			Namespace string `json:"namespace,omitempty"`
		}{it.ID, it.Type, it.Status, it.Arguments, it.CallID, it.Name, it.Namespace})
	case ItemFunctionCallOutput:
		out := it.Output
		if out == nil {
			out = json.RawMessage(`""`)
		}
		return json.Marshal(struct {
			ID     string          `json:"id,omitempty"`
			Type   string          `json:"type"`
			Status string          `json:"status,omitempty"`
			CallID string          `json:"call_id"`
			Output json.RawMessage `json:"output"`
		}{it.ID, it.Type, it.Status, it.CallID, out})
	case ItemReasoning:
		summary := it.Summary
		if summary == nil {
			summary = []Part{}
		}
		return json.Marshal(struct {
			ID               string  `json:"id"`
			Type             string  `json:"type"`
			Status           string  `json:"status,omitempty"`
			Summary          []Part  `json:"summary"`
			Content          []Part  `json:"content,omitempty"`
			EncryptedContent *string `json:"encrypted_content,omitempty"`
		}{it.ID, it.Type, it.Status, summary, it.Content.Parts, it.EncryptedContent})
	}
	type plain Item
	return json.Marshal(plain(it))
}

// ItemContent is a message's content: a string or a list of parts. A
// reasoning item's content is a list of reasoning_text parts.
type ItemContent struct {
	Text  *string
	Parts []Part
}

// IsZero lets omitzero leave out content that was never set.
func (c ItemContent) IsZero() bool { return c.Text == nil && c.Parts == nil }

// UnmarshalJSON accepts null, a string, or an array of parts.
func (c *ItemContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*c = ItemContent{}
		return nil
	case b[0] == '"':
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*c = ItemContent{Text: &s}
		return nil
	case b[0] == '[':
		var parts []Part
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		if parts == nil {
			parts = []Part{}
		}
		*c = ItemContent{Parts: parts}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[ItemContent]()}
}

// Expected says what an item's content may be, for the error that names it.
func (ItemContent) Expected() string { return "a string, an array of content parts, or null" }

// MarshalJSON writes the string or the parts.
func (c ItemContent) MarshalJSON() ([]byte, error) {
	if c.Text != nil {
		return json.Marshal(*c.Text)
	}
	if c.Parts == nil {
		return []byte("null"), nil
	}
	return json.Marshal(c.Parts)
}

// Part is one content part of an item.
type Part struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
	// input_image: image_url is a URL or a data: URL.
	ImageURL string `json:"image_url,omitempty"`
	Detail   string `json:"detail,omitempty"`
	// input_image and input_file
	FileID   string `json:"file_id,omitempty"`
	FileData string `json:"file_data,omitempty"`
	FileURL  string `json:"file_url,omitempty"`
	Filename string `json:"filename,omitempty"`
	// refusal
	Refusal string `json:"refusal,omitempty"`
}

// Part types.
const (
	PartInputText     = "input_text"
	PartInputImage    = "input_image"
	PartInputFile     = "input_file"
	PartOutputText    = "output_text"
	PartRefusal       = "refusal"
	PartSummaryText   = "summary_text"
	PartReasoningText = "reasoning_text"
)

// MarshalJSON writes the fields of the part's type, required ones included.
func (p Part) MarshalJSON() ([]byte, error) {
	switch p.Type {
	case PartOutputText:
		return json.Marshal(struct {
			Type        string `json:"type"`
			Annotations []any  `json:"annotations"`
			Logprobs    []any  `json:"logprobs"`
			Text        string `json:"text"`
		}{p.Type, []any{}, []any{}, p.Text})
	case PartInputText, PartSummaryText, PartReasoningText:
		return json.Marshal(struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}{p.Type, p.Text})
	case PartRefusal:
		return json.Marshal(struct {
			Type    string `json:"type"`
			Refusal string `json:"refusal"`
		}{p.Type, p.Refusal})
	case PartInputImage:
		detail := p.Detail
		if detail == "" {
			detail = "auto"
		}
		return json.Marshal(struct {
			Type     string `json:"type"`
			Detail   string `json:"detail"`
			FileID   string `json:"file_id,omitempty"`
			ImageURL string `json:"image_url,omitempty"`
		}{p.Type, detail, p.FileID, p.ImageURL})
	}
	type plain Part
	return json.Marshal(plain(p))
}

// Response is the response object: the answer to POST /responses, what
// GET /responses/{id} reads back, and what stream events carry.
type Response struct {
	ID                 string             `json:"id"`
	Object             string             `json:"object"` // response
	CreatedAt          int64              `json:"created_at"`
	Status             string             `json:"status"`
	CompletedAt        *int64             `json:"completed_at"`
	Error              *ResponseError     `json:"error"`
	IncompleteDetails  *IncompleteDetails `json:"incomplete_details"`
	Instructions       *string            `json:"instructions"`
	MaxOutputTokens    *int               `json:"max_output_tokens"`
	Model              string             `json:"model"`
	Output             []Item             `json:"output"`
	ParallelToolCalls  bool               `json:"parallel_tool_calls"`
	PreviousResponseID *string            `json:"previous_response_id"`
	Reasoning          ReasoningConfig    `json:"reasoning"`
	Store              bool               `json:"store"`
	Temperature        *float64           `json:"temperature"`
	Text               TextConfig         `json:"text"`
	ToolChoice         json.RawMessage    `json:"tool_choice"`
	Tools              []ResponsesTool    `json:"tools"`
	TopP               *float64           `json:"top_p"`
	Truncation         string             `json:"truncation"`
	Usage              *ResponseUsage     `json:"usage"`
	User               *string            `json:"user"`
	Metadata           map[string]string  `json:"metadata"`
}

// Response statuses.
const (
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
	StatusIncomplete = "incomplete"
	StatusFailed     = "failed"
)

// ResponseError is a failed response's error.
type ResponseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// IncompleteDetails says why a response is incomplete: max_output_tokens
// or content_filter.
type IncompleteDetails struct {
	Reason string `json:"reason"`
}

// ResponseUsage counts a response's tokens. InputTokens includes cached
// tokens, as OpenAI counts them.
type ResponseUsage struct {
	InputTokens         int                 `json:"input_tokens"`
	InputTokensDetails  InputTokensDetails  `json:"input_tokens_details"`
	OutputTokens        int                 `json:"output_tokens"`
	OutputTokensDetails OutputTokensDetails `json:"output_tokens_details"`
	TotalTokens         int                 `json:"total_tokens"`
}

// InputTokensDetails breaks InputTokens down.
type InputTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// OutputTokensDetails breaks OutputTokens down.
type OutputTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// ResponseDeleted answers DELETE /responses/{id}.
type ResponseDeleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // response
	Deleted bool   `json:"deleted"`
}

// ItemList answers GET /responses/{id}/input_items.
type ItemList struct {
	Object  string  `json:"object"` // list
	Data    []Item  `json:"data"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
	HasMore bool    `json:"has_more"`
}

// ResponseEvent is one server-sent event of a streamed response. Which
// fields apply depends on Type; MarshalJSON writes only those, in the
// order OpenAI writes them.
type ResponseEvent struct {
	Type           string
	SequenceNumber int

	Response *Response // response.created, .in_progress, .completed, .incomplete, .failed

	OutputIndex  int
	ItemID       string
	Item         *Item // response.output_item.added and .done
	ContentIndex int
	SummaryIndex int
	Part         *Part  // response.content_part.*, response.reasoning_summary_part.*
	Delta        string // *.delta
	Text         string // *.done: the text, refusal or arguments

	// error
	Code, Message, Param string
}

// Event types of a streamed response.
const (
	EventCreated            = "response.created"
	EventInProgress         = "response.in_progress"
	EventCompleted          = "response.completed"
	EventIncomplete         = "response.incomplete"
	EventFailed             = "response.failed"
	EventOutputItemAdded    = "response.output_item.added"
	EventOutputItemDone     = "response.output_item.done"
	EventContentPartAdded   = "response.content_part.added"
	EventContentPartDone    = "response.content_part.done"
	EventOutputTextDelta    = "response.output_text.delta"
	EventOutputTextDone     = "response.output_text.done"
	EventRefusalDelta       = "response.refusal.delta"
	EventRefusalDone        = "response.refusal.done"
	EventArgumentsDelta     = "response.function_call_arguments.delta"
	EventArgumentsDone      = "response.function_call_arguments.done"
	EventSummaryPartAdded   = "response.reasoning_summary_part.added"
	EventSummaryPartDone    = "response.reasoning_summary_part.done"
	EventSummaryTextDelta   = "response.reasoning_summary_text.delta"
	EventSummaryTextDone    = "response.reasoning_summary_text.done"
	EventReasoningTextDelta = "response.reasoning_text.delta"
	EventReasoningTextDone  = "response.reasoning_text.done"
	EventError              = "error"
)

// MarshalJSON writes the event's own fields.
func (e *ResponseEvent) MarshalJSON() ([]byte, error) {
	switch e.Type {
	case EventCreated, EventInProgress, EventCompleted, EventIncomplete, EventFailed:
		return json.Marshal(struct {
			Type     string    `json:"type"`
			Response *Response `json:"response"`
			Seq      int       `json:"sequence_number"`
		}{e.Type, e.Response, e.SequenceNumber})
	case EventOutputItemAdded, EventOutputItemDone:
		return json.Marshal(struct {
			Type        string `json:"type"`
			Item        *Item  `json:"item"`
			OutputIndex int    `json:"output_index"`
			Seq         int    `json:"sequence_number"`
		}{e.Type, e.Item, e.OutputIndex, e.SequenceNumber})
	case EventContentPartAdded, EventContentPartDone:
		return json.Marshal(struct {
			Type         string `json:"type"`
			ContentIndex int    `json:"content_index"`
			ItemID       string `json:"item_id"`
			OutputIndex  int    `json:"output_index"`
			Part         *Part  `json:"part"`
			Seq          int    `json:"sequence_number"`
		}{e.Type, e.ContentIndex, e.ItemID, e.OutputIndex, e.Part, e.SequenceNumber})
	case EventOutputTextDelta, EventReasoningTextDelta, EventRefusalDelta:
		return json.Marshal(struct {
			Type         string `json:"type"`
			ContentIndex int    `json:"content_index"`
			Delta        string `json:"delta"`
			ItemID       string `json:"item_id"`
			Logprobs     *[]any `json:"logprobs,omitempty"`
			OutputIndex  int    `json:"output_index"`
			Seq          int    `json:"sequence_number"`
		}{e.Type, e.ContentIndex, e.Delta, e.ItemID, textLogprobs(e.Type), e.OutputIndex, e.SequenceNumber})
	case EventOutputTextDone, EventReasoningTextDone:
		return json.Marshal(struct {
			Type         string `json:"type"`
			ContentIndex int    `json:"content_index"`
			ItemID       string `json:"item_id"`
			Logprobs     *[]any `json:"logprobs,omitempty"`
			OutputIndex  int    `json:"output_index"`
			Seq          int    `json:"sequence_number"`
			Text         string `json:"text"`
		}{e.Type, e.ContentIndex, e.ItemID, textLogprobs(e.Type), e.OutputIndex, e.SequenceNumber, e.Text})
	case EventRefusalDone:
		return json.Marshal(struct {
			Type         string `json:"type"`
			ContentIndex int    `json:"content_index"`
			ItemID       string `json:"item_id"`
			OutputIndex  int    `json:"output_index"`
			Refusal      string `json:"refusal"`
			Seq          int    `json:"sequence_number"`
		}{e.Type, e.ContentIndex, e.ItemID, e.OutputIndex, e.Text, e.SequenceNumber})
	case EventArgumentsDelta:
		return json.Marshal(struct {
			Type        string `json:"type"`
			Delta       string `json:"delta"`
			ItemID      string `json:"item_id"`
			OutputIndex int    `json:"output_index"`
			Seq         int    `json:"sequence_number"`
		}{e.Type, e.Delta, e.ItemID, e.OutputIndex, e.SequenceNumber})
	case EventArgumentsDone:
		return json.Marshal(struct {
			Type        string `json:"type"`
			Arguments   string `json:"arguments"`
			ItemID      string `json:"item_id"`
			OutputIndex int    `json:"output_index"`
			Seq         int    `json:"sequence_number"`
		}{e.Type, e.Text, e.ItemID, e.OutputIndex, e.SequenceNumber})
	case EventSummaryPartAdded, EventSummaryPartDone:
		return json.Marshal(struct {
			Type         string `json:"type"`
			ItemID       string `json:"item_id"`
			OutputIndex  int    `json:"output_index"`
			Part         *Part  `json:"part"`
			Seq          int    `json:"sequence_number"`
			SummaryIndex int    `json:"summary_index"`
		}{e.Type, e.ItemID, e.OutputIndex, e.Part, e.SequenceNumber, e.SummaryIndex})
	case EventSummaryTextDelta:
		return json.Marshal(struct {
			Type         string `json:"type"`
			Delta        string `json:"delta"`
			ItemID       string `json:"item_id"`
			OutputIndex  int    `json:"output_index"`
			Seq          int    `json:"sequence_number"`
			SummaryIndex int    `json:"summary_index"`
		}{e.Type, e.Delta, e.ItemID, e.OutputIndex, e.SequenceNumber, e.SummaryIndex})
	case EventSummaryTextDone:
		return json.Marshal(struct {
			Type         string `json:"type"`
			ItemID       string `json:"item_id"`
			OutputIndex  int    `json:"output_index"`
			Seq          int    `json:"sequence_number"`
			SummaryIndex int    `json:"summary_index"`
			Text         string `json:"text"`
		}{e.Type, e.ItemID, e.OutputIndex, e.SequenceNumber, e.SummaryIndex, e.Text})
	case EventError:
		var param *string
		if e.Param != "" {
			param = &e.Param
		}
		return json.Marshal(struct {
			Type    string  `json:"type"`
			Code    string  `json:"code"`
			Message string  `json:"message"`
			Param   *string `json:"param"`
			Seq     int     `json:"sequence_number"`
		}{e.Type, e.Code, e.Message, param, e.SequenceNumber})
	}
	return nil, errors.New("unknown response event type " + e.Type)
}

// textLogprobs is the logprobs field output_text events carry (always
// empty: Bedrock gives none) and other text events leave out.
func textLogprobs(eventType string) *[]any {
	if eventType == EventOutputTextDelta || eventType == EventOutputTextDone {
		return &[]any{}
	}
	return nil
}

// AppendJSON appends the event's JSON to b. Deltas, most of a stream, are
// written without reflection; other events go through MarshalJSON.
func (e *ResponseEvent) AppendJSON(b []byte) ([]byte, error) {
	switch e.Type {
	case EventOutputTextDelta, EventReasoningTextDelta, EventRefusalDelta:
		b = append(b, `{"type":`...)
		b = appendJSONString(b, e.Type)
		b = append(b, `,"content_index":`...)
		b = strconv.AppendInt(b, int64(e.ContentIndex), 10)
		b = append(b, `,"delta":`...)
		b = appendJSONString(b, e.Delta)
		b = append(b, `,"item_id":`...)
		b = appendJSONString(b, e.ItemID)
		if e.Type == EventOutputTextDelta {
			b = append(b, `,"logprobs":[]`...)
		}
	case EventArgumentsDelta, EventSummaryTextDelta:
		b = append(b, `{"type":`...)
		b = appendJSONString(b, e.Type)
		b = append(b, `,"delta":`...)
		b = appendJSONString(b, e.Delta)
		b = append(b, `,"item_id":`...)
		b = appendJSONString(b, e.ItemID)
	default:
		raw, err := e.MarshalJSON()
		return append(b, raw...), err
	}
	b = append(b, `,"output_index":`...)
	b = strconv.AppendInt(b, int64(e.OutputIndex), 10)
	b = append(b, `,"sequence_number":`...)
	b = strconv.AppendInt(b, int64(e.SequenceNumber), 10)
	if e.Type == EventSummaryTextDelta {
		b = append(b, `,"summary_index":`...)
		b = strconv.AppendInt(b, int64(e.SummaryIndex), 10)
	}
	return append(b, '}'), nil
}
