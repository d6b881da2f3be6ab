package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// chatSpec is a chat family on InvokeModel: the shape of its body and of
// its answers.
type chatSpec struct {
	schema *field
	check  func(body map[string]any) error // rules beyond the schema; nil: none
	// checkModel applies rules that depend on the model; nil: none.
	checkModel func(modelID string, body map[string]any) error
	// read finds what the echo needs in a body.
	read func(body map[string]any) chatInput
	// stops spells Converse's stop reasons (end_turn, max_tokens,
	// stop_sequence) the family's way.
	stops  map[string]string
	answer func(modelID string, body map[string]any, out chatOutput) any
	// chunks renders the answer as stream chunks; nil for a family that
	// does not stream.
	chunks func(modelID string, body map[string]any, out chatOutput) []map[string]any
}

// chatInput is what a chat body asks: the last user turn's text, the
// prompt's size in words, the token budget and the stop sequences.
type chatInput struct {
	lastUser  string
	words     int
	maxTokens *int
	stops     []string
}

// chatOutput is the answer in the family's terms.
type chatOutput struct {
	// blocks is a scripted answer's content, for families that render more
	// than text (Anthropic's tool_use and thinking blocks); nil: text only.
	blocks        []bedrock.ContentBlock
	cacheRead     int
	cacheWrite    int
	text          string
	stop          string // the family's stop reason
	stopSequence  string // the sequence that stopped it, if any
	input, output int
}

func chatFamily(prefix string, spec *chatSpec) *invokeFamily {
	f := &invokeFamily{prefix: prefix, stream: spec.chunks != nil, schema: func(string) *field { return spec.schema }}
	if spec.check != nil || spec.checkModel != nil {
		f.check = func(modelID string, body map[string]any) error {
			if spec.check != nil {
				if err := spec.check(body); err != nil {
					return err
				}
			}
			if spec.checkModel != nil {
				return spec.checkModel(modelID, body)
			}
			return nil
		}
	}
	f.answer = func(e *Emulator, x *exchange, body map[string]any, streaming bool) (invokeAnswer, error) {
		in := spec.read(body)
		out := chatOutput{}
		stop := bedrock.StopEndTurn
		if s, ok := e.takeScript(x.call.ModelID); ok {
			out.text = scriptText(s.Response)
			if s.Response.Output.Message != nil {
				out.blocks = s.Response.Output.Message.Content
			}
			stop = s.Response.StopReason
			out.input, out.output = s.Response.Usage.InputTokens, s.Response.Usage.OutputTokens
			out.cacheRead, out.cacheWrite = s.Response.Usage.CacheReadInputTokens, s.Response.Usage.CacheWriteInputTokens
			if out.input == 0 && out.output == 0 {
				out.input, out.output = in.words, countWords(out.text)
			}
		} else {
			out.text, stop = limitAnswer(echoPrefix+in.lastUser, &bedrock.InferenceConfig{MaxTokens: in.maxTokens, StopSequences: in.stops})
			out.input, out.output = in.words, countWords(out.text)
			if stop == bedrock.StopSequence {
				out.stopSequence = firstStopIn(echoPrefix+in.lastUser, in.stops)
			}
		}
		if stop == "" {
			stop = bedrock.StopEndTurn
		}
		out.stop = spec.stops[stop]
		if out.stop == "" {
			out.stop = spec.stops[bedrock.StopEndTurn]
		}
		ans := invokeAnswer{input: out.input, output: out.output}
		if streaming {
			ans.chunks = spec.chunks(x.call.ModelID, body, out)
		} else {
			ans.body = spec.answer(x.call.ModelID, body, out)
		}
		return ans, nil
	}
	return f
}

// scriptText joins a scripted answer's text blocks.
func scriptText(resp bedrock.ConverseResponse) string {
	var b strings.Builder
	if resp.Output.Message != nil {
		for _, block := range resp.Output.Message.Content {
			if block.Text != nil {
				b.WriteString(*block.Text)
			}
		}
	}
	return b.String()
}

func firstStopIn(text string, stops []string) string {
	at := firstStopSequence(text, stops)
	for _, s := range stops {
		if s != "" && strings.HasPrefix(text[at:], s) {
			return s
		}
	}
	return ""
}

// between returns the text after the last open marker, up to close: the
// last user turn of a prompt. A prompt without the marker is all user text.
func between(prompt, open, close string) string {
	i := strings.LastIndex(prompt, open)
	if i < 0 {
		return strings.TrimSpace(prompt)
	}
	rest := prompt[i+len(open):]
	if j := strings.Index(rest, close); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimSpace(rest)
}

// specialTokens are the prompt formats' markers, which are not words.
var specialTokens = regexp.MustCompile(`<\|[a-z_]+\|>|\[/?INST\]|<<?/?SYS>>?|</?s>`)

func promptWords(prompt string) int { return countWords(specialTokens.ReplaceAllString(prompt, " ")) }

func intPtr(m map[string]any, key string) *int {
	if n, ok := getInt(m, key); ok {
		i := int(n)
		return &i
	}
	return nil
}

func withDefault(p *int, def int) *int {
	if p == nil {
		return &def
	}
	return p
}

func messageID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// textChunks renders the answer as one chunk per word, then a last chunk
// with the stop reason, each built by mk.
func textChunks(text string, mk func(piece string, i int, last bool) map[string]any) []map[string]any {
	var chunks []map[string]any
	for i, w := range wordChunks(text) {
		chunks = append(chunks, mk(w, i, false))
	}
	return append(chunks, mk("", len(chunks), true))
}

// nullable is nil (JSON null) for the zero value.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// --- Anthropic Messages API ---

var anthropicChat = &chatSpec{
	schema: object(map[string]*field{
		"anthropic_version": str().req(),
		"max_tokens":        integer(1, 131072).req(),
		"messages":          array(object(map[string]*field{"role": oneOf("user", "assistant").req(), "content": anyValue().req()})).req().length(1, 100000),
		"system":            anyValue(),
		"temperature":       number(0, 1),
		"top_p":             number(0, 1),
		"top_k":             integer(0, 500),
		"stop_sequences":    array(str()).length(0, 8191),
		"thinking":          anyValue(),
		"tools":             anyValue(),
		"tool_choice":       anyValue(),
		"metadata":          anyValue(),
		"anthropic_beta":    array(str()),
		// Newer Claude models' keys; check refuses them on models without
		// the feature, as Bedrock does.
		"output_config":      anyValue(),
		"context_management": anyValue(),
	}),
	check: func(body map[string]any) error {
		if v := getString(body, "anthropic_version"); v != "bedrock-2023-05-31" {
			return validationError("anthropic_version: must be bedrock-2023-05-31, got " + v)
		}
		for _, b := range getStrings(body, "anthropic_beta") {
			if !anthropicBetas[b] {
				return validationError("invalid beta flag")
			}
		}
		msgs, _ := body["messages"].([]any)
		prev := ""
		for i, m := range msgs {
			role := getString(m.(map[string]any), "role")
			if i == 0 && role != "user" {
				return validationError(`messages: first message must use the "user" role`)
			}
			if role == prev {
				return validationError(`messages: roles must alternate between "user" and "assistant", but found multiple "` + role + `" roles in a row`)
			}
			prev = role
			if content, ok := m.(map[string]any)["content"].(string); ok && strings.TrimSpace(content) == "" {
				return validationError("messages: text content blocks must be non-empty")
			}
		}
		return nil
	},
	checkModel: anthropicModelCheck,
	read: func(body map[string]any) chatInput {
		in := chatInput{maxTokens: intPtr(body, "max_tokens"), stops: getStrings(body, "stop_sequences")}
		if s, ok := body["system"].(string); ok {
			in.words += countWords(s)
		}
		msgs, _ := body["messages"].([]any)
		for _, m := range msgs {
			msg := m.(map[string]any)
			text := anthropicText(msg["content"])
			in.words += countWords(text)
			if getString(msg, "role") == "user" {
				in.lastUser = text
			}
		}
		return in
	},
	stops: map[string]string{bedrock.StopEndTurn: "end_turn", bedrock.StopMaxTokens: "max_tokens", bedrock.StopSequence: "stop_sequence",
		bedrock.StopToolUse: "tool_use"},
	answer: func(modelID string, _ map[string]any, out chatOutput) any {
		content := []map[string]any{}
		for _, b := range anthropicBlocks(out) {
			content = append(content, b)
		}
		return map[string]any{
			"id": messageID("msg_bdrk_"), "type": "message", "role": "assistant", "model": baseModelID(modelID),
			"content": content, "stop_reason": out.stop, "stop_sequence": nullable(out.stopSequence),
			"usage": anthropicUsage(out, out.output),
		}
	},
	chunks: func(modelID string, _ map[string]any, out chatOutput) []map[string]any {
		chunks := []map[string]any{
			{"type": "message_start", "message": map[string]any{
				"id": messageID("msg_bdrk_"), "type": "message", "role": "assistant", "model": baseModelID(modelID),
				"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
				"usage": anthropicUsage(out, 1),
			}},
		}
		for i, b := range anthropicBlocks(out) {
			delta := func(d map[string]any) {
				chunks = append(chunks, map[string]any{"type": "content_block_delta", "index": i, "delta": d})
			}
			switch b["type"] {
			case "text":
				chunks = append(chunks, map[string]any{"type": "content_block_start", "index": i, "content_block": map[string]any{"type": "text", "text": ""}})
				for _, w := range wordChunks(b["text"].(string)) {
					delta(map[string]any{"type": "text_delta", "text": w})
				}
			case "thinking":
				chunks = append(chunks, map[string]any{"type": "content_block_start", "index": i, "content_block": map[string]any{"type": "thinking", "thinking": "", "signature": ""}})
				for _, w := range wordChunks(b["thinking"].(string)) {
					delta(map[string]any{"type": "thinking_delta", "thinking": w})
				}
				delta(map[string]any{"type": "signature_delta", "signature": b["signature"]})
			case "redacted_thinking":
				chunks = append(chunks, map[string]any{"type": "content_block_start", "index": i, "content_block": b})
			case "tool_use":
				chunks = append(chunks, map[string]any{"type": "content_block_start", "index": i, "content_block": map[string]any{"type": "tool_use", "id": b["id"], "name": b["name"], "input": map[string]any{}}})
				input := string(b["input"].(json.RawMessage))
				for len(input) > 0 { // in pieces, as Bedrock streams a tool's input
					n := min(len(input), 7)
					delta(map[string]any{"type": "input_json_delta", "partial_json": input[:n]})
					input = input[n:]
				}
			}
			chunks = append(chunks, map[string]any{"type": "content_block_stop", "index": i})
		}
		return append(chunks,
			map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": out.stop, "stop_sequence": nullable(out.stopSequence)},
				"usage": map[string]any{"output_tokens": out.output}},
			map[string]any{"type": "message_stop"},
		)
	},
}

// anthropicModelCheck refuses what only newer Claude models take, as
// Bedrock does on older ones: effort, context management, thinking, and
// max_tokens above the model's output limit.
func anthropicModelCheck(modelID string, body map[string]any) error {
	id := baseModelID(modelID)
	newer := func(prefixes ...string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(id, p) {
				return true
			}
		}
		return false
	}
	claude4 := newer("anthropic.claude-opus-4", "anthropic.claude-sonnet-4", "anthropic.claude-haiku-4")
	if _, ok := body["output_config"]; ok && !newer("anthropic.claude-opus-4-5", "anthropic.claude-opus-4-6") {
		return validationError("output_config: Extra inputs are not permitted")
	}
	if _, ok := body["context_management"]; ok && !claude4 {
		return validationError("context_management: Extra inputs are not permitted")
	}
	if th, ok := body["thinking"].(map[string]any); ok {
		switch {
		case getString(th, "type") == "adaptive" && !newer("anthropic.claude-opus-4-6"):
			return validationError("thinking.type: adaptive thinking is not supported on this model")
		case !claude4 && !newer("anthropic.claude-3-7"):
			return validationError("thinking: Extra inputs are not permitted")
		}
	}
	limit := 0
	switch {
	case newer("anthropic.claude-3-5"):
		limit = 8192
	case newer("anthropic.claude-3-haiku", "anthropic.claude-3-sonnet", "anthropic.claude-3-opus", "anthropic.claude-v2", "anthropic.claude-instant"):
		limit = 4096
	}
	if n := intPtr(body, "max_tokens"); limit > 0 && n != nil && *n > limit {
		return validationError("max_tokens: " + strconv.Itoa(*n) + " > " + strconv.Itoa(limit) + ", which is the maximum allowed number of output tokens for " + id)
	}
	return nil
}

// anthropicBetas are the anthropic_beta values Bedrock's Claude accepts.
var anthropicBetas = map[string]bool{
	"computer-use-2024-10-22": true, "computer-use-2025-01-24": true, "computer-use-2025-11-24": true,
	"token-efficient-tools-2025-02-19": true, "interleaved-thinking-2025-05-14": true, "output-128k-2025-02-19": true,
	"dev-full-thinking-2025-05-14": true, "context-1m-2025-08-07": true, "context-management-2025-06-27": true,
	"effort-2025-11-24": true, "tool-search-tool-2025-10-19": true, "tool-examples-2025-10-29": true,
}

func anthropicUsage(out chatOutput, output int) map[string]any {
	return map[string]any{"input_tokens": out.input, "output_tokens": output,
		"cache_read_input_tokens": out.cacheRead, "cache_creation_input_tokens": out.cacheWrite}
}

// anthropicBlocks renders the answer's content as Anthropic blocks: the
// echo's text, or a scripted answer's text, thinking and tool calls.
func anthropicBlocks(out chatOutput) []map[string]any {
	if out.blocks == nil {
		if out.text == "" {
			return nil
		}
		return []map[string]any{{"type": "text", "text": out.text}}
	}
	var blocks []map[string]any
	for _, b := range out.blocks {
		switch {
		case b.Text != nil:
			blocks = append(blocks, map[string]any{"type": "text", "text": *b.Text})
		case b.ToolUse != nil:
			input := b.ToolUse.Input
			if len(input) == 0 {
				input = json.RawMessage("{}")
			}
			blocks = append(blocks, map[string]any{"type": "tool_use", "id": b.ToolUse.ToolUseID, "name": b.ToolUse.Name, "input": input})
		case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
			rt := b.ReasoningContent.ReasoningText
			blocks = append(blocks, map[string]any{"type": "thinking", "thinking": rt.Text, "signature": rt.Signature})
		case b.ReasoningContent != nil:
			blocks = append(blocks, map[string]any{"type": "redacted_thinking", "data": base64.StdEncoding.EncodeToString(b.ReasoningContent.RedactedContent)})
		}
	}
	return blocks
}

// anthropicText is a message's text: the string, or its text blocks joined.
func anthropicText(content any) string {
	switch c := content.(type) {
	case string:
		return c
	case []any:
		var texts []string
		for _, b := range c {
			if block, ok := b.(map[string]any); ok && getString(block, "type") == "text" {
				texts = append(texts, getString(block, "text"))
			}
		}
		return strings.Join(texts, " ")
	}
	return ""
}

// --- Meta Llama ---

var llamaSchema = object(map[string]*field{
	"prompt":      str().req(),
	"temperature": number(0, 1),
	"top_p":       number(0, 1),
	"max_gen_len": integer(1, 2048),
	"images":      anyValue(),
})

var llamaStops = map[string]string{bedrock.StopEndTurn: "stop", bedrock.StopMaxTokens: "length", bedrock.StopSequence: "stop"}

func llamaChat(lastUser func(prompt string) string) *chatSpec {
	return &chatSpec{
		schema: llamaSchema,
		read: func(body map[string]any) chatInput {
			prompt := getString(body, "prompt")
			return chatInput{lastUser: lastUser(prompt), words: promptWords(prompt), maxTokens: withDefault(intPtr(body, "max_gen_len"), 512)}
		},
		stops: llamaStops,
		answer: func(_ string, _ map[string]any, out chatOutput) any {
			return map[string]any{"generation": out.text, "prompt_token_count": out.input, "generation_token_count": out.output, "stop_reason": out.stop}
		},
		chunks: func(_ string, _ map[string]any, out chatOutput) []map[string]any {
			return textChunks(out.text, func(piece string, i int, last bool) map[string]any {
				c := map[string]any{"generation": piece, "prompt_token_count": nil, "generation_token_count": min(i+1, out.output), "stop_reason": nil}
				if i == 0 {
					c["prompt_token_count"] = out.input
				}
				if last {
					c["stop_reason"] = out.stop
				}
				return c
			})
		},
	}
}

var llama3Chat = llamaChat(func(prompt string) string {
	return between(prompt, "<|start_header_id|>user<|end_header_id|>", "<|eot_id|>")
})

var llama2Chat = llamaChat(func(prompt string) string {
	text := between(prompt, "[INST]", "[/INST]")
	if _, after, ok := strings.Cut(text, "<</SYS>>"); ok {
		text = strings.TrimSpace(after)
	}
	return text
})

// --- Mistral ---

var mistralChat = &chatSpec{
	schema: object(map[string]*field{
		"prompt":      str().req(),
		"max_tokens":  integer(1, 8192),
		"stop":        array(str()).length(0, 10),
		"temperature": number(0, 1),
		"top_p":       number(0, 1),
		"top_k":       integer(1, 200),
	}),
	read: func(body map[string]any) chatInput {
		prompt := getString(body, "prompt")
		return chatInput{lastUser: between(prompt, "[INST]", "[/INST]"), words: promptWords(prompt),
			maxTokens: withDefault(intPtr(body, "max_tokens"), 512), stops: getStrings(body, "stop")}
	},
	stops: map[string]string{bedrock.StopEndTurn: "stop", bedrock.StopMaxTokens: "length", bedrock.StopSequence: "stop"},
	answer: func(_ string, _ map[string]any, out chatOutput) any {
		return map[string]any{"outputs": []any{map[string]any{"text": out.text, "stop_reason": out.stop}}}
	},
	chunks: func(_ string, _ map[string]any, out chatOutput) []map[string]any {
		return textChunks(out.text, func(piece string, _ int, last bool) map[string]any {
			o := map[string]any{"text": piece, "stop_reason": nil}
			if last {
				o["stop_reason"] = out.stop
			}
			return map[string]any{"outputs": []any{o}}
		})
	},
}

// --- Amazon Titan Text ---

var titanTextChat = &chatSpec{
	schema: object(map[string]*field{
		"inputText": str().req().length(1, 150000),
		"textGenerationConfig": object(map[string]*field{
			"temperature":   number(0, 1),
			"topP":          number(0, 1),
			"maxTokenCount": integer(0, 8192),
			"stopSequences": array(str()),
		}),
	}),
	read: func(body map[string]any) chatInput {
		prompt := getString(body, "inputText")
		cfg := getObject(body, "textGenerationConfig")
		return chatInput{lastUser: between(prompt, "User:", "\nBot:"), words: countWords(prompt),
			maxTokens: withDefault(intPtr(cfg, "maxTokenCount"), 512), stops: getStrings(cfg, "stopSequences")}
	},
	stops: map[string]string{bedrock.StopEndTurn: "FINISH", bedrock.StopMaxTokens: "LENGTH", bedrock.StopSequence: "STOP_CRITERIA_MET"},
	answer: func(_ string, _ map[string]any, out chatOutput) any {
		return map[string]any{"inputTextTokenCount": out.input, "results": []any{
			map[string]any{"tokenCount": out.output, "outputText": out.text, "completionReason": out.stop}}}
	},
	chunks: func(_ string, _ map[string]any, out chatOutput) []map[string]any {
		return textChunks(out.text, func(piece string, i int, last bool) map[string]any {
			c := map[string]any{"outputText": piece, "index": 0, "totalOutputTextTokenCount": min(i+1, out.output),
				"completionReason": nil, "inputTextTokenCount": nil}
			if i == 0 {
				c["inputTextTokenCount"] = out.input
			}
			if last {
				c["completionReason"] = out.stop
			}
			return c
		})
	},
}

// --- Cohere Command ---

var cohereCommandChat = &chatSpec{
	schema: object(map[string]*field{
		"prompt":             str().req(),
		"temperature":        number(0, 5),
		"p":                  number(0, 0.99),
		"k":                  integer(0, 500),
		"max_tokens":         integer(1, 4096),
		"stop_sequences":     array(str()),
		"return_likelihoods": oneOf("GENERATION", "ALL", "NONE"),
		"stream":             boolean(),
		"num_generations":    integer(1, 5),
		"logit_bias":         anyValue(),
		"truncate":           oneOf("NONE", "START", "END"),
	}),
	read: func(body map[string]any) chatInput {
		prompt := getString(body, "prompt")
		// Cohere Command's default budget really is 20 tokens.
		return chatInput{lastUser: between(prompt, "User:", "\nChatbot:"), words: countWords(prompt),
			maxTokens: withDefault(intPtr(body, "max_tokens"), 20), stops: getStrings(body, "stop_sequences")}
	},
	stops: map[string]string{bedrock.StopEndTurn: "COMPLETE", bedrock.StopMaxTokens: "MAX_TOKENS", bedrock.StopSequence: "COMPLETE"},
	answer: func(modelID string, body map[string]any, out chatOutput) any {
		return cohereGenerations(modelID, body, out)
	},
	chunks: func(modelID string, body map[string]any, out chatOutput) []map[string]any {
		whole := cohereGenerations(modelID, body, out)
		if stream, _ := body["stream"].(bool); !stream {
			// Without "stream": true, the stream is the whole answer in one chunk.
			return []map[string]any{whole}
		}
		return textChunks(out.text, func(piece string, _ int, last bool) map[string]any {
			if last {
				return map[string]any{"is_finished": true, "finish_reason": out.stop, "response": whole}
			}
			return map[string]any{"text": piece, "is_finished": false, "index": 0}
		})
	},
}

func cohereGenerations(_ string, body map[string]any, out chatOutput) map[string]any {
	return map[string]any{
		"id":          messageID(""),
		"prompt":      getString(body, "prompt"),
		"generations": []any{map[string]any{"id": messageID(""), "text": out.text, "finish_reason": out.stop, "index": 0}},
	}
}

// --- AI21 Jurassic-2 (no streaming) ---

var jurassicChat = &chatSpec{
	schema: object(map[string]*field{
		"prompt":           str().req(),
		"maxTokens":        integer(0, 8191),
		"minTokens":        integer(0, 8191),
		"temperature":      number(0, 1),
		"topP":             number(0, 1),
		"stopSequences":    array(str()),
		"numResults":       integer(1, 16),
		"countPenalty":     object(nil).openObject(),
		"presencePenalty":  object(nil).openObject(),
		"frequencyPenalty": object(nil).openObject(),
	}),
	read: func(body map[string]any) chatInput {
		prompt := getString(body, "prompt")
		// Jurassic-2's default budget is 16 tokens.
		return chatInput{lastUser: between(prompt, "User:", "\nAssistant:"), words: countWords(prompt),
			maxTokens: withDefault(intPtr(body, "maxTokens"), 16), stops: getStrings(body, "stopSequences")}
	},
	stops: map[string]string{bedrock.StopEndTurn: "endoftext", bedrock.StopMaxTokens: "length", bedrock.StopSequence: "stop"},
	answer: func(_ string, body map[string]any, out chatOutput) any {
		prompt := getString(body, "prompt")
		reason := map[string]any{"reason": out.stop}
		if out.stopSequence != "" {
			reason["sequence"] = out.stopSequence
		}
		return map[string]any{
			"id":     1234,
			"prompt": map[string]any{"text": prompt, "tokens": jurassicTokens(prompt)},
			"completions": []any{map[string]any{
				"data":         map[string]any{"text": out.text, "tokens": jurassicTokens(out.text)},
				"finishReason": reason,
			}},
		}
	},
}

// jurassicTokens is one token object per word, in AI21's shape.
func jurassicTokens(text string) []any {
	tokens := []any{}
	offset := 0
	for _, w := range wordChunks(text) {
		tokens = append(tokens, map[string]any{
			"generatedToken": map[string]any{"token": "▁" + strings.TrimSpace(w), "logprob": -0.5, "raw_logprob": -0.5},
			"topTokens":      nil,
			"textRange":      map[string]any{"start": offset, "end": offset + len(w)},
		})
		offset += len(w)
	}
	return tokens
}
