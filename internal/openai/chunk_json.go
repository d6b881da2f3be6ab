package openai

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the chunk as encoding/json encodes it with HTML
// escaping off, byte for byte, without reflection: a stream writes one
// chunk per Bedrock event, and this runs several times faster with no
// allocations. A test holds it to encoding/json's output and fails when a
// field is added to one of the types it writes.
func (c *ChatChunk) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"object":`...)
	b = appendJSONString(b, c.Object)
	b = append(b, `,"created":`...)
	b = strconv.AppendInt(b, c.Created, 10)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, c.Model)
	b = append(b, `,"choices":`...)
	if c.Choices == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.Choices {
			if i > 0 {
				b = append(b, ',')
			}
			b = c.Choices[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if c.Usage != nil {
		b = append(b, `,"usage":`...)
		b = c.Usage.appendJSON(b)
	}
	b = append(b, `,"system_fingerprint":`...)
	b = appendJSONStringPtr(b, c.SystemFingerprint)
	if c.ServiceTier != "" {
		b = append(b, `,"service_tier":`...)
		b = appendJSONString(b, c.ServiceTier)
	}
	return append(b, '}')
}

func (c *ChunkChoice) appendJSON(b []byte) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(c.Index), 10)
	b = append(b, `,"delta":`...)
	b = c.Delta.appendJSON(b)
	b = append(b, `,"finish_reason":`...)
	b = appendJSONStringPtr(b, c.FinishReason)
	b = append(b, `,"logprobs":`...)
	if c.Logprobs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, "{}"...)
	}
	return append(b, '}')
}

func (d *Delta) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	if d.Role != "" {
		b = appendKey(b, n, "role")
		b = appendJSONString(b, d.Role)
	}
	if d.Content != nil {
		b = appendKey(b, n, "content")
		b = appendJSONString(b, *d.Content)
	}
	if len(d.ToolCalls) > 0 {
		b = appendKey(b, n, "tool_calls")
		b = append(b, '[')
		for i := range d.ToolCalls {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.ToolCalls[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if d.ReasoningContent != nil {
		b = appendKey(b, n, "reasoning_content")
		b = appendJSONString(b, *d.ReasoningContent)
	}
	if len(d.ThinkingBlocks) > 0 {
		b = appendKey(b, n, "thinking_blocks")
		b = append(b, '[')
		for i := range d.ThinkingBlocks {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.ThinkingBlocks[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func (t *ToolCall) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	if t.Index != nil {
		b = appendKey(b, n, "index")
		b = strconv.AppendInt(b, int64(*t.Index), 10)
	}
	if t.ID != "" {
		b = appendKey(b, n, "id")
		b = appendJSONString(b, t.ID)
	}
	if t.Type != "" {
		b = appendKey(b, n, "type")
		b = appendJSONString(b, t.Type)
	}
	b = appendKey(b, n, "function")
	b = append(b, '{')
	if t.Function.Name != "" {
		b = append(b, `"name":`...)
		b = appendJSONString(b, t.Function.Name)
		b = append(b, ',')
	}
	b = append(b, `"arguments":`...)
	b = appendJSONString(b, t.Function.Arguments)
	return append(b, '}', '}')
}

func (t *ThinkingBlock) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, t.Type)
	if t.Thinking != "" {
		b = append(b, `,"thinking":`...)
		b = appendJSONString(b, t.Thinking)
	}
	if t.Signature != "" {
		b = append(b, `,"signature":`...)
		b = appendJSONString(b, t.Signature)
	}
	if t.Data != "" {
		b = append(b, `,"data":`...)
		b = appendJSONString(b, t.Data)
	}
	return append(b, '}')
}

func (u *Usage) appendJSON(b []byte) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.PromptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CompletionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.TotalTokens), 10)
	if u.PromptTokensDetails != nil {
		b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
		b = strconv.AppendInt(b, int64(u.PromptTokensDetails.CachedTokens), 10)
		b = append(b, '}')
	}
	if u.CacheReadInputTokens != 0 {
		b = append(b, `,"cache_read_input_tokens":`...)
		b = strconv.AppendInt(b, int64(u.CacheReadInputTokens), 10)
	}
	if u.CacheCreationInputTokens != 0 {
		b = append(b, `,"cache_creation_input_tokens":`...)
		b = strconv.AppendInt(b, int64(u.CacheCreationInputTokens), 10)
	}
	return append(b, '}')
}

// appendKey writes `"key":`, after a comma unless it is the first member
// of the object that began at start.
func appendKey(b []byte, start int, key string) []byte {
	if len(b) > start {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendJSONStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

// appendJSONString quotes s as encoding/json does with HTML escaping off:
// quotes, backslashes and control characters escaped, invalid UTF-8
// replaced by U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendJSON appends the completion as encoding/json encodes it with HTML
// escaping off, byte for byte, without reflection: every whole chat answer
// is written through it. A test holds it to encoding/json's output and
// fails when a field is added to one of the types it writes.
func (c *ChatCompletion) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"object":`...)
	b = appendJSONString(b, c.Object)
	b = append(b, `,"created":`...)
	b = strconv.AppendInt(b, c.Created, 10)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, c.Model)
	b = append(b, `,"choices":`...)
	if c.Choices == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.Choices {
			if i > 0 {
				b = append(b, ',')
			}
			b = c.Choices[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if c.Usage != nil {
		b = append(b, `,"usage":`...)
		b = c.Usage.appendJSON(b)
	}
	b = append(b, `,"system_fingerprint":`...)
	b = appendJSONStringPtr(b, c.SystemFingerprint)
	if c.ServiceTier != "" {
		b = append(b, `,"service_tier":`...)
		b = appendJSONString(b, c.ServiceTier)
	}
	return append(b, '}')
}

func (c *Choice) appendJSON(b []byte) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(c.Index), 10)
	b = append(b, `,"message":`...)
	b = c.Message.appendJSON(b)
	b = append(b, `,"finish_reason":`...)
	b = appendJSONString(b, c.FinishReason)
	b = append(b, `,"logprobs":`...)
	if c.Logprobs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, "{}"...)
	}
	return append(b, '}')
}

func (m *ResponseMessage) appendJSON(b []byte) []byte {
	b = append(b, `{"role":`...)
	b = appendJSONString(b, m.Role)
	b = append(b, `,"content":`...)
	b = appendJSONStringPtr(b, m.Content)
	if len(m.ToolCalls) > 0 {
		b = append(b, `,"tool_calls":[`...)
		for i := range m.ToolCalls {
			if i > 0 {
				b = append(b, ',')
			}
			b = m.ToolCalls[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if m.ReasoningContent != nil {
		b = append(b, `,"reasoning_content":`...)
		b = appendJSONString(b, *m.ReasoningContent)
	}
	if len(m.ThinkingBlocks) > 0 {
		b = append(b, `,"thinking_blocks":[`...)
		for i := range m.ThinkingBlocks {
			if i > 0 {
				b = append(b, ',')
			}
			b = m.ThinkingBlocks[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"refusal":`...)
	b = appendJSONStringPtr(b, m.Refusal)
	return append(b, '}')
}
