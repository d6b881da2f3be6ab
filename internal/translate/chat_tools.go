package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// JSONToolName is the forced tool that carries structured output: Converse
// has no response-format switch, but a tool's input is schema-constrained.
const JSONToolName = "json_tool_call"

var emptyObjectSchema = json.RawMessage(`{"type":"object","properties":{}}`)

// toolPlan is what the request's tools, tool_choice and response_format
// decide together.
type toolPlan struct {
	config      *bedrock.ToolConfig
	jsonTool    string // non-empty when structured output rides on a tool
	jsonWrapped bool   // the schema was wrapped in {"value": ...}
	// offered: the client offers tools the model may call in this turn.
	offered bool
	// withheld names tools declared only because the history used them:
	// calls to them are not the client's to receive (see AnswerShape).
	withheld []string
	// output carries a json_schema response_format the model takes natively.
	output *bedrock.OutputConfig
}

// markTools puts a cache point after the client's tools (before the
// structured-output tool, which follows them), unless one is there.
func (p *toolPlan) markTools(cc *openai.CacheControl) {
	if p.config == nil || !p.offered {
		return
	}
	end := len(p.config.Tools)
	if p.jsonTool != "" {
		end--
	}
	if end == 0 || p.config.Tools[end-1].CachePoint != nil {
		return
	}
	mark := bedrock.Tool{CachePoint: &bedrock.CachePointBlock{Type: "default", TTL: cc.TTL}}
	p.config.Tools = slices.Insert(p.config.Tools, end, mark)
}

// historyToolDescription tells the model why a tool it used earlier is
// declared but must not be called now.
const historyToolDescription = "Used earlier in this conversation; not available in this turn: do not call it."

// declareHistoryTools makes a conversation whose history holds tool calls
// valid when the client offers no tools in this turn: Bedrock refuses
// toolUse and toolResult blocks without a toolConfig, so the history's tool
// names are declared, with an empty schema and a description that says
// they are not available. Converse has no tool choice that forbids calls,
// so the names are also withheld: a call the model makes to one anyway
// never reaches the client as a tool call. It reports whether the history
// had named tool calls.
func (p *toolPlan) declareHistoryTools(msgs []openai.Message) bool {
	names := historyToolNames(msgs)
	if len(names) == 0 {
		return false
	}
	if p.config == nil {
		p.config = &bedrock.ToolConfig{}
	}
	declared := make(map[string]bool, len(p.config.Tools))
	for _, t := range p.config.Tools {
		if t.ToolSpec != nil {
			declared[t.ToolSpec.Name] = true
		}
	}
	for _, name := range names {
		if declared[name] {
			continue
		}
		p.config.Tools = append(p.config.Tools, bedrock.Tool{ToolSpec: &bedrock.ToolSpec{
			Name: name, Description: historyToolDescription, InputSchema: bedrock.ToolInputSchema{JSON: emptyObjectSchema},
		}})
		p.withheld = append(p.withheld, name)
	}
	return true
}

// historyToolNames lists the functions the conversation's assistant turns
// called (and legacy function results name), once each, in order.
func historyToolNames(msgs []openai.Message) []string {
	var names []string
	add := func(name string) {
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for _, m := range msgs {
		switch m.Role {
		case "assistant":
			for _, tc := range m.ToolCalls {
				add(tc.Function.Name)
			}
			if m.FunctionCall != nil {
				add(m.FunctionCall.Name)
			}
		case "function":
			add(m.Name)
		}
	}
	return names
}

// historyHasTools reports whether the conversation holds tool calls or
// tool results.
func historyHasTools(msgs []openai.Message) bool {
	for _, m := range msgs {
		if m.Role == "tool" || m.Role == "function" || len(m.ToolCalls) > 0 || m.FunctionCall != nil {
			return true
		}
	}
	return false
}

// toolConfigFromChat plans tools and structured output; nativeOutput: the
// model takes a json_schema response_format as outputConfig, with no tool.
func toolConfigFromChat(req *openai.ChatRequest, nativeOutput bool) (toolPlan, error) {
	var plan toolPlan
	tools := make([]bedrock.Tool, 0, len(req.Tools)+len(req.Functions)+1)
	names := make(map[string]bool, len(req.Tools))
	addTool := func(fn openai.Function, field string, cache *openai.CacheControl) error {
		if fn.Name == "" {
			return openai.InvalidRequest(field+".name", "%s: name is required", field)
		}
		if names[fn.Name] {
			return openai.InvalidRequest(field+".name", "%s: tool name %q is declared twice", field, fn.Name)
		}
		names[fn.Name] = true
		schema := fn.Parameters
		if len(bytes.TrimSpace(schema)) == 0 || string(bytes.TrimSpace(schema)) == "null" {
			schema = emptyObjectSchema
		} else if !json.Valid(schema) || bytes.TrimSpace(schema)[0] != '{' {
			return openai.InvalidRequest(field+".parameters", "%s: parameters must be a JSON schema object", field)
		}
		tools = append(tools, bedrock.Tool{ToolSpec: &bedrock.ToolSpec{
			Name: fn.Name, Description: fn.Description, InputSchema: bedrock.ToolInputSchema{JSON: schema},
		}})
		if cache != nil {
			cp, err := cachePointFor(cache, strings.TrimSuffix(field, ".function")+".cache_control")
			if err != nil {
				return err
			}
			tools = append(tools, bedrock.Tool{CachePoint: cp})
		}
		return nil
	}
	for i, t := range req.Tools {
		field := fmt.Sprintf("tools[%d]", i)
		if t.Type != "" && t.Type != "function" {
			return plan, openai.InvalidRequest(field+".type", "%s: tool type %q is not supported; only function tools are", field, t.Type)
		}
		if err := addTool(t.Function, field+".function", t.CacheControl); err != nil {
			return plan, err
		}
	}
	for i, fn := range req.Functions {
		if err := addTool(fn, fmt.Sprintf("functions[%d]", i), nil); err != nil {
			return plan, err
		}
	}

	choice, none, err := toolChoiceFromChat(req, names)
	if err != nil {
		return plan, err
	}
	if none {
		tools = tools[:0]
	}
	plan.offered = len(tools) > 0

	if rf := req.ResponseFormat; rf != nil && rf.Type == "json_schema" && nativeOutput {
		out, err := outputConfigFor(rf)
		if err != nil {
			return plan, err
		}
		plan.output = out
	} else if rf != nil && rf.Type != "" && rf.Type != "text" {
		schema, wrapped, err := responseSchema(rf)
		if err != nil {
			return plan, err
		}
		plan.jsonTool, plan.jsonWrapped = JSONToolName, wrapped
		desc := "Respond with a JSON value that matches this tool's input schema. Always call this tool to answer."
		if rf.JSONSchema != nil && rf.JSONSchema.Description != "" {
			desc = rf.JSONSchema.Description
		}
		tools = append(tools, bedrock.Tool{ToolSpec: &bedrock.ToolSpec{
			Name: JSONToolName, Description: desc, InputSchema: bedrock.ToolInputSchema{JSON: schema},
		}})
		switch {
		case len(names) == 0 || none:
			// The answer must be the JSON: force the tool.
			choice = &bedrock.ToolChoice{Tool: &bedrock.SpecificTool{Name: JSONToolName}}
		case choice == nil || choice.Auto != nil:
			// Real tools stay callable, but the model must not answer in
			// free text: it either calls a tool or answers through JSON.
			choice = &bedrock.ToolChoice{Any: &struct{}{}}
		}
	}
	if len(tools) == 0 {
		return plan, nil
	}
	plan.config = &bedrock.ToolConfig{Tools: tools, ToolChoice: choice}
	return plan, nil
}

// toolChoiceFromChat maps tool_choice (or legacy function_call). none
// reports "none": the turn must not call tools.
func toolChoiceFromChat(req *openai.ChatRequest, names map[string]bool) (choice *bedrock.ToolChoice, none bool, err error) {
	raw, param := req.ToolChoice, "tool_choice"
	if len(raw) == 0 {
		raw, param = req.FunctionCall, "function_call"
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false, openai.InvalidRequest(param, "%s: %v", param, err)
		}
		switch s {
		case "auto":
			if len(names) == 0 {
				return nil, false, nil
			}
			return &bedrock.ToolChoice{Auto: &struct{}{}}, false, nil
		case "none":
			return nil, true, nil
		case "required", "any":
			if len(names) == 0 {
				return nil, false, openai.InvalidRequest(param, "%s is %q but no tools were given", param, s)
			}
			return &bedrock.ToolChoice{Any: &struct{}{}}, false, nil
		}
		return nil, false, openai.InvalidRequest(param, "%s must be \"auto\", \"none\", \"required\" or an object naming a function; got %q", param, s)
	}
	var obj struct {
		Type     string `json:"type"`
		Name     string `json:"name"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, false, openai.InvalidRequest(param, "%s must be a string or an object: %v", param, err)
	}
	name := obj.Function.Name
	if name == "" {
		name = obj.Name
	}
	if name == "" {
		return nil, false, openai.InvalidRequest(param, "%s: function.name is required", param)
	}
	if !names[name] {
		return nil, false, openai.InvalidRequest(param, "%s names function %q, which is not in tools", param, name)
	}
	return &bedrock.ToolChoice{Tool: &bedrock.SpecificTool{Name: name}}, false, nil
}

// responseSchema is the input schema of the structured-output tool. For
// json_object without a schema, the schema requires a non-empty object, so
// the model cannot satisfy it with {}.
func responseSchema(rf *openai.ResponseFormat) (schema json.RawMessage, wrapped bool, err error) {
	switch rf.Type {
	case "json_object":
		return json.RawMessage(`{"type":"object","minProperties":1,"additionalProperties":true}`), false, nil
	case "json_schema":
		if rf.JSONSchema == nil || len(bytes.TrimSpace(rf.JSONSchema.Schema)) == 0 {
			return nil, false, openai.InvalidRequest("response_format.json_schema.schema", "response_format json_schema needs json_schema.schema")
		}
		s := bytes.TrimSpace(rf.JSONSchema.Schema)
		if !json.Valid(s) || s[0] != '{' {
			return nil, false, openai.InvalidRequest("response_format.json_schema.schema", "response_format.json_schema.schema must be a JSON schema object")
		}
		if !schemaIsObject(s) {
			// Tool inputs are objects: wrap other schemas in a property
			// and unwrap the answer (see AnswerShape).
			return json.RawMessage(`{"type":"object","properties":{"value":` + string(s) + `},"required":["value"]}`), true, nil
		}
		return s, false, nil
	}
	return nil, false, openai.InvalidRequest("response_format.type", "response_format.type must be text, json_object or json_schema; got %q", rf.Type)
}

func schemaIsObject(schema json.RawMessage) bool {
	var s struct {
		Type any `json:"type"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return true
	}
	switch t := s.Type.(type) {
	case nil:
		return true
	case string:
		return t == "object"
	}
	return false
}

// reasoningBudgets maps reasoning_effort to a Claude thinking budget.
// Anthropic's minimum budget is 1024 tokens.
var reasoningBudgets = map[string]int{"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096}

// applyReasoningEffort turns reasoning_effort into the model family's
// reasoning switch in additionalModelRequestFields.
func applyReasoningEffort(effort string, model string, fields map[string]json.RawMessage, ic *bedrock.InferenceConfig) error {
	budget, ok := reasoningBudgets[effort]
	if !ok {
		return openai.InvalidRequest("reasoning_effort", "reasoning_effort must be minimal, low, medium or high; got %q", effort)
	}
	switch family := ModelFamily(model); {
	case family == "anthropic":
		if _, set := fields["thinking"]; set {
			return nil // an explicit thinking parameter wins
		}
		fields["thinking"] = json.RawMessage(fmt.Sprintf(`{"type":"enabled","budget_tokens":%d}`, budget))
		// Claude needs room to answer after thinking.
		if ic.MaxTokens == nil || *ic.MaxTokens <= budget {
			n := budget + 4096
			ic.MaxTokens = &n
		}
	case family == "amazon" && strings.Contains(model, "nova"):
		level := effort
		if level == "minimal" {
			level = "low"
		}
		fields["reasoningConfig"] = json.RawMessage(`{"type":"enabled","maxReasoningEffort":"` + level + `"}`)
	case family == "openai" || family == "deepseek":
		fields["reasoning_effort"] = json.RawMessage(`"` + effort + `"`)
	default:
		return openai.InvalidRequest("reasoning_effort", "reasoning_effort is not supported by Bedrock model %s", model)
	}
	return nil
}

// ModelFamily returns the provider part of a Bedrock model id: "anthropic"
// for "anthropic.claude-...", "us.anthropic.claude-..." (inference profiles)
// and model ARNs.
func ModelFamily(model string) string {
	family, _, _ := strings.Cut(baseModelID(model), ".")
	return family
}

func reasoningBlock(tb openai.ThinkingBlock, field string) (bedrock.ContentBlock, error) {
	switch tb.Type {
	case "thinking":
		return bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{
			ReasoningText: &bedrock.ReasoningText{Text: tb.Thinking, Signature: tb.Signature},
		}}, nil
	case "redacted_thinking":
		data, err := decodeBase64(tb.Data)
		if err != nil {
			return bedrock.ContentBlock{}, openai.InvalidRequest(field+".data", "%s: data must be base64: %v", field, err)
		}
		return bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{RedactedContent: data}}, nil
	}
	return bedrock.ContentBlock{}, openai.InvalidRequest(field+".type", "%s: type must be thinking or redacted_thinking; got %q", field, tb.Type)
}
