package translate

import (
	"fmt"
	"strings"
)

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
var modelCapabilities = []prefixRow[Capabilities]{
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
	{"cohere.command-text", capsInvokeOnly},
	{"cohere.command-light-text", capsInvokeOnly},

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
	if c, ok := byPrefix(modelCapabilities, model); ok {
		return c, true
	}
	return capsAll, false
}

// prefixRow is a row of a table matched by model-id prefix.
type prefixRow[T any] struct {
	prefix string
	value  T
}

// byPrefix returns the value of the first row whose prefix starts the
// model id, with any cross-region prefix or ARN path removed.
func byPrefix[T any](table []prefixRow[T], model string) (T, bool) {
	id := baseModelID(model)
	for _, row := range table {
		if strings.HasPrefix(id, row.prefix) {
			return row.value, true
		}
	}
	var zero T
	return zero, false
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

// API is the OpenAI endpoint a Bedrock model serves.
type API string

const (
	APIChat       API = "chat"
	APIEmbeddings API = "embeddings"
	APIImages     API = "images"
	APIRerank     API = "rerank"
)

// Path is the endpoint's path, for messages that tell a client where to go.
func (a API) Path() string {
	switch a {
	case APIEmbeddings:
		return "/v1/embeddings"
	case APIImages:
		return "/v1/images/generations"
	case APIRerank:
		return "/v1/rerank"
	}
	return "/v1/chat/completions"
}

// Native names a model-native InvokeModel body format Strata speaks.
type Native string

// The native formats. Chat formats build a prompt or a messages body from
// the conversation; embedding and image formats carry their inputs.
const (
	NativeAnthropic     Native = "anthropic-messages"
	NativeLlama2        Native = "llama2-prompt"
	NativeLlama3        Native = "llama3-prompt"
	NativeMistral       Native = "mistral-prompt"
	NativeTitanText     Native = "titan-text"
	NativeCohereCommand Native = "cohere-command"
	NativeJurassic2     Native = "ai21-jurassic2"
	// The formats of Custom Model Import, chosen by LiteLLM's route prefix.
	NativeDeepSeekR1 Native = "deepseek-r1-prompt"
	NativeQwen3      Native = "qwen3-prompt"
	NativeOpenAIChat Native = "openai-chat"

	NativeTitanEmbedV1    Native = "titan-embed-text-v1"
	NativeTitanEmbedV2    Native = "titan-embed-text-v2"
	NativeTitanEmbedImage Native = "titan-embed-image"
	NativeCohereEmbedV3   Native = "cohere-embed-v3"
	NativeCohereEmbedV4   Native = "cohere-embed-v4"
	NativeNovaEmbed       Native = "nova-multimodal-embed"

	NativeStabilitySDXL Native = "stability-sdxl"
	// NativeStabilitySDXL08 is SDXL 0.8: SDXL's body with the size rule of
	// Stability's SDXL beta, which it is.
	NativeStabilitySDXL08 Native = "stability-sdxl-0.8"
	NativeStabilityImage  Native = "stability-image"
	NativeTitanImage      Native = "titan-image"
	NativeNovaCanvas      Native = "nova-canvas"
)

// Family is how Strata serves a family of Bedrock models: the endpoint it
// answers on, whether Bedrock serves its chat through Converse, and the
// native InvokeModel format Strata speaks for it, if any.
type Family struct {
	Name string // as people call it, for messages
	API  API
	// Converse: Bedrock serves the family's chat on Converse. Chat families
	// without it go through InvokeModel; embedding and image models always do.
	Converse bool
	// Native is the InvokeModel body format; "" when Strata has none.
	Native Native
	// NativeStream: InvokeModelWithResponseStream serves the native format.
	NativeStream bool
}

// modelFamilies is matched by prefix like modelCapabilities, against the id
// with any cross-region prefix or ARN path removed; the first match wins.
// A provider row ("anthropic.") catches models released after this table.
var modelFamilies = []prefixRow[Family]{
	{"ai21.j2", Family{Name: "AI21 Jurassic-2", API: APIChat, Native: NativeJurassic2}},
	{"ai21.", Family{Name: "AI21 Jamba", API: APIChat, Converse: true}},

	{"amazon.titan-embed-text-v1", Family{Name: "Amazon Titan Text Embeddings", API: APIEmbeddings, Native: NativeTitanEmbedV1}},
	{"amazon.titan-embed-g1-text", Family{Name: "Amazon Titan Text Embeddings", API: APIEmbeddings, Native: NativeTitanEmbedV1}},
	{"amazon.titan-embed-text-v2", Family{Name: "Amazon Titan Text Embeddings V2", API: APIEmbeddings, Native: NativeTitanEmbedV2}},
	{"amazon.titan-embed-image", Family{Name: "Amazon Titan Multimodal Embeddings", API: APIEmbeddings, Native: NativeTitanEmbedImage}},
	{"amazon.nova-2-multimodal-embeddings", Family{Name: "Amazon Nova Multimodal Embeddings", API: APIEmbeddings, Native: NativeNovaEmbed}},
	{"amazon.rerank", Family{Name: "Amazon Rerank", API: APIRerank}},
	{"amazon.titan-image-generator", Family{Name: "Amazon Titan Image Generator", API: APIImages, Native: NativeTitanImage}},
	{"amazon.nova-canvas", Family{Name: "Amazon Nova Canvas", API: APIImages, Native: NativeNovaCanvas}},
	{"amazon.titan-text", Family{Name: "Amazon Titan Text", API: APIChat, Converse: true, Native: NativeTitanText, NativeStream: true}},
	{"amazon.titan-tg1", Family{Name: "Amazon Titan Text", API: APIChat, Converse: true, Native: NativeTitanText, NativeStream: true}},
	{"amazon.", Family{Name: "Amazon Nova", API: APIChat, Converse: true}},

	{"anthropic.", Family{Name: "Anthropic Claude", API: APIChat, Converse: true, Native: NativeAnthropic, NativeStream: true}},

	{"cohere.rerank", Family{Name: "Cohere Rerank", API: APIRerank}},
	{"cohere.embed-v4", Family{Name: "Cohere Embed v4", API: APIEmbeddings, Native: NativeCohereEmbedV4}},
	{"cohere.embed", Family{Name: "Cohere Embed v3", API: APIEmbeddings, Native: NativeCohereEmbedV3}},
	{"cohere.command-text", Family{Name: "Cohere Command", API: APIChat, Native: NativeCohereCommand, NativeStream: true}},
	{"cohere.command-light-text", Family{Name: "Cohere Command Light", API: APIChat, Native: NativeCohereCommand, NativeStream: true}},
	{"cohere.", Family{Name: "Cohere Command R", API: APIChat, Converse: true}},

	{"deepseek.", Family{Name: "DeepSeek", API: APIChat, Converse: true}},

	{"meta.llama2", Family{Name: "Meta Llama 2", API: APIChat, Converse: true, Native: NativeLlama2, NativeStream: true}},
	{"meta.llama3", Family{Name: "Meta Llama 3", API: APIChat, Converse: true, Native: NativeLlama3, NativeStream: true}},
	{"meta.", Family{Name: "Meta Llama", API: APIChat, Converse: true}},

	{"mistral.mistral-7b", Family{Name: "Mistral", API: APIChat, Converse: true, Native: NativeMistral, NativeStream: true}},
	{"mistral.mixtral", Family{Name: "Mistral", API: APIChat, Converse: true, Native: NativeMistral, NativeStream: true}},
	{"mistral.mistral-large-2402", Family{Name: "Mistral", API: APIChat, Converse: true, Native: NativeMistral, NativeStream: true}},
	{"mistral.mistral-small-2402", Family{Name: "Mistral", API: APIChat, Converse: true, Native: NativeMistral, NativeStream: true}},
	{"mistral.", Family{Name: "Mistral", API: APIChat, Converse: true}},

	{"openai.", Family{Name: "OpenAI gpt-oss", API: APIChat, Converse: true}},
	{"qwen.", Family{Name: "Qwen", API: APIChat, Converse: true}},
	{"writer.", Family{Name: "Writer Palmyra", API: APIChat, Converse: true}},

	{"stability.stable-diffusion-xl-v0", Family{Name: "Stability SDXL 0.8", API: APIImages, Native: NativeStabilitySDXL08}},
	{"stability.stable-diffusion-xl", Family{Name: "Stability SDXL", API: APIImages, Native: NativeStabilitySDXL}},
	{"stability.sd3", Family{Name: "Stability Stable Diffusion 3", API: APIImages, Native: NativeStabilityImage}},
	{"stability.stable-image-core", Family{Name: "Stability Stable Image Core", API: APIImages, Native: NativeStabilityImage}},
	{"stability.stable-image-ultra", Family{Name: "Stability Stable Image Ultra", API: APIImages, Native: NativeStabilityImage}},
	{"stability.", Family{Name: "Stability", API: APIImages}},
}

// FamilyOf returns the family of model. known is false for a provider
// prefix Strata has never heard of: such a model is served as chat through
// Converse, and Bedrock has the last word.
func FamilyOf(model string) (f Family, known bool) {
	if f, ok := byPrefix(modelFamilies, model); ok {
		return f, true
	}
	return Family{Name: "unknown provider", API: APIChat, Converse: true}, false
}

// Routes a deployment may take to Bedrock.
const (
	RouteConverse = "converse"
	RouteInvoke   = "invoke"
	// RouteRerank is the agent runtime's Rerank operation, the only way
	// Bedrock serves its rerank models.
	RouteRerank = "rerank"
)

// importedFamilies are LiteLLM's route prefixes for Custom Model Import
// ("bedrock/llama/<arn>" ...): the model's architecture, which its ARN
// does not tell, and the InvokeModel body it takes.
var importedFamilies = map[string]Family{
	"llama":       {Name: "imported Llama", API: APIChat, Native: NativeLlama3, NativeStream: true},
	"deepseek_r1": {Name: "imported DeepSeek-R1", API: APIChat, Native: NativeDeepSeekR1, NativeStream: true},
	"qwen3":       {Name: "imported Qwen3", API: APIChat, Native: NativeQwen3, NativeStream: true},
	"openai":      {Name: "imported model with OpenAI's chat format", API: APIChat, Native: NativeOpenAIChat, NativeStream: true},
}

// ImportedRoutes are the route prefixes of imported models, for messages.
const ImportedRoutes = "bedrock/llama/, bedrock/deepseek_r1/, bedrock/qwen3/ or bedrock/openai/"

// IsImportedRoute reports whether route is one of importedFamilies.
func IsImportedRoute(route string) bool {
	_, ok := importedFamilies[route]
	return ok
}

// Route decides how a deployment of model reaches Bedrock, honouring the
// route forced in its config ("bedrock/converse/<id>", "bedrock/invoke/<id>",
// or an imported model's family, "bedrock/llama/<arn>" ...; "" lets the
// family decide). The error says why a forced route cannot work and what to
// write instead; warning is set for models Strata does not know.
func Route(model, forced string) (f Family, route, warning string, err error) {
	if f, ok := importedFamilies[forced]; ok {
		return f, RouteInvoke, "", nil
	}
	if strings.Contains(model, ":imported-model/") {
		return Family{Name: "imported model", API: APIChat, Converse: true}, RouteConverse,
			fmt.Sprintf("%s is an imported model, whose architecture its ARN does not tell: it is served through the Converse API; "+
				"if the model does not take Converse, write its family's route prefix: %s, e.g. bedrock/llama/%s", model, ImportedRoutes, model), nil
	}
	f, known := FamilyOf(model)
	if !known {
		provider, _, _ := strings.Cut(baseModelID(model), ".")
		warning = fmt.Sprintf("Strata does not know the Bedrock provider %q of model %s; serving it as chat through the Converse API", provider, model)
	}
	if f.API == APIRerank {
		if forced != "" {
			return f, "", warning, fmt.Errorf("%s (%s) is a rerank model, which Bedrock serves only through its Rerank operation; write bedrock/%s", model, f.Name, model)
		}
		return f, RouteRerank, warning, nil
	}
	if f.API != APIChat {
		switch {
		case f.Native == "":
			return f, "", warning, fmt.Errorf("%s (%s) serves %s, but Strata does not know its InvokeModel body; it cannot be served", model, f.Name, f.API.Path())
		case forced == RouteConverse:
			return f, "", warning, fmt.Errorf("%s (%s) serves %s, which Bedrock offers only through InvokeModel; write bedrock/%s", model, f.Name, f.API.Path(), model)
		}
		return f, RouteInvoke, warning, nil
	}
	switch forced {
	case RouteConverse:
		if !f.Converse {
			return f, "", warning, fmt.Errorf("Bedrock's Converse API does not serve chat for %s (%s); write bedrock/%s or bedrock/invoke/%s", model, f.Name, model, model)
		}
		return f, RouteConverse, warning, nil
	case RouteInvoke:
		if f.Native == "" {
			return f, "", warning, fmt.Errorf("Strata has no InvokeModel body for %s (%s); write bedrock/%s to use the Converse API", model, f.Name, model)
		}
		return f, RouteInvoke, warning, nil
	}
	if f.Converse {
		return f, RouteConverse, warning, nil
	}
	return f, RouteInvoke, warning, nil
}
