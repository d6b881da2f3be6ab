package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"unicode/utf8"
)

// ChatRequest is the body of POST /chat/completions. Fields OpenAI defines
// are typed; every other top-level key lands in Extra, raw, because a
// non-OpenAI parameter is provider-specific and travels to the model.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Stop                StringOrList    `json:"stop,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	Functions           []Function      `json:"functions,omitempty"`
	FunctionCall        json.RawMessage `json:"function_call,omitempty"`
	ResponseFormat      *ResponseFormat `json:"response_format,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	User                string          `json:"user,omitempty"`
	// ServiceTier asks for a capacity tier: auto, default, flex or priority.
	ServiceTier string `json:"service_tier,omitempty"`

	// Unsupported collects OpenAI parameters Bedrock cannot honour, by name,
	// with the raw value, so translation can refuse or drop them by policy.
	Unsupported map[string]json.RawMessage `json:"-"`
	// Ignored collects OpenAI parameters that have no effect on Bedrock and
	// are safe to ignore (store, metadata...), for logging.
	Ignored map[string]json.RawMessage `json:"-"`
	// Extra collects every non-OpenAI key: provider-specific parameters.
	Extra map[string]json.RawMessage `json:"-"`
}

// StreamOptions is stream_options.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// ResponseFormat is response_format.
type ResponseFormat struct {
	Type       string          `json:"type"` // text | json_object | json_schema
	JSONSchema *JSONSchema     `json:"json_schema,omitempty"`
	Raw        json.RawMessage `json:"-"`
}

// JSONSchema is response_format.json_schema.
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// Tool is one entry of tools.
type Tool struct {
	Type     string   `json:"type"`
	Function Function `json:"function"`
	// CacheControl marks the tool list up to here as a cacheable prefix.
	CacheControl *CacheControl `json:"cache_control,omitempty"`
}

// Function describes a callable function.
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// CacheControl is the prompt-caching marker Anthropic-style clients send.
type CacheControl struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

// Message is one entry of messages.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	// FunctionCall is the legacy form of a single tool call.
	FunctionCall *FunctionCall `json:"function_call,omitempty"`
	// ThinkingBlocks carries reasoning blocks returned by an earlier answer,
	// in LiteLLM's shape, so they can be replayed to the model.
	ThinkingBlocks   []ThinkingBlock `json:"thinking_blocks,omitempty"`
	ReasoningContent *string         `json:"reasoning_content,omitempty"`
	CacheControl     *CacheControl   `json:"cache_control,omitempty"`
}

// Content is a message's content: null, a string, or a list of parts.
type Content struct {
	Text  *string
	Parts []ContentPart
}

// String returns the content as one string: the text, or its text parts
// joined with newlines. Non-text parts are not represented.
func (c Content) String() string {
	if c.Text != nil {
		return *c.Text
	}
	var b bytes.Buffer
	for i, p := range c.Parts {
		if p.Type != "text" {
			continue
		}
		if i > 0 && b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Text)
	}
	return b.String()
}

// IsEmpty reports whether the content carries nothing.
func (c Content) IsEmpty() bool { return c.Text == nil && len(c.Parts) == 0 }

// UnmarshalJSON accepts null, a string, or an array of parts.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*c = Content{}
		return nil
	case b[0] == '"':
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*c = Content{Text: &s}
		return nil
	case b[0] == '[':
		var parts []ContentPart
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		if parts == nil {
			parts = []ContentPart{}
		}
		*c = Content{Parts: parts}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[Content]()}
}

// Expected says what a content value may be, for the error that names it.
func (Content) Expected() string { return "a string, an array of content parts, or null" }

// jsonKind names a JSON value's kind as encoding/json's type errors do.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number " + string(b)
}

// MarshalJSON writes null, a string, or an array of parts.
func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.Text != nil:
		return json.Marshal(*c.Text)
	case c.Parts != nil:
		return json.Marshal(c.Parts)
	}
	return []byte("null"), nil
}

// ContentPart is one element of a content array.
type ContentPart struct {
	Type         string        `json:"type"` // text | image_url | file | refusal | ...
	Text         string        `json:"text,omitempty"`
	Refusal      string        `json:"refusal,omitempty"` // a refusal part's text, in assistant messages
	ImageURL     *ImageURL     `json:"image_url,omitempty"`
	File         *File         `json:"file,omitempty"`
	CacheControl *CacheControl `json:"cache_control,omitempty"`

	// NoText is set by decoding when the part has no text key (or a null
	// one): a text part without text is the client's mistake, which
	// translation names, rather than an empty part to skip.
	NoText bool `json:"-"`
}

// UnmarshalJSON decodes a part and notes whether its text was there.
func (p *ContentPart) UnmarshalJSON(b []byte) error {
	type plain ContentPart
	var v struct {
		plain
		Text *string `json:"text"` // shadows plain's, to see whether it was sent
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = ContentPart(v.plain)
	if v.Text != nil {
		p.Text = *v.Text
	} else {
		p.NoText = true
	}
	return nil
}

// ImageURL is an image part's source: a URL (http(s) or data:) and detail.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
	Format string `json:"format,omitempty"`

	// Fetched holds the image an http(s) URL pointed at, downloaded by the
	// server before translation.
	Fetched *FetchedImage `json:"-"`
}

// FetchedImage is a downloaded image and its media type.
type FetchedImage struct {
	MediaType string
	Data      []byte
}

// UnmarshalJSON accepts both {"url": ...} and a bare URL string, as LiteLLM does.
func (u *ImageURL) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &u.URL)
	}
	type plain ImageURL
	return json.Unmarshal(b, (*plain)(u))
}

// File is a file part: inline data (a data: URL or base64) with a filename.
type File struct {
	FileData string `json:"file_data,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	Filename string `json:"filename,omitempty"`
	Format   string `json:"format,omitempty"`
}

// ToolCall is a tool call in an assistant message or a response.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names a function and its JSON-encoded arguments.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// ThinkingBlock is one reasoning block in LiteLLM's shape:
// {"type":"thinking","thinking","signature"} or {"type":"redacted_thinking","data"}.
type ThinkingBlock struct {
	Type      string `json:"type"`
	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
	Data      string `json:"data,omitempty"`
}

// StringOrList is a parameter that may be a string or a list of strings.
type StringOrList []string

// Expected says what the value may be, for the error that names it.
func (StringOrList) Expected() string { return "a string or an array of strings" }

// UnmarshalJSON accepts null, "x" or ["x", "y"].
func (s *StringOrList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		one, err := unquote(b)
		if err != nil {
			return err
		}
		*s = StringOrList{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[StringOrList]()}
	}
	*s = list
	return nil
}

// ChatCompletion is the body of a non-streamed chat answer.
type ChatCompletion struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"` // chat.completion
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	SystemFingerprint *string  `json:"system_fingerprint"`
	// ServiceTier is the tier Bedrock served the request on, when it said.
	ServiceTier string `json:"service_tier,omitempty"`
}

// Choice is one answer; Bedrock gives exactly one.
type Choice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     *struct{}       `json:"logprobs"`
}

// ResponseMessage is the assistant message of a Choice.
type ResponseMessage struct {
	Role             string          `json:"role"`
	Content          *string         `json:"content"`
	ToolCalls        []ToolCall      `json:"tool_calls,omitempty"`
	ReasoningContent *string         `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []ThinkingBlock `json:"thinking_blocks,omitempty"`
	Refusal          *string         `json:"refusal"`
}

// Usage counts tokens. PromptTokens includes cached tokens, as OpenAI
// defines it; the cache_* fields are LiteLLM's, read by its clients.
type Usage struct {
	PromptTokens             int                  `json:"prompt_tokens"`
	CompletionTokens         int                  `json:"completion_tokens"`
	TotalTokens              int                  `json:"total_tokens"`
	PromptTokensDetails      *PromptTokensDetails `json:"prompt_tokens_details,omitempty"`
	CacheReadInputTokens     int                  `json:"cache_read_input_tokens,omitempty"`
	CacheCreationInputTokens int                  `json:"cache_creation_input_tokens,omitempty"`
}

// PromptTokensDetails breaks PromptTokens down.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// ChatChunk is one server-sent event of a streamed chat answer.
type ChatChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"` // chat.completion.chunk
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
	SystemFingerprint *string       `json:"system_fingerprint"`
	ServiceTier       string        `json:"service_tier,omitempty"`
}

// ChunkChoice is the single choice of a ChatChunk.
type ChunkChoice struct {
	Index        int       `json:"index"`
	Delta        Delta     `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
	Logprobs     *struct{} `json:"logprobs"`
}

// Delta is what a chunk adds to the message.
type Delta struct {
	Role             string          `json:"role,omitempty"`
	Content          *string         `json:"content,omitempty"`
	ToolCalls        []ToolCall      `json:"tool_calls,omitempty"`
	ReasoningContent *string         `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []ThinkingBlock `json:"thinking_blocks,omitempty"`
}

// chatRequestFields are the keys ChatRequest decodes into typed fields.
var chatRequestFields = map[string]bool{
	"model": true, "messages": true, "stream": true, "stream_options": true,
	"temperature": true, "top_p": true, "max_tokens": true, "max_completion_tokens": true,
	"stop": true, "n": true, "tools": true, "tool_choice": true, "parallel_tool_calls": true,
	"functions": true, "function_call": true, "response_format": true,
	"reasoning_effort": true, "user": true, "service_tier": true,
}

// unsupportedParams are OpenAI parameters Bedrock has no equivalent for.
// Whether one is harmless depends on its value (n: 1, logprobs: false), which
// translation decides.
var unsupportedParams = map[string]bool{
	"logprobs": true, "top_logprobs": true, "presence_penalty": true,
	"frequency_penalty": true, "logit_bias": true, "seed": true,
	"modalities": true, "audio": true, "prediction": true, "web_search_options": true,
}

// ignoredParams are OpenAI parameters that only concern OpenAI's platform.
var ignoredParams = map[string]bool{
	"store": true, "metadata": true, "prompt_cache_key": true,
	"safety_identifier": true, "verbosity": true, "prompt_cache_retention": true,
}

// UnmarshalJSON decodes the typed fields and sorts every other key into
// Unsupported, Ignored or Extra.
func (r *ChatRequest) UnmarshalJSON(b []byte) error {
	type plain ChatRequest
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	// b is a valid object (or null) now; a second full decode into a map
	// would cost as much again, so only its keys are walked.
	return eachMember(b, chatRequestFields, func(k string, v json.RawMessage) {
		switch {
		case unsupportedParams[k]:
			if r.Unsupported == nil {
				r.Unsupported = make(map[string]json.RawMessage)
			}
			r.Unsupported[k] = v
		case ignoredParams[k]:
			if r.Ignored == nil {
				r.Ignored = make(map[string]json.RawMessage)
			}
			r.Ignored[k] = v
		default:
			if r.Extra == nil {
				r.Extra = make(map[string]json.RawMessage)
			}
			r.Extra[k] = v
		}
	})
}

// eachMember calls fn for every member of the JSON object b whose key is
// not in known, with a copy of its raw value, as decoding into
// map[string]json.RawMessage would give it. b must be valid JSON: an
// object, or null, which has no members.
func eachMember(b []byte, known map[string]bool, fn func(key string, value json.RawMessage)) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] != '}' {
		end := skipString(b, i)
		rawKey := b[i:end]
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // the colon
		vEnd := skipValue(b, i)
		value := b[i:vEnd]
		i = skipSpace(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
		var key string
		if plain, ok := plainKey(rawKey); ok {
			if known[string(plain)] {
				continue // the common case, without allocating
			}
			key = string(plain)
		} else if err := json.Unmarshal(rawKey, &key); err != nil {
			return err
		}
		if !known[key] {
			fn(key, bytes.Clone(value))
		}
	}
	return nil
}

// unquote decodes a JSON string the decoder has already checked. Most need
// no unescaping and are copied as they are; the rest go through
// encoding/json, which also replaces invalid UTF-8 as it always has.
func unquote(quoted []byte) (string, error) {
	if len(quoted) >= 2 && quoted[0] == '"' && quoted[len(quoted)-1] == '"' {
		inner := quoted[1 : len(quoted)-1]
		if bytes.IndexByte(inner, '\\') < 0 && bytes.IndexByte(inner, '"') < 0 && utf8.Valid(inner) && !hasControl(inner) {
			return string(inner), nil
		}
	}
	var s string
	err := json.Unmarshal(quoted, &s)
	return s, err
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// plainKey returns a quoted key's bytes when they need no unescaping.
func plainKey(quoted []byte) ([]byte, bool) {
	k := quoted[1 : len(quoted)-1]
	for _, c := range k {
		if c == '\\' || c >= utf8.RuneSelf {
			return nil, false
		}
	}
	return k, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value that starts at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for ; i < len(b); i++ { // a number, true, false or null
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// FieldError explains which field of a request body has the wrong type.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %v", e.Field, e.Err) }
func (e *FieldError) Unwrap() error { return e.Err }
