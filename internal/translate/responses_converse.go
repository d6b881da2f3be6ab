package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-gateway/strata/internal/openai"
)

// The Responses API rides on the chat translation: a Responses request
// becomes the chat request ConverseFromChat (or InvokeFromChat) sends to
// Bedrock, and the chat answer, whole or streamed, becomes a response
// object or the Responses event sequence. Everything chat does for Bedrock
// (tool config, structured output, reasoning, caching, guardrails, model
// quirks) therefore applies here unchanged.

// NamespacedName is a function offered inside a namespace tool.
type NamespacedName struct {
	Namespace string
	Name      string
}

// ResponsesCall is a Responses request translated for the chat path.
type ResponsesCall struct {
	Chat *openai.ChatRequest
	// Input is the request's own input as items with ids, as stored and
	// listed by GET /responses/{id}/input_items.
	Input []openai.Item
	// Dropped lists what was not sent to Bedrock, for the log.
	Dropped []Dropped
	// DroppedTools names the tools left out (built-in tools Bedrock cannot
	// run, unknown types), for the log and a response header.
	DroppedTools []string
	// Answer is what reading the answer needs.
	Answer ResponsesAnswer

	req *openai.ResponsesRequest
	// messageLabels[i] is where chat messages[i] came from, e.g. "input[3]";
	// toolLabels likewise for chat tools[i]. They rename chat's error params.
	messageLabels []string
	toolLabels    []string
}

// ResponsesAnswer is what the translation of an answer needs to know
// about its request.
type ResponsesAnswer struct {
	// Names maps the tool names offered to Bedrock back to namespaced
	// functions; names not in it are plain functions.
	Names map[string]NamespacedName
	// Summarize puts reasoning text in a reasoning item's summary (the
	// client asked for reasoning.summary), otherwise in its content.
	Summarize bool
	// ShowEncrypted returns reasoning items' encrypted_content to the
	// client (include: ["reasoning.encrypted_content"]). The response kept
	// for previous_response_id always has it.
	ShowEncrypted bool
	// NewID makes item ids: prefix "msg", "fc" or "rs" plus something unique.
	NewID func(prefix string) string
}

// namespaceSeparator joins a namespace and a function into the one tool
// name Bedrock sees; Bedrock tool names allow [a-zA-Z0-9_-].
const namespaceSeparator = "__"

var bedrockToolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// builtInTools are OpenAI's hosted tools: Bedrock has nothing to run them.
var builtInTools = map[string]bool{
	"web_search": true, "web_search_preview": true, "web_search_preview_2025_03_11": true,
	"web_search_2025_08_26": true, "file_search": true, "code_interpreter": true,
	"image_generation": true, "computer_use_preview": true, "computer_use": true, "mcp": true,
	"local_shell": true, "shell": true, "apply_patch": true, "tool_search": true,
}

// ChatFromResponses turns a Responses request into a chat request. history
// is the conversation previous_response_id continues (its input and output
// items, oldest first); newID makes ids for input items that have none.
func ChatFromResponses(req *openai.ResponsesRequest, history []openai.Item, newID func(prefix string) string) (*ResponsesCall, error) {
	c := &ResponsesCall{req: req, Answer: ResponsesAnswer{NewID: newID}}
	chat := &openai.ChatRequest{
		Model:               req.Model,
		Stream:              req.Stream,
		Temperature:         req.Temperature,
		TopP:                req.TopP,
		MaxCompletionTokens: req.MaxOutputTokens,
		ParallelToolCalls:   req.ParallelToolCalls,
		User:                req.User,
		Extra:               req.Extra,
	}
	c.Chat = chat
	if req.MaxOutputTokens != nil && *req.MaxOutputTokens < 1 {
		return nil, openai.InvalidRequest("max_output_tokens", "max_output_tokens must be at least 1, got %d", *req.MaxOutputTokens)
	}
	for _, name := range slices.Sorted(maps.Keys(req.Unsupported)) {
		raw := bytes.TrimSpace(req.Unsupported[name])
		if string(raw) == "null" || string(raw) == "false" {
			c.Dropped = append(c.Dropped, Dropped{name, "its value has no effect"})
			continue
		}
		return nil, openai.InvalidRequest(name, "%s is not supported by this gateway's Responses API", name)
	}
	for _, name := range slices.Sorted(maps.Keys(req.Ignored)) {
		c.Dropped = append(c.Dropped, Dropped{name, "OpenAI platform parameter with no Bedrock equivalent"})
	}
	if len(req.Metadata) > 0 {
		c.Dropped = append(c.Dropped, Dropped{"metadata", "kept on the response, not sent to Bedrock"})
	}
	if req.Text != nil && req.Text.Verbosity != "" {
		c.Dropped = append(c.Dropped, Dropped{"text.verbosity", "Bedrock has no verbosity setting"})
	}
	if err := c.tools(req); err != nil {
		return nil, err
	}
	if err := c.toolChoice(req.ToolChoice); err != nil {
		return nil, err
	}
	if err := c.textFormat(req.Text); err != nil {
		return nil, err
	}
	if err := c.reasoning(req.Reasoning); err != nil {
		return nil, err
	}
	c.Answer.ShowEncrypted = req.Includes(openai.IncludeReasoningEncrypted)

	if req.Instructions != nil && strings.TrimSpace(*req.Instructions) != "" {
		c.addMessage("instructions", openai.Message{Role: "system", Content: openai.Content{Text: req.Instructions}})
	}
	items := req.Input.Items
	if req.Input.Text != nil {
		items = []openai.Item{{Type: openai.ItemMessage, Role: "user", Content: openai.ItemContent{Text: req.Input.Text}}}
	}
	if len(items) == 0 {
		return nil, openai.InvalidRequest("input", "input must be a string or a non-empty list of items")
	}
	conv := itemConversation{c: c, known: map[string]openai.Item{}}
	for i, it := range history {
		if err := conv.add(it, "previous_response_id", i); err != nil {
			return nil, err
		}
	}
	c.Input = make([]openai.Item, 0, len(items))
	for i, it := range items {
		if it.Type == "" {
			it.Type = openai.ItemMessage
		}
		if it.Type == openai.ItemReference {
			ref, ok := conv.known[it.ID]
			if !ok {
				return nil, openai.InvalidRequest(fmt.Sprintf("input[%d].id", i), "input[%d]: item %q is not part of this conversation", i, it.ID)
			}
			it = ref
		}
		if err := conv.add(it, "input", i); err != nil {
			return nil, err
		}
		if it.ID == "" && newID != nil {
			it.ID = newID(itemIDPrefix(it.Type))
		}
		if it.Status == "" {
			it.Status = openai.StatusCompleted
		}
		c.Input = append(c.Input, it)
	}
	conv.flushReasoning()
	return c, nil
}

func itemIDPrefix(itemType string) string {
	switch itemType {
	case openai.ItemFunctionCall:
		return "fc"
	case openai.ItemFunctionCallOutput:
		return "fco"
	case openai.ItemReasoning:
		return "rs"
	}
	return "msg"
}

func (c *ResponsesCall) addMessage(label string, m openai.Message) {
	c.Chat.Messages = append(c.Chat.Messages, m)
	c.messageLabels = append(c.messageLabels, label)
}

// BedrockToolName is the name a function inside a namespace is offered to
// Bedrock under.
func BedrockToolName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + namespaceSeparator + name
}

func (c *ResponsesCall) tools(req *openai.ResponsesRequest) error {
	addFunction := func(t openai.ResponsesTool, namespace, label string) error {
		if t.Name == "" {
			return openai.InvalidRequest(label+".name", "%s: name is required", label)
		}
		name := BedrockToolName(namespace, t.Name)
		if !bedrockToolName.MatchString(name) {
			return openai.InvalidRequest(label+".name", "%s: tool name %q must be 1 to 64 letters, digits, _ or - (a namespace's name and its function's name together, joined by %q)", label, name, namespaceSeparator)
		}
		if namespace != "" {
			if c.Answer.Names == nil {
				c.Answer.Names = map[string]NamespacedName{}
			}
			c.Answer.Names[name] = NamespacedName{Namespace: namespace, Name: t.Name}
		}
		c.Chat.Tools = append(c.Chat.Tools, openai.Tool{Type: "function", Function: openai.Function{
			Name: name, Description: t.Description, Parameters: t.Parameters, Strict: t.Strict,
		}})
		c.toolLabels = append(c.toolLabels, label)
		return nil
	}
	for i, t := range req.Tools {
		label := fmt.Sprintf("tools[%d]", i)
		switch t.Type {
		case "function":
			if err := addFunction(t, "", label); err != nil {
				return err
			}
		case "namespace":
			if t.Name == "" {
				return openai.InvalidRequest(label+".name", "%s: a namespace needs a name", label)
			}
			for j, member := range t.Tools {
				ml := fmt.Sprintf("%s.tools[%d]", label, j)
				if member.Type != "function" && member.Type != "" {
					c.DroppedTools = append(c.DroppedTools, t.Name+"."+member.Name)
					c.Dropped = append(c.Dropped, Dropped{ml, fmt.Sprintf("tool type %q in namespace %s cannot run on Bedrock; left out", member.Type, t.Name)})
					continue
				}
				if err := addFunction(member, t.Name, ml); err != nil {
					return err
				}
			}
		case "":
			return openai.InvalidRequest(label+".type", "%s: type is required", label)
		default:
			// Agents offer hosted tools on every call; refusing them would
			// make the gateway unusable for those agents.
			name, reason := t.Type, t.Type+" is a built-in OpenAI tool Bedrock cannot run; left out"
			switch {
			case t.Type == "custom":
				name, reason = "custom:"+t.Name, "custom tool "+t.Name+" takes free-form input, which Bedrock tools cannot; left out"
			case !builtInTools[t.Type]:
				reason = t.Type + " is an unknown tool type; left out"
			}
			c.DroppedTools = append(c.DroppedTools, name)
			c.Dropped = append(c.Dropped, Dropped{label, reason})
		}
	}
	return nil
}

// KeptTools are the request's tools that were offered to the model, as the
// response echoes them.
func (c *ResponsesCall) KeptTools() []openai.ResponsesTool {
	kept := []openai.ResponsesTool{}
	for _, t := range c.req.Tools {
		if t.Type == "function" || t.Type == "namespace" {
			kept = append(kept, t)
		}
	}
	return kept
}

func (c *ResponsesCall) toolChoice(raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return openai.InvalidRequest("tool_choice", "tool_choice: %v", err)
		}
		switch s {
		case "auto", "none", "required":
			if s == "required" && len(c.Chat.Tools) == 0 {
				if len(c.DroppedTools) > 0 {
					return openai.InvalidRequest("tool_choice", "tool_choice is \"required\" but the only tools given (%s) cannot run on Bedrock", strings.Join(c.DroppedTools, ", "))
				}
				return openai.InvalidRequest("tool_choice", "tool_choice is \"required\" but no tools were given")
			}
			c.Chat.ToolChoice = raw
			return nil
		}
		return openai.InvalidRequest("tool_choice", "tool_choice must be \"auto\", \"none\", \"required\" or an object; got %q", s)
	}
	var obj struct {
		Type      string `json:"type"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		Mode      string `json:"mode"`
		Tools     []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return openai.InvalidRequest("tool_choice", "tool_choice must be a string or an object: %v", err)
	}
	switch obj.Type {
	case "function":
		name, err := c.resolveFunction(obj.Namespace, obj.Name, "tool_choice.name")
		if err != nil {
			return err
		}
		c.Chat.ToolChoice = json.RawMessage(`{"type":"function","function":{"name":` + strconv.Quote(name) + `}}`)
		return nil
	case "allowed_tools":
		allowed := map[string]bool{}
		for i, t := range obj.Tools {
			if t.Type != "function" {
				return openai.InvalidRequest(fmt.Sprintf("tool_choice.tools[%d].type", i), "tool_choice.tools[%d]: %s tools cannot run on Bedrock", i, t.Type)
			}
			name, err := c.resolveFunction("", t.Name, fmt.Sprintf("tool_choice.tools[%d].name", i))
			if err != nil {
				return err
			}
			allowed[name] = true
		}
		tools, labels := c.Chat.Tools[:0:0], c.toolLabels[:0:0]
		for i, t := range c.Chat.Tools {
			if allowed[t.Function.Name] {
				tools, labels = append(tools, t), append(labels, c.toolLabels[i])
			}
		}
		c.Chat.Tools, c.toolLabels = tools, labels
		switch obj.Mode {
		case "", "auto":
			c.Chat.ToolChoice = json.RawMessage(`"auto"`)
		case "required":
			c.Chat.ToolChoice = json.RawMessage(`"required"`)
		default:
			return openai.InvalidRequest("tool_choice.mode", "tool_choice.mode must be auto or required; got %q", obj.Mode)
		}
		return nil
	case "":
		return openai.InvalidRequest("tool_choice.type", "tool_choice.type is required")
	}
	return openai.InvalidRequest("tool_choice", "tool_choice forces %s, a tool Strata cannot run on Bedrock; offer a function tool instead", obj.Type)
}

// resolveFunction finds the Bedrock name of a function the request offers:
// a plain function, or the one namespaced function of that name.
func (c *ResponsesCall) resolveFunction(namespace, name, param string) (string, error) {
	if name == "" {
		return "", openai.InvalidRequest(param, "%s is required", param)
	}
	offered := func(n string) bool {
		for _, t := range c.Chat.Tools {
			if t.Function.Name == n {
				return true
			}
		}
		return false
	}
	if namespace != "" {
		if n := BedrockToolName(namespace, name); offered(n) {
			return n, nil
		}
	} else if offered(name) {
		return name, nil
	} else {
		var found []string
		for bn, nn := range c.Answer.Names {
			if nn.Name == name {
				found = append(found, bn)
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
	}
	return "", openai.InvalidRequest(param, "%s names function %q, which is not in tools", param, name)
}

func (c *ResponsesCall) textFormat(text *openai.TextConfig) error {
	if text == nil || text.Format == nil {
		return nil
	}
	f := text.Format
	switch f.Type {
	case "", "text":
		return nil
	case "json_object":
		c.Chat.ResponseFormat = &openai.ResponseFormat{Type: "json_object"}
		return nil
	case "json_schema":
		if len(bytes.TrimSpace(f.Schema)) == 0 {
			return openai.InvalidRequest("text.format.schema", "text.format json_schema needs a schema")
		}
		c.Chat.ResponseFormat = &openai.ResponseFormat{Type: "json_schema", JSONSchema: &openai.JSONSchema{
			Name: f.Name, Description: f.Description, Schema: f.Schema, Strict: f.Strict,
		}}
		return nil
	}
	return openai.InvalidRequest("text.format.type", "text.format.type must be text, json_object or json_schema; got %q", f.Type)
}

func (c *ResponsesCall) reasoning(r *openai.ReasoningConfig) error {
	if r == nil {
		return nil
	}
	if r.Summary != nil || r.GenerateSummary != nil {
		c.Answer.Summarize = true
	}
	if r.Effort == nil {
		return nil
	}
	switch e := *r.Effort; e {
	case "none":
	case "minimal", "low", "medium", "high":
		c.Chat.ReasoningEffort = e
	case "xhigh":
		c.Chat.ReasoningEffort = "high"
		c.Dropped = append(c.Dropped, Dropped{"reasoning.effort", "xhigh is sent as high, the most Bedrock's reasoning switches offer"})
	default:
		return openai.InvalidRequest("reasoning.effort", "reasoning.effort must be none, minimal, low, medium, high or xhigh; got %q", e)
	}
	return nil
}

// itemConversation turns items into chat messages. Reasoning items wait for
// the assistant turn they belong to: Bedrock wants reasoning at the start
// of that turn.
type itemConversation struct {
	c         *ResponsesCall
	known     map[string]openai.Item // by id, for item_reference
	reasoning []openai.ThinkingBlock
	reasonAt  string
}

func (v *itemConversation) add(it openai.Item, source string, i int) error {
	label := fmt.Sprintf("%s[%d]", source, i)
	if source == "previous_response_id" {
		label = "previous_response_id"
	}
	if it.ID != "" {
		v.known[it.ID] = it
	}
	switch it.Type {
	case openai.ItemMessage, "":
		return v.message(it, label)
	case openai.ItemFunctionCall:
		if it.CallID == "" {
			return openai.InvalidRequest(label+".call_id", "%s: call_id is required", label)
		}
		if it.Name == "" {
			return openai.InvalidRequest(label+".name", "%s: name is required", label)
		}
		if args := strings.TrimSpace(it.Arguments); args != "" && (args[0] != '{' || !json.Valid([]byte(args))) {
			return openai.InvalidRequest(label+".arguments", "%s: arguments must be a JSON object encoded as a string", label)
		}
		m := openai.Message{Role: "assistant", ToolCalls: []openai.ToolCall{{
			ID: it.CallID, Type: "function",
			Function: openai.FunctionCall{Name: BedrockToolName(it.Namespace, it.Name), Arguments: it.Arguments},
		}}}
		v.assistant(m, label)
	case openai.ItemFunctionCallOutput:
		if it.CallID == "" {
			return openai.InvalidRequest(label+".call_id", "%s: call_id is required", label)
		}
		text, err := toolOutputText(it.Output, label)
		if err != nil {
			return err
		}
		v.flushReasoning()
		v.c.addMessage(label, openai.Message{Role: "tool", ToolCallID: it.CallID, Content: openai.Content{Text: &text}})
	case openai.ItemReasoning:
		if it.EncryptedContent == nil || *it.EncryptedContent == "" {
			v.c.Dropped = append(v.c.Dropped, Dropped{label, "a reasoning item without encrypted_content cannot be replayed to Bedrock (it needs the signature)"})
			return nil
		}
		tb, err := DecodeReasoning(*it.EncryptedContent)
		if err != nil {
			return openai.InvalidRequest(label+".encrypted_content", "%s: encrypted_content was not made by this gateway: %v", label, err)
		}
		v.reasoning = append(v.reasoning, tb)
		v.reasonAt = label
	default:
		v.c.Dropped = append(v.c.Dropped, Dropped{label, fmt.Sprintf("%s items cannot be sent to Bedrock; left out", it.Type)})
	}
	return nil
}

func (v *itemConversation) message(it openai.Item, label string) error {
	m := openai.Message{Role: it.Role}
	switch it.Role {
	case "user", "system", "developer", "assistant":
	case "":
		return openai.InvalidRequest(label+".role", "%s: role is required", label)
	default:
		return openai.InvalidRequest(label+".role", "%s: unknown role %q; expected user, assistant, system or developer", label, it.Role)
	}
	if it.Content.Text != nil {
		m.Content = openai.Content{Text: it.Content.Text}
	} else {
		parts := make([]openai.ContentPart, 0, len(it.Content.Parts))
		for j, p := range it.Content.Parts {
			pl := fmt.Sprintf("%s.content[%d]", label, j)
			cp, err := chatPart(p, pl)
			if err != nil {
				return err
			}
			parts = append(parts, cp)
		}
		m.Content = openai.Content{Parts: parts}
	}
	if it.Role == "assistant" {
		v.assistant(m, label)
		return nil
	}
	v.flushReasoning()
	v.c.addMessage(label, m)
	return nil
}

// assistant adds an assistant message, with the reasoning that preceded it.
func (v *itemConversation) assistant(m openai.Message, label string) {
	m.ThinkingBlocks, v.reasoning = v.reasoning, nil
	v.c.addMessage(label, m)
}

// flushReasoning drops reasoning that no assistant turn followed: Bedrock
// takes reasoning only at the start of an assistant turn.
func (v *itemConversation) flushReasoning() {
	if len(v.reasoning) > 0 {
		v.c.Dropped = append(v.c.Dropped, Dropped{v.reasonAt, "reasoning not followed by an assistant message or function call; left out"})
		v.reasoning = nil
	}
}

func chatPart(p openai.Part, label string) (openai.ContentPart, error) {
	switch p.Type {
	case openai.PartInputText, openai.PartOutputText, "text":
		return openai.ContentPart{Type: "text", Text: p.Text}, nil
	case openai.PartRefusal:
		return openai.ContentPart{Type: "text", Text: p.Refusal}, nil
	case openai.PartInputImage:
		if p.ImageURL == "" {
			if p.FileID != "" {
				return openai.ContentPart{}, openai.InvalidRequest(label+".file_id", "%s: file_id needs OpenAI's Files API; send image_url (a URL or a data: URL) instead", label)
			}
			return openai.ContentPart{}, openai.InvalidRequest(label+".image_url", "%s: image_url is required", label)
		}
		return openai.ContentPart{Type: "image_url", ImageURL: &openai.ImageURL{URL: p.ImageURL, Detail: p.Detail}}, nil
	case openai.PartInputFile:
		if p.FileData == "" {
			param := label + ".file_data"
			if p.FileID != "" || p.FileURL != "" {
				return openai.ContentPart{}, openai.InvalidRequest(param, "%s: file_id and file_url are not supported; send the file inline as file_data", label)
			}
			return openai.ContentPart{}, openai.InvalidRequest(param, "%s: file_data is required", label)
		}
		return openai.ContentPart{Type: "file", File: &openai.File{FileData: p.FileData, Filename: p.Filename}}, nil
	case "":
		return openai.ContentPart{}, openai.InvalidRequest(label+".type", "%s: type is required", label)
	}
	return openai.ContentPart{}, openai.InvalidRequest(label+".type", "%s: content type %q is not supported; use input_text, input_image or input_file", label, p.Type)
}

// toolOutputText is a function_call_output's output as text: the string,
// or the text parts of a list.
func toolOutputText(raw json.RawMessage, label string) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var parts []openai.Part
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", openai.InvalidRequest(label+".output", "%s: output must be a string or a list of content parts", label)
	}
	var texts []string
	for j, p := range parts {
		if p.Type != openai.PartInputText && p.Type != openai.PartOutputText {
			return "", openai.InvalidRequest(fmt.Sprintf("%s.output[%d].type", label, j), "%s: only text can be returned from a function to a Bedrock model; got %q", label, p.Type)
		}
		texts = append(texts, p.Text)
	}
	return strings.Join(texts, "\n"), nil
}

// ClientError renames the parameters a chat translation error names to
// the Responses request's own: messages[3] becomes input[2], tools[1] the
// namespace entry it came from, and so on.
func (c *ResponsesCall) ClientError(err error) error {
	oe, ok := err.(*openai.Error)
	if !ok {
		return err
	}
	renamed := *oe
	renamed.Param = c.rename(oe.Param)
	renamed.Message = c.rename(oe.Message)
	return &renamed
}

var chatParamRef = regexp.MustCompile(`\b(messages|tools)\[(\d+)\](\.function)?|\bmax_completion_tokens\b|\bresponse_format\.json_schema\.schema\b|\bresponse_format\b|\breasoning_effort\b`)

func (c *ResponsesCall) rename(s string) string {
	return chatParamRef.ReplaceAllStringFunc(s, func(m string) string {
		switch m {
		case "max_completion_tokens":
			return "max_output_tokens"
		case "response_format.json_schema.schema":
			return "text.format.schema"
		case "response_format":
			return "text.format"
		case "reasoning_effort":
			return "reasoning.effort"
		}
		sub := chatParamRef.FindStringSubmatch(m)
		i, _ := strconv.Atoi(sub[2])
		labels := c.messageLabels
		if sub[1] == "tools" {
			labels = c.toolLabels
		}
		if i < len(labels) {
			return labels[i]
		}
		return m
	})
}

// encryptedPrefix marks encrypted_content this gateway made. What follows
// is the Bedrock reasoning block, signature included, base64url-encoded:
// opaque to clients, and all Bedrock needs to continue from it.
const encryptedPrefix = "strata.reasoning.v1."

// EncodeReasoning packs a reasoning block for encrypted_content.
func EncodeReasoning(tb openai.ThinkingBlock) string {
	raw, _ := json.Marshal(tb)
	return encryptedPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// DecodeReasoning unpacks what EncodeReasoning made.
func DecodeReasoning(s string) (openai.ThinkingBlock, error) {
	var tb openai.ThinkingBlock
	rest, ok := strings.CutPrefix(s, encryptedPrefix)
	if !ok {
		return tb, fmt.Errorf("unknown format")
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return tb, err
	}
	if err := json.Unmarshal(raw, &tb); err != nil {
		return tb, err
	}
	if tb.Type != "thinking" && tb.Type != "redacted_thinking" {
		return tb, fmt.Errorf("unknown reasoning type %q", tb.Type)
	}
	return tb, nil
}

// NewResponse is the response object for this request before any output:
// status in_progress, the request's settings echoed.
func (c *ResponsesCall) NewResponse(id string, createdAt int64, model string) *openai.Response {
	req := c.req
	r := &openai.Response{
		ID: id, Object: "response", CreatedAt: createdAt, Status: openai.StatusInProgress,
		Instructions: req.Instructions, MaxOutputTokens: req.MaxOutputTokens, Model: model,
		Output: []openai.Item{}, ParallelToolCalls: req.ParallelToolCalls == nil || *req.ParallelToolCalls,
		Store: req.StoreOrDefault(), Temperature: req.Temperature, TopP: req.TopP,
		Text: openai.TextConfig{Format: &openai.TextFormat{Type: "text"}}, ToolChoice: json.RawMessage(`"auto"`),
		Tools: c.KeptTools(), Truncation: "disabled", Metadata: req.Metadata,
	}
	if req.PreviousResponseID != "" {
		p := req.PreviousResponseID
		r.PreviousResponseID = &p
	}
	if req.Reasoning != nil {
		r.Reasoning = *req.Reasoning
	}
	if req.Text != nil {
		r.Text = *req.Text
		if r.Text.Format == nil {
			r.Text.Format = &openai.TextFormat{Type: "text"}
		}
	}
	if len(bytes.TrimSpace(req.ToolChoice)) > 0 {
		r.ToolChoice = req.ToolChoice
	}
	if req.User != "" {
		u := req.User
		r.User = &u
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	return r
}

// ResponseFromChat fills r, made by NewResponse, from a whole chat answer.
// r keeps every reasoning item's encrypted_content; see ForClient.
func ResponseFromChat(chat *openai.ChatCompletion, r *openai.Response, a ResponsesAnswer, completedAt int64) {
	var finish string
	if len(chat.Choices) > 0 {
		ch := &chat.Choices[0]
		msg := &ch.Message
		finish = ch.FinishReason
		for _, tb := range msg.ThinkingBlocks {
			r.Output = append(r.Output, reasoningItem(a, tb, a.NewID("rs")))
		}
		if msg.Content != nil && (*msg.Content != "" || len(msg.ToolCalls) == 0) {
			part := openai.Part{Type: openai.PartOutputText, Text: *msg.Content}
			if finish == "content_filter" {
				// What Bedrock's guardrail or filter answered in the
				// model's place: a refusal, for clients that look for one.
				part = openai.Part{Type: openai.PartRefusal, Refusal: *msg.Content}
			}
			r.Output = append(r.Output, openai.Item{Type: openai.ItemMessage, ID: a.NewID("msg"), Status: itemStatus(finish),
				Role: "assistant", Content: openai.ItemContent{Parts: []openai.Part{part}}})
		}
		for _, tc := range msg.ToolCalls {
			r.Output = append(r.Output, functionCallItem(a, a.NewID("fc"), tc.ID, tc.Function.Name, tc.Function.Arguments, openai.StatusCompleted))
		}
	}
	r.Usage = ResponseUsageFromChat(chat.Usage)
	finishResponse(r, finish, completedAt)
}

func reasoningItem(a ResponsesAnswer, tb openai.ThinkingBlock, id string) openai.Item {
	enc := EncodeReasoning(tb)
	it := openai.Item{Type: openai.ItemReasoning, ID: id, EncryptedContent: &enc, Summary: []openai.Part{}}
	if tb.Thinking != "" {
		if a.Summarize {
			it.Summary = []openai.Part{{Type: openai.PartSummaryText, Text: tb.Thinking}}
		} else {
			it.Content = openai.ItemContent{Parts: []openai.Part{{Type: openai.PartReasoningText, Text: tb.Thinking}}}
		}
	}
	return it
}

func functionCallItem(a ResponsesAnswer, id, callID, bedrockName, args, status string) openai.Item {
	it := openai.Item{Type: openai.ItemFunctionCall, ID: id, Status: status, CallID: callID, Name: bedrockName, Arguments: args}
	if nn, ok := a.Names[bedrockName]; ok {
		it.Namespace, it.Name = nn.Namespace, nn.Name
	}
	return it
}

func itemStatus(finish string) string {
	if finish == "length" {
		return openai.StatusIncomplete
	}
	return openai.StatusCompleted
}

// finishResponse sets the status a chat finish_reason means.
func finishResponse(r *openai.Response, finish string, completedAt int64) {
	switch finish {
	case "length":
		r.Status = openai.StatusIncomplete
		r.IncompleteDetails = &openai.IncompleteDetails{Reason: "max_output_tokens"}
	case "content_filter":
		r.Status = openai.StatusIncomplete
		r.IncompleteDetails = &openai.IncompleteDetails{Reason: "content_filter"}
	default:
		r.Status = openai.StatusCompleted
		r.CompletedAt = &completedAt
	}
}

// ResponseUsageFromChat maps chat usage to the Responses shape. Bedrock
// does not count reasoning tokens apart; they are part of output_tokens.
func ResponseUsageFromChat(u *openai.Usage) *openai.ResponseUsage {
	if u == nil {
		return nil
	}
	ru := &openai.ResponseUsage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if u.PromptTokensDetails != nil {
		ru.InputTokensDetails.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	return ru
}

// ForClient is r as the client sees it: reasoning items keep their
// encrypted_content only if the request included it. r is not modified.
func ForClient(r *openai.Response, showEncrypted bool) *openai.Response {
	if showEncrypted || !hasEncrypted(r.Output) {
		return r
	}
	cp := *r
	cp.Output = make([]openai.Item, len(r.Output))
	for i, it := range r.Output {
		it.EncryptedContent = nil
		cp.Output[i] = it
	}
	return &cp
}

func hasEncrypted(items []openai.Item) bool {
	for _, it := range items {
		if it.EncryptedContent != nil {
			return true
		}
	}
	return false
}
