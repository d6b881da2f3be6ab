package emulator

import (
	"strings"
	"unicode"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// echoPrefix starts every unscripted answer, so a test can tell the emulator's
// words from the user's.
const echoPrefix = "echo: "

// echoResponse is the deterministic answer to an unscripted call: "echo: " and
// the last user turn's text, cut by stop sequences and maxTokens, with words
// counted as tokens. Tests assert translation end to end against it.
func echoResponse(req *bedrock.ConverseRequest) bedrock.ConverseResponse {
	text, stopReason := limitAnswer(echoPrefix+lastUserText(req), req.InferenceConfig)
	content := []bedrock.ContentBlock{}
	if text != "" {
		content = append(content, bedrock.ContentBlock{Text: &text})
	}
	return bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: content}},
		StopReason: stopReason,
		Usage:      usageFor(inputWords(req), countWords(text)),
	}
}

// lastUserText joins the text blocks of the last user turn. A turn that only
// returns tool results echoes their text instead, so tool loops stay checkable.
func lastUserText(req *bedrock.ConverseRequest) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		if m.Role != "user" {
			continue
		}
		var texts, toolTexts []string
		for _, block := range m.Content {
			if block.Text != nil {
				texts = append(texts, *block.Text)
			}
			if block.ToolResult != nil {
				toolTexts = append(toolTexts, toolResultTexts(block.ToolResult)...)
			}
		}
		if len(texts) == 0 {
			texts = toolTexts
		}
		return strings.Join(texts, " ")
	}
	return ""
}

func toolResultTexts(result *bedrock.ToolResultBlock) []string {
	var texts []string
	for _, c := range result.Content {
		if c.Text != nil {
			texts = append(texts, *c.Text)
		}
	}
	return texts
}

// limitAnswer applies what stops a real model early: the first stop sequence
// generated, then the token budget, whichever comes first in the text.
func limitAnswer(text string, cfg *bedrock.InferenceConfig) (string, string) {
	reason := bedrock.StopEndTurn
	if cfg == nil {
		return text, reason
	}
	if cut := firstStopSequence(text, cfg.StopSequences); cut >= 0 {
		text, reason = text[:cut], bedrock.StopSequence
	}
	if cfg.MaxTokens != nil && countWords(text) > *cfg.MaxTokens {
		text, reason = strings.Join(wordChunks(text)[:*cfg.MaxTokens], ""), bedrock.StopMaxTokens
	}
	return text, reason
}

// firstStopSequence returns where the earliest stop sequence starts in text, or -1.
func firstStopSequence(text string, sequences []string) int {
	first := -1
	for _, seq := range sequences {
		if seq == "" {
			continue
		}
		if i := strings.Index(text, seq); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	return first
}

// inputWords counts the prompt's tokens: words of the system prompt and of every
// turn's text and tool-result text.
func inputWords(req *bedrock.ConverseRequest) int {
	n := 0
	for _, s := range req.System {
		if s.Text != nil {
			n += countWords(*s.Text)
		}
	}
	for _, m := range req.Messages {
		for _, block := range m.Content {
			if block.Text != nil {
				n += countWords(*block.Text)
			}
			if block.ToolResult != nil {
				n += countWords(strings.Join(toolResultTexts(block.ToolResult), " "))
			}
		}
	}
	return n
}

func usageFor(input, output int) bedrock.TokenUsage {
	return bedrock.TokenUsage{InputTokens: input, OutputTokens: output, TotalTokens: input + output}
}

func countWords(s string) int { return len(strings.Fields(s)) }

// wordChunks splits s into words, each carrying the whitespace before it (and the
// last one the whitespace after it), so the chunks concatenate back to s exactly.
// Streams send one chunk per delta.
func wordChunks(s string) []string {
	var chunks []string
	start := 0
	inWord := false
	for i, r := range s {
		space := unicode.IsSpace(r)
		if space && inWord {
			chunks = append(chunks, s[start:i])
			start = i
		}
		inWord = !space
	}
	if start < len(s) {
		if len(chunks) > 0 && strings.TrimSpace(s[start:]) == "" {
			chunks[len(chunks)-1] += s[start:] // trailing whitespace
		} else {
			chunks = append(chunks, s[start:])
		}
	}
	return chunks
}

// completeScripted fills what a script left out, so a script only has to say
// what its test is about: role, stop reason and usage.
func completeScripted(resp bedrock.ConverseResponse, req *bedrock.ConverseRequest) bedrock.ConverseResponse {
	msg := bedrock.Message{Role: "assistant"}
	if resp.Output.Message != nil {
		msg = *resp.Output.Message
		if msg.Role == "" {
			msg.Role = "assistant"
		}
		if msg.Content == nil {
			msg.Content = []bedrock.ContentBlock{}
		}
	}
	resp.Output.Message = &msg
	if resp.StopReason == "" {
		resp.StopReason = bedrock.StopEndTurn
		for _, block := range msg.Content {
			if block.ToolUse != nil {
				resp.StopReason = bedrock.StopToolUse
			}
		}
	}
	if resp.Usage == (bedrock.TokenUsage{}) {
		resp.Usage = usageFor(inputWords(req), outputWords(msg))
	}
	return resp
}

// outputWords counts the answer's tokens: words of its text and reasoning.
func outputWords(msg bedrock.Message) int {
	n := 0
	for _, block := range msg.Content {
		if block.Text != nil {
			n += countWords(*block.Text)
		}
		if r := block.ReasoningContent; r != nil && r.ReasoningText != nil {
			n += countWords(r.ReasoningText.Text)
		}
	}
	return n
}
