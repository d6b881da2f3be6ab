package emulator

import (
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// Custom Model Import: an imported model is named by its ARN
// (arn:aws:bedrock:<region>:<account>:imported-model/<id>), which does not
// say its architecture. The emulator plays one from the body, as a real
// imported model would only answer the body of its own: OpenAI's chat
// format ("messages") answers with a chat completion; a prompt (Llama 3,
// Qwen's ChatML, DeepSeek-R1's template) answers as Llama does, and a
// DeepSeek-R1 prompt opened on <think> gets reasoning, then </think>, then
// the answer.

// importedModelMarker is in every imported model's ARN.
const importedModelMarker = ":imported-model/"

// deepseekReasoning is the reasoning the emulator's DeepSeek-R1 writes.
const deepseekReasoning = "The user wants an echo.\n</think>\n\n"

var importedSchema = object(map[string]*field{
	"prompt":      str().req(),
	"temperature": number(0, 2),
	"top_p":       number(0, 1),
	"top_k":       integer(1, 1000),
	"max_gen_len": integer(1, 32768),
	"max_tokens":  integer(1, 32768),
	"stop":        array(str()).length(0, 16),
})

var importedPromptFamily = chatFamily("", &chatSpec{
	schema: importedSchema,
	read: func(body map[string]any) chatInput {
		prompt := getString(body, "prompt")
		var last string
		switch {
		case strings.Contains(prompt, "<|im_start|>user"):
			last = between(prompt, "<|im_start|>user\n", "<|im_end|>")
		case strings.Contains(prompt, "<｜User｜>"):
			last = between(prompt, "<｜User｜>", "<｜Assistant｜>")
		default:
			last = between(prompt, "<|start_header_id|>user<|end_header_id|>", "<|eot_id|>")
		}
		return chatInput{lastUser: strings.TrimSpace(last), words: promptWords(prompt), maxTokens: withDefault(intPtr(body, "max_gen_len"), 512), stops: getStrings(body, "stop")}
	},
	stops: llamaStops,
	answer: func(_ string, body map[string]any, out chatOutput) any {
		return map[string]any{"generation": reasoningFor(body) + out.text, "prompt_token_count": out.input, "generation_token_count": out.output, "stop_reason": out.stop}
	},
	chunks: func(_ string, body map[string]any, out chatOutput) []map[string]any {
		return textChunks(reasoningFor(body)+out.text, func(piece string, i int, last bool) map[string]any {
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
})

// reasoningFor is the reasoning a DeepSeek-R1 prompt opened on <think> gets.
func reasoningFor(body map[string]any) string {
	if strings.HasSuffix(getString(body, "prompt"), "<think>\n") {
		return deepseekReasoning
	}
	return ""
}

var openAIStops = map[string]string{bedrock.StopEndTurn: "stop", bedrock.StopMaxTokens: "length", bedrock.StopSequence: "stop"}

var importedOpenAIFamily = chatFamily("", &chatSpec{
	schema: object(map[string]*field{
		"messages": array(object(map[string]*field{
			"role":    str().req(),
			"content": str().req(),
		})).length(1, 10000).req(),
		"max_tokens":  integer(1, 32768),
		"temperature": number(0, 2),
		"top_p":       number(0, 1),
		"stop":        array(str()).length(0, 4),
	}),
	read: func(body map[string]any) chatInput {
		msgs, _ := body["messages"].([]any)
		var last string
		words := 0
		for _, m := range msgs {
			mm, _ := m.(map[string]any)
			words += countWords(getString(mm, "content"))
			if getString(mm, "role") == "user" {
				last = getString(mm, "content")
			}
		}
		return chatInput{lastUser: last, words: words, maxTokens: withDefault(intPtr(body, "max_tokens"), 512), stops: getStrings(body, "stop")}
	},
	stops: openAIStops,
	answer: func(_ string, _ map[string]any, out chatOutput) any {
		return map[string]any{
			"id": messageID("chatcmpl-"), "object": "chat.completion",
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": out.text}, "finish_reason": out.stop}},
			"usage":   map[string]any{"prompt_tokens": out.input, "completion_tokens": out.output, "total_tokens": out.input + out.output},
		}
	},
	chunks: func(_ string, _ map[string]any, out chatOutput) []map[string]any {
		id := messageID("chatcmpl-")
		return textChunks(out.text, func(piece string, i int, last bool) map[string]any {
			var finish any
			c := map[string]any{"id": id, "object": "chat.completion.chunk"}
			if last {
				finish = out.stop
				c["usage"] = map[string]any{"prompt_tokens": out.input, "completion_tokens": out.output, "total_tokens": out.input + out.output}
			}
			c["choices"] = []any{map[string]any{"index": 0, "delta": map[string]any{"content": piece}, "finish_reason": finish}}
			return c
		})
	},
})

// importedFamilyFor is the family an imported model plays for body.
func importedFamilyFor(body map[string]any) *invokeFamily {
	if _, ok := body["messages"]; ok {
		return importedOpenAIFamily
	}
	return importedPromptFamily
}
