package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
)

const maxModelIDLength = 2048

// decodeConverse parses a Converse body. Bedrock answers unparsable JSON with a
// ValidationException rather than a serialization error.
func decodeConverse(body []byte) (*bedrock.ConverseRequest, error) {
	var req bedrock.ConverseRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil || dec.More() {
		return nil, validationError("Malformed input request, please reformat your input and try again.")
	}
	return &req, nil
}

// validateConverse applies the checks Bedrock makes before the model runs:
// first the API model's constraints, all reported together as Coral does, then
// the conversation rules, which Bedrock reports one at a time.
func validateConverse(modelID string, req *bedrock.ConverseRequest) error {
	if !validModelID(modelID) {
		return validationError("The provided model identifier is invalid.")
	}
	if v := constraintViolations(req); len(v) > 0 {
		noun := "error"
		if len(v) > 1 {
			noun = "errors"
		}
		return validationError(fmt.Sprintf("%d validation %s detected: %s", len(v), noun, strings.Join(v, "; ")))
	}
	if msg := conversationProblem(req); msg != "" {
		return validationError(msg)
	}
	if len(cachePoints(req)) > 0 && !hasPrefix(promptCachingModels, modelID) {
		return validationError(errNoPromptCaching)
	}
	if msg := outputConfigProblem(modelID, req.OutputConfig); msg != "" {
		return validationError(msg)
	}
	return nil
}

// validModelID accepts the characters model ids, inference profile ids and ARNs use.
func validModelID(id string) bool {
	if id == "" || len(id) > maxModelIDLength {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:/", c)
		if !ok {
			return false
		}
	}
	return true
}

// constraintViolations lists breaches of the API model's min/max/enum constraints,
// worded as Coral words them.
func constraintViolations(req *bedrock.ConverseRequest) []string {
	var v []string
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			v = append(v, fmt.Sprintf("Value '%s' at 'messages.%d.member.role' failed to satisfy constraint: "+
				"Member must satisfy enum value set: [user, assistant]", m.Role, i+1))
		}
	}
	if c := req.InferenceConfig; c != nil {
		if c.MaxTokens != nil && *c.MaxTokens < 1 {
			v = append(v, fmt.Sprintf("Value '%d' at 'inferenceConfig.maxTokens' failed to satisfy constraint: "+
				"Member must have value greater than or equal to 1", *c.MaxTokens))
		}
		v = append(v, unitIntervalViolations("inferenceConfig.temperature", c.Temperature)...)
		v = append(v, unitIntervalViolations("inferenceConfig.topP", c.TopP)...)
	}
	if t := req.ServiceTier; t != nil && !slices.Contains(bedrock.ServiceTiers, t.Type) {
		v = append(v, fmt.Sprintf("Value '%s' at 'serviceTier.type' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [%s]", t.Type, strings.Join(bedrock.ServiceTiers, ", ")))
	}
	if o := req.OutputConfig; o != nil && o.TextFormat != nil && o.TextFormat.Type != "json_schema" {
		v = append(v, fmt.Sprintf("Value '%s' at 'outputConfig.textFormat.type' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [json_schema]", o.TextFormat.Type))
	}
	if p := req.PerformanceConfig; p != nil && p.Latency != "standard" && p.Latency != "optimized" {
		v = append(v, fmt.Sprintf("Value '%s' at 'performanceConfig.latency' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [standard, optimized]", p.Latency))
	}
	for _, cp := range cachePoints(req) {
		if cp.Type != "default" {
			v = append(v, fmt.Sprintf("Value '%s' at 'cachePoint.type' failed to satisfy constraint: "+
				"Member must satisfy enum value set: [default]", cp.Type))
		}
		if cp.TTL != "" && !slices.Contains(bedrock.CacheTTLs, cp.TTL) {
			v = append(v, fmt.Sprintf("Value '%s' at 'cachePoint.ttl' failed to satisfy constraint: "+
				"Member must satisfy enum value set: [%s]", cp.TTL, strings.Join(bedrock.CacheTTLs, ", ")))
		}
	}
	if req.ToolConfig != nil && len(req.ToolConfig.Tools) == 0 {
		v = append(v, "Value '[]' at 'toolConfig.tools' failed to satisfy constraint: "+
			"Member must have length greater than or equal to 1")
	}
	return v
}

func unitIntervalViolations(field string, value *float64) []string {
	if value == nil {
		return nil
	}
	shown := strconv.FormatFloat(*value, 'f', -1, 64)
	switch {
	case *value < 0:
		return []string{fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have value greater than or equal to 0", shown, field)}
	case *value > 1:
		return []string{fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have value less than or equal to 1", shown, field)}
	}
	return nil
}

// conversationProblem returns Bedrock's message for the first broken conversation
// rule, or "" when the conversation is well formed.
func conversationProblem(req *bedrock.ConverseRequest) string {
	if len(req.Messages) == 0 || req.Messages[0].Role != "user" {
		return "A conversation must start with a user message. Try again with a conversation that starts with a user message."
	}
	usesTools := false
	for i, m := range req.Messages {
		if i > 0 && m.Role == req.Messages[i-1].Role {
			return "A conversation must alternate between user and assistant roles. " +
				"Make sure the conversation alternates between user and assistant roles and try again."
		}
		if len(m.Content) == 0 {
			return fmt.Sprintf("The content field in the Message object at messages.%d is empty. "+
				"Add a ContentBlock object to the content field and try again.", i)
		}
		for j, block := range m.Content {
			if block.Text != nil && strings.TrimSpace(*block.Text) == "" {
				return fmt.Sprintf("The text field in the ContentBlock object at messages.%d.content.%d is blank. "+
					"Add text to the text field, and try again.", i, j)
			}
			usesTools = usesTools || block.ToolUse != nil || block.ToolResult != nil
		}
	}
	if usesTools && req.ToolConfig == nil {
		return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
	}
	return ""
}
