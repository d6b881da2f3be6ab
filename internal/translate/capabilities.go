package translate

import "strings"

// Capabilities say what a model can do through the Converse API, from
// Bedrock's "Supported models and model features" table. Translation adapts
// to them (system text moved into the first user turn, a stream replayed
// from a whole answer) or refuses with a clear 400, so nothing is sent to
// Bedrock blind.
type Capabilities struct {
	Converse    bool // chat through Converse; false: InvokeModel with the native body
	Stream      bool // ConverseStream works
	System      bool // system prompts
	Documents   bool // document blocks
	Vision      bool // image blocks
	Tools       bool // tool use
	StreamTools bool // tool use while streaming
	Guardrails  bool // guardrailConfig
}

var (
	capsAll        = Capabilities{Converse: true, Stream: true, System: true, Documents: true, Vision: true, Tools: true, StreamTools: true, Guardrails: true}
	capsTextOnly   = Capabilities{Converse: true, Stream: true, System: true, Documents: true, Guardrails: true}
	capsToolsNoStr = Capabilities{Converse: true, Stream: true, System: true, Documents: true, Tools: true, Guardrails: true}
	capsInvokeOnly = Capabilities{}
)

// modelCapabilities is matched by prefix against the model id with any
// cross-region prefix ("us.", "eu.", ...) or ARN path removed; the first
// match wins, so more specific prefixes come first.
var modelCapabilities = []struct {
	prefix string
	caps   Capabilities
}{
	{"ai21.jamba-instruct", Capabilities{Converse: true, Stream: true, System: true}},
	{"ai21.jamba", Capabilities{Converse: true, Stream: true, System: true, Documents: true, Tools: true, StreamTools: true, Guardrails: true}},
	{"ai21.j2", capsInvokeOnly},

	{"amazon.nova-micro", Capabilities{Converse: true, Stream: true, System: true, Tools: true, StreamTools: true, Guardrails: true}},
	{"amazon.nova", capsAll},
	{"amazon.titan-text-premier", Capabilities{Converse: true, Stream: true, Guardrails: true}},
	{"amazon.titan-t", Capabilities{Converse: true, Stream: true, Documents: true, Guardrails: true}},

	{"anthropic.claude-3-5-haiku", Capabilities{Converse: true, Stream: true, System: true, Documents: true, Tools: true, StreamTools: true}},
	{"anthropic.claude-v2", capsTextOnly},
	{"anthropic.claude-instant", capsTextOnly},
	{"anthropic.claude", capsAll},

	{"cohere.command-r", Capabilities{Converse: true, Stream: true, System: true, Documents: true, Tools: true, StreamTools: true}},
	{"cohere.command", capsInvokeOnly},

	{"deepseek.r1", capsTextOnly},
	{"deepseek.", capsToolsNoStr},

	{"meta.llama3-2-11b", Capabilities{Converse: true, Stream: true, System: true, Documents: true, Vision: true, Tools: true, Guardrails: true}},
	{"meta.llama3-2-90b", Capabilities{Converse: true, Stream: true, System: true, Documents: true, Vision: true, Tools: true, Guardrails: true}},
	{"meta.llama3-2", capsTextOnly},
	{"meta.llama3-1", capsToolsNoStr},
	{"meta.llama3-3", capsToolsNoStr},
	{"meta.llama4", Capabilities{Converse: true, Stream: true, System: true, Documents: true, Vision: true, Tools: true, Guardrails: true}},
	{"meta.llama", capsTextOnly},

	{"mistral.mistral-7b", Capabilities{Converse: true, Stream: true, Documents: true, Guardrails: true}},
	{"mistral.mixtral", Capabilities{Converse: true, Stream: true, Documents: true, Guardrails: true}},
	{"mistral.pixtral", Capabilities{Converse: true, Stream: true, System: true, Documents: true, Vision: true, Tools: true, Guardrails: true}},
	{"mistral.", capsToolsNoStr},

	{"openai.", capsToolsNoStr},
	{"writer.", capsToolsNoStr},
	{"qwen.", capsToolsNoStr},
}

// CapabilitiesOf returns what model can do on Converse. known is false for
// models not in the table; they get every capability, and Bedrock has the
// last word.
func CapabilitiesOf(model string) (caps Capabilities, known bool) {
	id := baseModelID(model)
	for _, m := range modelCapabilities {
		if strings.HasPrefix(id, m.prefix) {
			return m.caps, true
		}
	}
	return capsAll, false
}

// regionPrefixes are the prefixes of cross-region inference profile ids.
var regionPrefixes = []string{"us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.", "au."}

// baseModelID strips an ARN's path and a cross-region profile prefix:
// "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2" and
// "us.anthropic.claude-v2" both become "anthropic.claude-v2".
func baseModelID(model string) string {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	for _, p := range regionPrefixes {
		if rest, ok := strings.CutPrefix(model, p); ok && strings.Contains(rest, ".") {
			return rest
		}
	}
	return model
}
