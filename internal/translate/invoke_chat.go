package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// Chat through InvokeModel: the request is first translated exactly as for
// Converse (same validation, same merging of turns, same parameters), then
// the Converse request is rendered in the family's native body. Answers and
// stream chunks go the other way, into Converse answers and stream events,
// so ChatFromConverse and ChatStream finish the job for every route.

// chatCodec is one native chat format.
type chatCodec struct {
	// vision: the native body carries images.
	vision bool
	// stop: the native body has stop sequences.
	stop bool
	// renames maps provider-specific parameter names to the native body's.
	renames map[string]string
	// paramsIn names the object provider-specific parameters go in; "" is the body itself.
	paramsIn string
	// build renders the conversation and inference settings; stream is set
	// when the body is for InvokeModelWithResponseStream.
	build func(c *conversation, ic *bedrock.InferenceConfig, stream bool) (map[string]any, error)
	// answer reads a whole InvokeModel answer.
	answer func(body []byte) (*bedrock.ConverseResponse, error)
	// chunk reads one InvokeModelWithResponseStream chunk.
	chunk func(payload []byte, s *InvokeChatStream, yield func(*bedrock.StreamEvent) error) error
}

// chatCodecs holds the native chat formats by name.
var chatCodecs = map[Native]*chatCodec{
	NativeAnthropic:     {vision: true, stop: true, build: anthropicBody, answer: anthropicAnswer, chunk: anthropicChunk},
	NativeLlama2:        {build: llamaBody(llama2Prompt), answer: llamaAnswer, chunk: llamaChunk},
	NativeLlama3:        {build: llamaBody(llama3Prompt), answer: llamaAnswer, chunk: llamaChunk},
	NativeMistral:       {stop: true, build: mistralBody, answer: mistralAnswer, chunk: mistralChunk},
	NativeTitanText:     {stop: true, paramsIn: "textGenerationConfig", build: titanTextBody, answer: titanTextAnswer, chunk: titanTextChunk},
	NativeCohereCommand: {stop: true, renames: map[string]string{"top_k": "k"}, build: cohereCommandBody, answer: cohereCommandAnswer, chunk: cohereCommandChunk},
	NativeJurassic2:     {stop: true, build: jurassicBody, answer: jurassicAnswer, chunk: jurassicChunk},
	NativeDeepSeekR1:    {build: llamaBody(deepseekR1Prompt), answer: deepseekR1Answer, chunk: deepseekR1Chunk},
	NativeQwen3:         {stop: true, build: qwen3Body, answer: qwen3Answer, chunk: llamaChunk},
	NativeOpenAIChat:    {stop: true, build: openAIChatBody, answer: openAIChatAnswer, chunk: openAIChatChunk},
}

// InvokeTarget is what translation needs to know about a deployment whose
// chat goes through InvokeModel. Build it once per deployment.
type InvokeTarget struct {
	Model  string
	Native Native
	// Stream: InvokeModelWithResponseStream serves the model; otherwise a
	// streamed request is answered whole and replayed as a stream.
	Stream bool
	chat   *ChatTarget
	codec  *chatCodec
}

// NewInvokeTarget validates a deployment's default parameters for chat in
// the native format of family f.
func NewInvokeTarget(model string, f Family, defaults map[string]any, dropParams bool) (*InvokeTarget, error) {
	codec, ok := chatCodecs[f.Native]
	if !ok {
		return nil, fmt.Errorf("Strata has no InvokeModel chat body for %s (%s)", model, f.Name)
	}
	chat, err := NewChatTarget(model, defaults, dropParams)
	if err != nil {
		return nil, err
	}
	// What the native body can carry, not what Converse could.
	chat.Caps = Capabilities{Stream: f.NativeStream, System: true, Vision: codec.vision}
	return &InvokeTarget{Model: model, Native: f.Native, Stream: f.NativeStream, chat: chat, codec: codec}, nil
}

// InvokeCall is a chat request translated for InvokeModel.
type InvokeCall struct {
	Body []byte
	// Stream: call InvokeModelWithResponseStream.
	Stream bool
	// StreamFallback: the client asked for a stream the model cannot give;
	// the answer is fetched whole and replayed (see ReplayAsStream).
	StreamFallback bool
	// Options are the service tier and latency profile, which InvokeModel
	// takes as headers beside the body.
	Options bedrock.InvokeOptions
	Dropped []Dropped
}

// InvokeFromChat turns an OpenAI chat request into the native InvokeModel
// body of target's family. Problems the client must fix come back as
// *openai.Error.
func InvokeFromChat(req *openai.ChatRequest, target *InvokeTarget) (*InvokeCall, error) {
	if len(req.Tools) > 0 || len(req.Functions) > 0 {
		return nil, openai.InvalidRequest("tools", "tools are not supported for Bedrock model %s on InvokeModel (%s); use a model served through the Converse API", target.Model, target.Native)
	}
	if rf := req.ResponseFormat; rf != nil && rf.Type != "" && rf.Type != "text" {
		return nil, openai.InvalidRequest("response_format", "response_format %s is not supported for Bedrock model %s on InvokeModel (%s)", rf.Type, target.Model, target.Native)
	}
	call, err := ConverseFromChat(req, target.chat)
	if err != nil {
		return nil, err
	}
	conv := conversationFrom(call.Request)
	ic := bedrock.InferenceConfig{}
	if call.Request.InferenceConfig != nil {
		ic = *call.Request.InferenceConfig
	}
	dropped := call.Dropped
	var opts bedrock.InvokeOptions
	if call.Request.ServiceTier != nil {
		opts.ServiceTier = call.Request.ServiceTier.Type
	}
	if call.Request.PerformanceConfig != nil {
		opts.Latency = call.Request.PerformanceConfig.Latency
	}
	if n := countCachePoints(call.Request); n > 0 {
		dropped = append(dropped, Dropped{"cache_control", fmt.Sprintf("%s not sent: the %s body Strata builds has none; prompt caching needs the Converse route", cachePoints(n), target.Native)})
	}
	if len(ic.StopSequences) > 0 && !target.codec.stop {
		if !target.chat.DropParams && !dropParamsRequested(req) {
			return nil, openai.InvalidRequest("stop", "stop is not supported by Bedrock model %s on InvokeModel (%s); remove it, or set drop_params: true to drop it", target.Model, target.Native)
		}
		ic.StopSequences = nil
		dropped = append(dropped, Dropped{"stop", "the model's native body has no stop sequences; dropped by drop_params"})
	}
	stream := req.Stream && !call.StreamFallback
	body, err := target.codec.build(conv, &ic, stream)
	if err != nil {
		return nil, err
	}
	if err := mergeParams(body, call.Request.AdditionalModelRequestFields, target.codec); err != nil {
		return nil, err
	}
	raw, err := marshalBody(body)
	if err != nil {
		return nil, fmt.Errorf("translate: encode %s body: %w", target.Native, err)
	}
	return &InvokeCall{Body: raw, Stream: stream, StreamFallback: call.StreamFallback, Options: opts, Dropped: dropped}, nil
}

// marshalBody encodes a native body as JSON, leaving the prompt formats'
// markers ("<|eot_id|>", "<s>") as they are rather than \u-escaped.
func marshalBody(body any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func dropParamsRequested(req *openai.ChatRequest) bool {
	var b bool
	raw, ok := req.Extra["drop_params"]
	return ok && json.Unmarshal(raw, &b) == nil && b
}

// mergeParams adds the provider-specific parameters (config defaults and
// the request's non-OpenAI keys) to the native body, as LiteLLM sends them:
// by their own names, except where the family spells one differently.
func mergeParams(body map[string]any, fields json.RawMessage, codec *chatCodec) error {
	if len(fields) == 0 {
		return nil
	}
	var params map[string]json.RawMessage
	if err := json.Unmarshal(fields, &params); err != nil {
		return openai.InvalidRequest("", "provider-specific parameters are not valid JSON: %v", err)
	}
	into := body
	if codec.paramsIn != "" {
		inner, _ := body[codec.paramsIn].(map[string]any)
		if inner == nil {
			inner = map[string]any{}
			body[codec.paramsIn] = inner
		}
		into = inner
	}
	for k, v := range params {
		if native, ok := codec.renames[k]; ok {
			k = native
		}
		into[k] = v
	}
	return nil
}

// conversation is a Converse request reduced to what native chat bodies
// carry: the system text and alternating turns of text (and images).
type conversation struct {
	system string
	turns  []turn
}

type turn struct {
	role   string // user | assistant
	text   string // the text blocks joined by newlines
	blocks []bedrock.ContentBlock
}

// conversationFrom keeps each turn's text and images, in order, and its
// text joined by newlines for the prompt formats. Reasoning and cache
// points have no place in a native body.
func conversationFrom(req *bedrock.ConverseRequest) *conversation {
	c := &conversation{}
	var sys []string
	for _, b := range req.System {
		if b.Text != nil {
			sys = append(sys, *b.Text)
		}
	}
	c.system = strings.Join(sys, "\n\n")
	for _, m := range req.Messages {
		t := turn{role: m.Role}
		var texts []string
		for _, b := range m.Content {
			switch {
			case b.Text != nil:
				texts = append(texts, *b.Text)
				t.blocks = append(t.blocks, b)
			case b.Image != nil:
				t.blocks = append(t.blocks, b)
			}
		}
		t.text = strings.Join(texts, "\n")
		c.turns = append(c.turns, t)
	}
	return c
}

// lastIsAssistant reports a conversation that ends with an assistant turn:
// the model continues that text rather than starting a new answer.
func (c *conversation) lastIsAssistant() bool {
	return len(c.turns) > 0 && c.turns[len(c.turns)-1].role == "assistant"
}

// setIf puts v under key when v is non-nil.
func setIf[T any](m map[string]any, key string, v *T) {
	if v != nil {
		m[key] = *v
	}
}

// samplingKeys are the names a native body gives Converse's inference
// parameters; an empty stop name means the family takes no stop sequences.
type samplingKeys struct{ maxTokens, temperature, topP, stop string }

// setSampling writes the inference parameters that are set into m under
// the family's own names.
func setSampling(m map[string]any, ic *bedrock.InferenceConfig, k samplingKeys) {
	setIf(m, k.maxTokens, ic.MaxTokens)
	setIf(m, k.temperature, ic.Temperature)
	setIf(m, k.topP, ic.TopP)
	if k.stop != "" && len(ic.StopSequences) > 0 {
		m[k.stop] = ic.StopSequences
	}
}

// anthropicVersion is the Messages API version Bedrock requires in the body.
const anthropicVersion = "bedrock-2023-05-31"

// anthropicDefaultMaxTokens fills max_tokens, which the Messages API
// requires, when neither the request nor the config sets it.
const anthropicDefaultMaxTokens = 4096

func anthropicBody(c *conversation, ic *bedrock.InferenceConfig, _ bool) (map[string]any, error) {
	type source struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
	}
	type block struct {
		Type   string  `json:"type"`
		Text   string  `json:"text,omitempty"`
		Source *source `json:"source,omitempty"`
	}
	type message struct {
		Role    string  `json:"role"`
		Content []block `json:"content"`
	}
	msgs := make([]message, 0, len(c.turns))
	for _, t := range c.turns {
		m := message{Role: t.role}
		for _, b := range t.blocks {
			if b.Image != nil {
				m.Content = append(m.Content, block{Type: "image", Source: &source{Type: "base64", MediaType: "image/" + b.Image.Format,
					Data: base64.StdEncoding.EncodeToString(b.Image.Source.Bytes)}})
				continue
			}
			m.Content = append(m.Content, block{Type: "text", Text: *b.Text})
		}
		msgs = append(msgs, m)
	}
	body := map[string]any{"anthropic_version": anthropicVersion, "messages": msgs, "max_tokens": anthropicDefaultMaxTokens}
	if c.system != "" {
		body["system"] = c.system
	}
	setSampling(body, ic, samplingKeys{"max_tokens", "temperature", "top_p", "stop_sequences"})
	return body, nil
}

// llamaBody renders Meta's prompt format; Llama has no stop sequences.
func llamaBody(prompt func(*conversation) string) func(*conversation, *bedrock.InferenceConfig, bool) (map[string]any, error) {
	return func(c *conversation, ic *bedrock.InferenceConfig, _ bool) (map[string]any, error) {
		body := map[string]any{"prompt": prompt(c)}
		setSampling(body, ic, samplingKeys{"max_gen_len", "temperature", "top_p", ""})
		return body, nil
	}
}

func mistralBody(c *conversation, ic *bedrock.InferenceConfig, _ bool) (map[string]any, error) {
	body := map[string]any{"prompt": mistralPrompt(c)}
	setSampling(body, ic, samplingKeys{"max_tokens", "temperature", "top_p", "stop"})
	return body, nil
}

func titanTextBody(c *conversation, ic *bedrock.InferenceConfig, _ bool) (map[string]any, error) {
	cfg := map[string]any{}
	setSampling(cfg, ic, samplingKeys{"maxTokenCount", "temperature", "topP", "stopSequences"})
	body := map[string]any{"inputText": transcriptPrompt(c, "User", "Bot")}
	if len(cfg) > 0 {
		body["textGenerationConfig"] = cfg
	}
	return body, nil
}

func cohereCommandBody(c *conversation, ic *bedrock.InferenceConfig, stream bool) (map[string]any, error) {
	body := map[string]any{"prompt": transcriptPrompt(c, "User", "Chatbot")}
	setSampling(body, ic, samplingKeys{"max_tokens", "temperature", "p", "stop_sequences"})
	if stream {
		// Cohere Command streams only when the body asks for it.
		body["stream"] = true
	}
	return body, nil
}

func jurassicBody(c *conversation, ic *bedrock.InferenceConfig, _ bool) (map[string]any, error) {
	body := map[string]any{"prompt": transcriptPrompt(c, "User", "Assistant")}
	setSampling(body, ic, samplingKeys{"maxTokens", "temperature", "topP", "stopSequences"})
	return body, nil
}
