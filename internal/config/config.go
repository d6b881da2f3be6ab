package config

import (
	"fmt"
	"os"
	"time"
)

// DefaultMaxRequestBytes bounds a request body when general_settings.max_request_size_mb is not set.
const DefaultMaxRequestBytes int64 = 32 << 20

// Defaults of the general_settings that protect the gateway from slow and
// stuck clients. The limits sized for the machine (requests and body bytes
// in flight) are worked out where the gateway is wired, from the machine.
const (
	DefaultRequestBodyTimeout = 60 * time.Second
	DefaultStreamWriteTimeout = 30 * time.Second
)

// Config is a loaded config file: the models Strata serves and its settings.
type Config struct {
	Path string
	// Models is model_list's Bedrock entries in file order. A model_name
	// may appear several times: each entry is one deployment of that name.
	// An entry with Problems is kept: it answers with them.
	Models []Model
	// Unserved are model_list's entries for other providers, in file order.
	Unserved []Unserved
	Settings Settings
	// Environment is the environment_variables section. LiteLLM sets these in
	// its own environment at start; they already shadow the process
	// environment for os.environ/ in this file, and the app may apply them.
	Environment map[string]Secret
	// Warnings has one line per section with keys Strata ignores, one
	// naming the entries of other providers, and one per value it had to
	// guess at, e.g. "config.yaml:12: general_settings: ignored, not
	// implemented by Strata: master_key (line 12)".
	Warnings []string
	// Notices are for the info log: what Strata read in a way the file did
	// not spell out, such as a Bedrock model id without bedrock/.
	Notices []string
}

// Model is one model_list entry: a deployment of Name on Bedrock.
type Model struct {
	Name  string // model_name: what clients put in "model"
	Model string // litellm_params.model as written, e.g. "bedrock/converse/anthropic.claude-3-5-sonnet-20240620-v1:0"
	// Route is "converse" or "invoke" when the model says so
	// ("bedrock/converse/<id>", "bedrock/invoke/<id>"), or an imported
	// model's family ("llama", "deepseek_r1", "qwen3", "openai" from
	// "bedrock/llama/<arn>" ...); "" lets Strata choose.
	Route string
	// BaseModel is the Bedrock model id without provider and route prefixes:
	// a foundation model id, an inference profile id ("us.anthropic...") or an ARN.
	BaseModel string
	// ModelID is the id that goes in the Bedrock URL path: litellm_params.model_id
	// when set (provisioned throughput, imported models), else BaseModel.
	ModelID string
	AWS     AWS
	// Params are the inference defaults and provider-specific parameters
	// (temperature, top_k, anything LiteLLM does not know) sent with every
	// request to this deployment. Known numeric keys hold int (top_k,
	// max_tokens, ...) or float64 (temperature, top_p, ...); others keep their
	// YAML type: string, int, float64, bool, []any, map[string]any.
	Params     map[string]any
	Deployment Deployment
	ModelInfo  map[string]any // model_info, os.environ/ resolved
	Line       int            // line of this model_list entry
	// Problems are what is wrong with this entry alone (an unset
	// os.environ/ variable, a bad value). Strata serves the other entries;
	// this one answers every request with these errors.
	Problems Errors
}

// AWS is where and as whom a deployment calls Bedrock. Empty fields fall back
// to the default AWS credential and region chain.
type AWS struct {
	AccessKeyID      Secret // aws_access_key_id
	SecretAccessKey  Secret // aws_secret_access_key
	SessionToken     Secret // aws_session_token
	WebIdentityToken Secret // aws_web_identity_token
	// APIKey (api_key) is a Bedrock API key: calls carry it as a bearer
	// token instead of a SigV4 signature.
	APIKey          Secret
	Region          string // aws_region_name
	SessionName     string // aws_session_name
	ProfileName     string // aws_profile_name
	RoleName        string // aws_role_name
	ExternalID      string // aws_external_id
	STSEndpoint     string // aws_sts_endpoint
	RuntimeEndpoint string // aws_bedrock_runtime_endpoint, or api_base
}

// Deployment holds the litellm_params keys that steer routing and the
// gateway itself; none of them is ever sent to Bedrock.
type Deployment struct {
	RPM           int           // rpm: requests per minute this deployment takes; 0 = no limit
	TPM           int           // tpm: tokens per minute; 0 = no limit
	MaxParallel   int           // max_parallel_requests: calls in flight at once; 0 = no limit
	Weight        float64       // weight for weighted picks among deployments of one name; 0 = unset
	Timeout       time.Duration // timeout, seconds in YAML; 0 = unset
	StreamTimeout time.Duration // stream_timeout, seconds in YAML; 0 = unset
	MaxRetries    *int          // max_retries or num_retries; nil = unset
	// Prices are LiteLLM's price keys set here (input_cost_per_token,
	// output_cost_per_token, cache_read_input_token_cost, ...), by key.
	Prices map[string]float64
	// DropParams (drop_params) overrides litellm_settings.drop_params for
	// this deployment; nil = unset.
	DropParams *bool
	// AdditionalDropParams (additional_drop_params) are request parameters
	// never sent to this deployment, whatever the client asks.
	AdditionalDropParams []string
	// Ignored holds the other LiteLLM keys of litellm_params (tags,
	// input_cost_per_second, ...), which Strata does not implement yet: each
	// was warned about. Credential-looking strings are Secrets.
	Ignored map[string]any
}

// Settings are the litellm_settings, router_settings and general_settings sections.
type Settings struct {
	DropParams      bool  // litellm_settings.drop_params
	MaxRequestBytes int64 // general_settings.max_request_size_mb in bytes; DefaultMaxRequestBytes when unset
	// URLAllowedHosts (litellm_settings.user_url_allowed_hosts) are hosts
	// image URLs may name even when they resolve to private addresses.
	URLAllowedHosts []string
	// URLValidationOff (litellm_settings.user_url_validation: false) turns
	// the address checks on image URLs off.
	URLValidationOff bool
	// Routing is router_settings (and its litellm_settings twins), typed.
	Routing Routing
	// HealthCheckUpstream (general_settings.health_check_upstream) makes
	// GET /health send every deployment a one-token request.
	HealthCheckUpstream bool
	// MaxBudget (litellm_settings.max_budget) is the most the whole gateway
	// may spend, in US dollars, per BudgetDuration (litellm_settings.budget_duration
	// as written, e.g. "30d" or "1mo": a period in months is a calendar month,
	// so it is kept as a string; "" means never reset). nil: no gateway budget.
	MaxBudget      *float64
	BudgetDuration string
	// MasterKey (general_settings.master_key) turns authentication on: every
	// model and admin route then needs it or a virtual key. Empty = open.
	MasterKey Secret
	// DatabaseURL (general_settings.database_url) is where keys and spend
	// are kept: postgresql://... or sqlite://path; empty = the default SQLite file.
	DatabaseURL Secret
	// RequireAuthForMetrics (general_settings.require_auth_for_metrics_endpoint)
	// makes GET /metrics need a key when MasterKey is set.
	RequireAuthForMetrics bool
	// MaxInFlight (general_settings.global_max_parallel_requests) bounds
	// the requests served at once; nil when unset (sized for the machine),
	// 0 for no bound.
	MaxInFlight *int
	// MaxBodyBytesInFlight (general_settings.max_request_bodies_in_flight_mb)
	// bounds the request body bytes held at once; 0 when unset (sized for
	// the machine).
	MaxBodyBytesInFlight int64
	// RequestBodyTimeout (general_settings.request_body_timeout) is the time
	// a whole request body may take to arrive; 0 for no limit.
	RequestBodyTimeout time.Duration
	// StreamWriteTimeout (general_settings.stream_write_timeout) is how long
	// a client may stop reading an answer before it is cut; 0 for no limit.
	StreamWriteTimeout time.Duration
	// ShutdownDrainDelay (general_settings.shutdown_drain_delay) is how long
	// a stopping gateway answers /health/readiness with 503 while still
	// serving, before it closes its listener.
	ShutdownDrainDelay time.Duration
	// KeyCacheTTL (general_settings.user_api_key_cache_ttl) is how long a
	// key read from the database is trusted; 0 = the default (60s).
	KeyCacheTTL time.Duration
	// SpendWriteInterval (general_settings.proxy_batch_write_at, seconds) is
	// the longest a spend log row waits to be written; 0 means the default.
	SpendWriteInterval time.Duration
	// StorePrompts (general_settings.store_prompts_in_spend_logs) keeps
	// each request's body in its spend log row.
	StorePrompts bool
	// Redis (router_settings.redis_*, or the REDIS_* environment variables)
	// is what several gateways share their limits, key changes and router
	// state through; unset, each gateway keeps its own.
	Redis Redis
	// Traces says whether requests are traced over OTLP, and with what.
	Traces Traces
	// The sections as written, os.environ/ resolved, for features that come
	// later. Implemented keys hold their typed value; credential-looking
	// strings of the others are Secrets.
	LiteLLM, Router, General map[string]any
}

// Traces are the OpenTelemetry settings. Where the spans go (endpoint,
// protocol, headers) is the standard OTEL_EXPORTER_OTLP_* environment's.
type Traces struct {
	// Enabled is set by "otel" in litellm_settings.callbacks (or in
	// success_callback or failure_callback).
	Enabled bool
	// MessageLogging (callback_settings.otel.message_logging) records
	// prompt and completion text on the spans; off unless asked for, and
	// off whenever litellm_settings.turn_off_message_logging is true.
	MessageLogging bool
}

// TracesCallback is the callback name that turns traces on, as in LiteLLM.
const TracesCallback = "otel"

// Load reads and checks the config file at path. Every problem in the file is
// reported in one *Errors. lookupEnv resolves os.environ/ references; it is
// os.LookupEnv in production.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, lookupEnv)
}

// Parse is Load for a file already read; path is only used in messages. A nil
// lookupEnv means an empty environment.
func Parse(data []byte, path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	d := &decoder{file: path, lookupEnv: lookupEnv, env: map[string]string{}, warned: map[string]bool{}}
	cfg := d.parse(data)
	d.requireServable(cfg)
	if len(d.errs) > 0 {
		errs := d.sortedErrors()
		return nil, &errs
	}
	cfg.Warnings = d.sortedWarnings()
	cfg.Notices = d.sortedNotices()
	return cfg, nil
}

// FromModelFlag builds the config that `strata --model bedrock/<id>` serves:
// one model whose model_name is the flag's value itself, as with LiteLLM.
func FromModelFlag(model string) (*Config, error) {
	written := model
	switch class, provider := classifyModel(model, ""); class {
	case classOther:
		u := Unserved{Provider: provider, Model: model}
		return nil, &Errors{{Path: "--model", Msg: "only AWS Bedrock models are served by Strata, got " + u.Describe()}}
	case classBedrockUnprefixed:
		model = "bedrock/" + model
	}
	route, id, problem := parseModel(model)
	if problem != "" {
		return nil, &Errors{{Path: "--model", Msg: problem}}
	}
	return &Config{
		Models:   []Model{{Name: written, Model: written, Route: route, BaseModel: id, ModelID: id}},
		Settings: defaultSettings(),
	}, nil
}

// defaultSettings are the settings of a file that sets none.
func defaultSettings() Settings {
	return Settings{
		MaxRequestBytes:    DefaultMaxRequestBytes,
		RequestBodyTimeout: DefaultRequestBodyTimeout,
		StreamWriteTimeout: DefaultStreamWriteTimeout,
	}
}
