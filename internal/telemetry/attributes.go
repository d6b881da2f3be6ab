package telemetry

import "go.opentelemetry.io/otel/attribute"

// Attribute keys of the OpenTelemetry GenAI semantic conventions.
const (
	OperationName         = attribute.Key("gen_ai.operation.name")
	ProviderName          = attribute.Key("gen_ai.provider.name")
	System                = attribute.Key("gen_ai.system") // the older name of gen_ai.provider.name, still read by many backends
	RequestModel          = attribute.Key("gen_ai.request.model")
	RequestMaxTokens      = attribute.Key("gen_ai.request.max_tokens")
	RequestTemperature    = attribute.Key("gen_ai.request.temperature")
	RequestTopP           = attribute.Key("gen_ai.request.top_p")
	ResponseModel         = attribute.Key("gen_ai.response.model")
	ResponseID            = attribute.Key("gen_ai.response.id")
	ResponseFinishReasons = attribute.Key("gen_ai.response.finish_reasons")
	UsageInputTokens      = attribute.Key("gen_ai.usage.input_tokens")
	UsageOutputTokens     = attribute.Key("gen_ai.usage.output_tokens")
	// InputMessages and OutputMessages hold prompt and completion text;
	// they are set only when message logging is asked for.
	InputMessages  = attribute.Key("gen_ai.input.messages")
	OutputMessages = attribute.Key("gen_ai.output.messages")
	ErrorType      = attribute.Key("error.type")
)

// Attribute keys of the HTTP semantic conventions, on the request span.
const (
	HTTPMethod     = attribute.Key("http.request.method")
	HTTPStatusCode = attribute.Key("http.response.status_code")
	URLPath        = attribute.Key("url.path")
)

// Strata's own attributes. Who called is named by LiteLLM's metadata
// names (never the key itself, nor its hash).
const (
	KeyAlias      = attribute.Key("metadata.user_api_key_alias")
	TeamID        = attribute.Key("metadata.user_api_key_team_id")
	UserID        = attribute.Key("metadata.user_api_key_user_id")
	EndUser       = attribute.Key("metadata.user_api_end_user_id")
	CallType      = attribute.Key("strata.call_type")   // chat, messages, responses, embeddings, images, ...
	Stream        = attribute.Key("strata.stream")      // the answer was streamed
	ModelGroup    = attribute.Key("strata.model_group") // the model name that served: the one asked for, or a fallback
	Deployment    = attribute.Key("strata.deployment")  // the deployment that answered, e.g. "claude#2"
	ModelID       = attribute.Key("strata.model_id")    // the Bedrock model id called
	Cost          = attribute.Key("strata.response_cost")
	CostEstimated = attribute.Key("strata.response_cost_estimated")
	Retries       = attribute.Key("strata.retries")
	Fallbacks     = attribute.Key("strata.fallbacks")
	Attempt       = attribute.Key("strata.attempt") // an attempt's number within its request, from 1
)

// Bedrock is the value of gen_ai.provider.name and gen_ai.system.
const Bedrock = "aws.bedrock"

// Operation names (gen_ai.operation.name).
const (
	OpChat            = "chat"
	OpEmbeddings      = "embeddings"
	OpGenerateContent = "generate_content" // images
)

// BedrockAttributes are the attributes every GenAI span of Strata's has.
func BedrockAttributes(op string) []attribute.KeyValue {
	return []attribute.KeyValue{OperationName.String(op), ProviderName.String(Bedrock), System.String(Bedrock)}
}

// SpanName is a GenAI span's name: "{gen_ai.operation.name} {gen_ai.request.model}".
func SpanName(op, model string) string {
	if model == "" {
		return op
	}
	return op + " " + model
}

// SystemInstructions holds the system prompt; set only with message logging on.
const SystemInstructions = attribute.Key("gen_ai.system_instructions")
