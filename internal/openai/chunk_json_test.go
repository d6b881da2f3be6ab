package openai

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

func encodingJSON(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func ptr[T any](v T) *T { return &v }

func TestChunkAppendJSONIsEncodingJSON(t *testing.T) {
	base := func(choices ...ChunkChoice) ChatChunk {
		return ChatChunk{ID: "chatcmpl-1", Object: "chat.completion.chunk", Created: 1700000000, Model: "m", Choices: choices}
	}
	chunks := []ChatChunk{
		base(ChunkChoice{Delta: Delta{Role: "assistant", Content: ptr("")}}),
		base(ChunkChoice{Delta: Delta{Content: ptr("Hello, <world> & \"friends\"\n\ttab \\ \u2028 \u2029 é 😀 \x01 \x7f")}}),
		base(ChunkChoice{Delta: Delta{ToolCalls: []ToolCall{{Index: ptr(0), ID: "call_1", Type: "function", Function: FunctionCall{Name: "get_weather"}}}}}),
		base(ChunkChoice{Delta: Delta{ToolCalls: []ToolCall{{Index: ptr(1), Function: FunctionCall{Arguments: `{"city":"Par`}}}}}),
		base(ChunkChoice{Delta: Delta{ToolCalls: []ToolCall{{Function: FunctionCall{}}}}}),
		base(ChunkChoice{FinishReason: ptr("stop")}),
		base(ChunkChoice{Index: 3, Logprobs: &struct{}{}, Delta: Delta{ReasoningContent: ptr("thinking...")}}),
		base(ChunkChoice{Delta: Delta{ThinkingBlocks: []ThinkingBlock{{Type: "thinking", Thinking: "t", Signature: "sig"}, {Type: "redacted_thinking", Data: "AAEC"}}}}),
		{ID: "x", Object: "chat.completion.chunk", Created: -1, Model: "m", Choices: []ChunkChoice{},
			Usage: &Usage{PromptTokens: 25, CompletionTokens: 46, TotalTokens: 71, PromptTokensDetails: &PromptTokensDetails{CachedTokens: 3}, CacheReadInputTokens: 3, CacheCreationInputTokens: 7}},
		{ID: "x", Usage: &Usage{}, SystemFingerprint: ptr("fp")},
		{ID: "x", Usage: &Usage{}, ServiceTier: "flex"},
		{},
		base(ChunkChoice{}, ChunkChoice{Index: 1}),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		chunks = append(chunks, randomChunk(rng))
	}
	for i := range chunks {
		got := string(chunks[i].AppendJSON(nil))
		if want := encodingJSON(t, &chunks[i]); got != want {
			t.Fatalf("chunk %d:\n got  %s\n want %s", i, got, want)
		}
	}
}

func TestCompletionAppendJSONIsEncodingJSON(t *testing.T) {
	base := func(choices ...Choice) ChatCompletion {
		return ChatCompletion{ID: "chatcmpl-1", Object: "chat.completion", Created: 1700000000, Model: "m", Choices: choices}
	}
	completions := []ChatCompletion{
		base(Choice{Message: ResponseMessage{Role: "assistant", Content: ptr("Hello, <world> & \"friends\"\n\ttab \\ \u2028 \u2029 é 😀 \x01 \x7f")}, FinishReason: "stop"}),
		base(Choice{Message: ResponseMessage{Role: "assistant", ToolCalls: []ToolCall{{ID: "call_1", Type: "function", Function: FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}}, FinishReason: "tool_calls"}),
		base(Choice{Index: 2, Logprobs: &struct{}{}, Message: ResponseMessage{ReasoningContent: ptr("hmm"), ThinkingBlocks: []ThinkingBlock{{Type: "thinking", Thinking: "t", Signature: "s"}}, Refusal: ptr("no")}}),
		{ID: "x", Usage: &Usage{PromptTokens: 25, CompletionTokens: 18, TotalTokens: 43, PromptTokensDetails: &PromptTokensDetails{CachedTokens: 3}, CacheReadInputTokens: 3}, SystemFingerprint: ptr("fp"), ServiceTier: "priority", Choices: []Choice{}},
		{},
		base(Choice{}, Choice{Index: 1}),
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		completions = append(completions, randomCompletion(rng))
	}
	for i := range completions {
		got := string(completions[i].AppendJSON(nil))
		if want := encodingJSON(t, &completions[i]); got != want {
			t.Fatalf("completion %d:\n got  %s\n want %s", i, got, want)
		}
	}
}

func randomCompletion(rng *rand.Rand) ChatCompletion {
	chunk := randomChunk(rng)
	c := ChatCompletion{ID: chunk.ID, Object: chunk.Object, Created: chunk.Created, Model: chunk.Model,
		Usage: chunk.Usage, SystemFingerprint: chunk.SystemFingerprint, ServiceTier: randomString(rng)}
	if chunk.Choices != nil {
		c.Choices = []Choice{}
	}
	for _, ch := range chunk.Choices {
		c.Choices = append(c.Choices, Choice{Index: ch.Index, Logprobs: ch.Logprobs, FinishReason: randomString(rng),
			Message: ResponseMessage{Role: ch.Delta.Role, Content: ch.Delta.Content, ToolCalls: ch.Delta.ToolCalls,
				ReasoningContent: ch.Delta.ReasoningContent, ThinkingBlocks: ch.Delta.ThinkingBlocks, Refusal: maybe(rng)}})
	}
	return c
}

// tricky holds the bytes and runes where JSON encoders differ.
var tricky = []string{"a", "Z", " ", "\"", "\\", "/", "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
	"é", "😀", "\u2028", "\u2029", "\ufffd", "\xff", "\xc3", "\xe2\x80", "{}", "[1]"}

func randomString(rng *rand.Rand) string {
	var b []byte
	for range rng.IntN(6) {
		b = append(b, tricky[rng.IntN(len(tricky))]...)
	}
	return string(b)
}

func maybe(rng *rand.Rand) *string {
	if rng.IntN(2) == 0 {
		return nil
	}
	return ptr(randomString(rng))
}

func randomChunk(rng *rand.Rand) ChatChunk {
	c := ChatChunk{ID: randomString(rng), Object: randomString(rng), Created: rng.Int64N(1 << 40), Model: randomString(rng), SystemFingerprint: maybe(rng)}
	if rng.IntN(3) > 0 {
		c.Choices = []ChunkChoice{}
	}
	for range rng.IntN(3) {
		ch := ChunkChoice{Index: rng.IntN(3), FinishReason: maybe(rng)}
		if rng.IntN(4) == 0 {
			ch.Logprobs = &struct{}{}
		}
		ch.Delta = Delta{Role: randomString(rng), Content: maybe(rng), ReasoningContent: maybe(rng)}
		for range rng.IntN(3) {
			tc := ToolCall{ID: randomString(rng), Type: randomString(rng), Function: FunctionCall{Name: randomString(rng), Arguments: randomString(rng)}}
			if rng.IntN(2) == 0 {
				tc.Index = ptr(rng.IntN(5))
			}
			ch.Delta.ToolCalls = append(ch.Delta.ToolCalls, tc)
		}
		for range rng.IntN(2) {
			ch.Delta.ThinkingBlocks = append(ch.Delta.ThinkingBlocks, ThinkingBlock{Type: randomString(rng), Thinking: randomString(rng), Signature: randomString(rng), Data: randomString(rng)})
		}
		c.Choices = append(c.Choices, ch)
	}
	if rng.IntN(3) == 0 {
		c.Usage = &Usage{PromptTokens: rng.IntN(100), CompletionTokens: rng.IntN(100), TotalTokens: rng.IntN(200),
			CacheReadInputTokens: rng.IntN(2), CacheCreationInputTokens: rng.IntN(2)}
		if rng.IntN(2) == 0 {
			c.Usage.PromptTokensDetails = &PromptTokensDetails{CachedTokens: rng.IntN(9)}
		}
	}
	return c
}

// AppendJSON writes each field by hand: a field added to one of these types
// must be added there too, and this test says so.
func TestChunkAppendJSONKnowsEveryField(t *testing.T) {
	for _, c := range []struct {
		v      any
		fields int
	}{
		{ChatChunk{}, 8}, {ChunkChoice{}, 4}, {Delta{}, 5}, {ToolCall{}, 4}, {FunctionCall{}, 2},
		{ThinkingBlock{}, 4}, {Usage{}, 6}, {PromptTokensDetails{}, 1},
		{ChatCompletion{}, 8}, {Choice{}, 4}, {ResponseMessage{}, 6},
	} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.fields {
			t.Errorf("%T has %d fields, AppendJSON writes %d: update it and this test", c.v, n, c.fields)
		}
	}
}

func BenchmarkChunkAppendJSON(b *testing.B) {
	c := ChatChunk{ID: "chatcmpl-WGX7K4GJ5SEBUGTVEXDXBHGASQ", Object: "chat.completion.chunk", Created: 1700000000,
		Model: "anthropic.claude-3-5-sonnet-20240620-v1:0", Choices: []ChunkChoice{{Delta: Delta{Content: ptr(" sea")}}}}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.AppendJSON(buf[:0])
	}
}
