package config

import "time"

// This file is the one place that says which keys Strata understands. To
// implement a LiteLLM key, add it here and read its typed value where the
// feature lives; every key not listed is kept and warned about.

// kind is the type a known key's value must have; conversion and range checks follow it.
type kind int

const (
	kindString      kind = iota // any scalar, as text
	kindSecret                  // any scalar, as text, held as a Secret
	kindBool                    // true/false, or "true"/"false" from the environment
	kindInt                     // a whole number
	kindCount                   // a whole number >= 0
	kindFloat                   // a number
	kindNonNegative             // a number >= 0
	kindPositive                // a number > 0
	kindSeconds                 // a number >= 0 of seconds, read as a time.Duration
	kindRegion                  // an AWS region name such as us-east-1
	kindURL                     // an http or https URL
	kindStop                    // a string or a list of strings
	kindFallbacks               // a list of {model_name: [model_name, ...]}, read as []Fallback
	kindAliases                 // a mapping of alias: model_name (or {model: model_name, hidden: bool}), read as []Alias
	kindDuration                // a LiteLLM duration string ("30d", "1h", "1mo"), checked and kept as written: a month has no fixed length
	kindNames                   // a string or a list of strings, read as []string
)

// settingsKeys lists, per settings section, the keys Strata implements and
// their kinds. Adding a key here stops its warning and types its value in the
// section's map; e.g. "routing_strategy": kindString under router_settings.
var settingsKeys = map[string]map[string]kind{
	"litellm_settings": {
		"drop_params":              kindBool,
		"user_url_allowed_hosts":   kindStop,
		"user_url_validation":      kindBool,
		"num_retries":              kindCount,
		"request_timeout":          kindSeconds,
		"fallbacks":                kindFallbacks,
		"context_window_fallbacks": kindFallbacks,
		"content_policy_fallbacks": kindFallbacks,
		"max_budget":               kindNonNegative,
		"budget_duration":          kindDuration,
		"callbacks":                kindNames, // "otel" turns traces on; other names are warned about
		"success_callback":         kindNames,
		"failure_callback":         kindNames,
		"turn_off_message_logging": kindBool,
	},
	"router_settings": {
		"routing_strategy":         kindString,
		"num_retries":              kindCount,
		"allowed_fails":            kindCount,
		"cooldown_time":            kindSeconds,
		"disable_cooldowns":        kindBool,
		"retry_after":              kindSeconds,
		"timeout":                  kindSeconds,
		"stream_timeout":           kindSeconds,
		"stream_idle_timeout":      kindSeconds, // Strata's own: silence allowed between stream events
		"fallbacks":                kindFallbacks,
		"context_window_fallbacks": kindFallbacks,
		"content_policy_fallbacks": kindFallbacks,
		"model_group_alias":        kindAliases,
		"redis_host":               kindString,
		"redis_port":               kindString,
		"redis_password":           kindSecret,
		"redis_url":                kindSecret,
	},
	"general_settings": {
		"max_request_size_mb":               kindPositive,
		"health_check_upstream":             kindBool, // Strata's own: GET /health calls every deployment
		"master_key":                        kindSecret,
		"database_url":                      kindSecret,
		"require_auth_for_metrics_endpoint": kindBool,
		"global_max_parallel_requests":      kindCount,    // requests in flight; above it, 503 at once
		"max_request_bodies_in_flight_mb":   kindPositive, // Strata's own: request body bytes held at once
		"request_body_timeout":              kindSeconds,  // Strata's own: time a whole request body may take
		"user_api_key_cache_ttl":            kindSeconds,
		"stream_write_timeout":              kindSeconds, // Strata's own: time a client may stop reading an answer
		"shutdown_drain_delay":              kindSeconds, // Strata's own: readiness 503 before the listener closes
		"proxy_batch_write_at":              kindSeconds,
		"store_prompts_in_spend_logs":       kindBool,
	},
}

// paramKinds types the inference parameters Strata knows in litellm_params.
// Other keys are provider-specific parameters and pass through untyped.
var paramKinds = map[string]kind{
	"temperature":           kindFloat,
	"top_p":                 kindFloat,
	"presence_penalty":      kindFloat,
	"frequency_penalty":     kindFloat,
	"top_k":                 kindCount,
	"max_tokens":            kindCount,
	"max_completion_tokens": kindCount,
	"n":                     kindCount,
	"seed":                  kindInt,
	"stop":                  kindStop,
}

// modelKey is a litellm_params key that is not an inference parameter.
type modelKey struct {
	kind kind
	set  func(m *Model, v any) // stores the converted value
}

// modelKeys are the litellm_params keys never sent to Bedrock: credentials,
// endpoints and routing. "model" and "custom_llm_provider" are read first, by
// the model entry itself.
var modelKeys = map[string]modelKey{
	"aws_access_key_id":            {kindSecret, func(m *Model, v any) { m.AWS.AccessKeyID = v.(Secret) }},
	"aws_secret_access_key":        {kindSecret, func(m *Model, v any) { m.AWS.SecretAccessKey = v.(Secret) }},
	"aws_session_token":            {kindSecret, func(m *Model, v any) { m.AWS.SessionToken = v.(Secret) }},
	"aws_web_identity_token":       {kindSecret, func(m *Model, v any) { m.AWS.WebIdentityToken = v.(Secret) }},
	"api_key":                      {kindSecret, func(m *Model, v any) { m.AWS.APIKey = v.(Secret) }},
	"aws_region_name":              {kindRegion, func(m *Model, v any) { m.AWS.Region = v.(string) }},
	"aws_session_name":             {kindString, func(m *Model, v any) { m.AWS.SessionName = v.(string) }},
	"aws_profile_name":             {kindString, func(m *Model, v any) { m.AWS.ProfileName = v.(string) }},
	"aws_role_name":                {kindString, func(m *Model, v any) { m.AWS.RoleName = v.(string) }},
	"aws_external_id":              {kindString, func(m *Model, v any) { m.AWS.ExternalID = v.(string) }},
	"aws_sts_endpoint":             {kindURL, func(m *Model, v any) { m.AWS.STSEndpoint = v.(string) }},
	"aws_bedrock_runtime_endpoint": {kindURL, func(m *Model, v any) { m.AWS.RuntimeEndpoint = v.(string) }},
	"api_base":                     {kindURL, func(m *Model, v any) { m.AWS.RuntimeEndpoint = v.(string) }},
	"model_id":                     {kindString, func(m *Model, v any) { m.ModelID = v.(string) }},

	"rpm":                   {kindCount, func(m *Model, v any) { m.Deployment.RPM = v.(int) }},
	"tpm":                   {kindCount, func(m *Model, v any) { m.Deployment.TPM = v.(int) }},
	"max_parallel_requests": {kindCount, func(m *Model, v any) { m.Deployment.MaxParallel = v.(int) }},
	"weight":                {kindNonNegative, func(m *Model, v any) { m.Deployment.Weight = v.(float64) }},
	"timeout":               {kindSeconds, func(m *Model, v any) { m.Deployment.Timeout = v.(time.Duration) }},
	"stream_timeout":        {kindSeconds, func(m *Model, v any) { m.Deployment.StreamTimeout = v.(time.Duration) }},
	"max_retries":           {kindCount, setMaxRetries},
	"num_retries":           {kindCount, setMaxRetries},

	"input_cost_per_token":            {kindNonNegative, setPrice("input_cost_per_token")},
	"output_cost_per_token":           {kindNonNegative, setPrice("output_cost_per_token")},
	"cache_read_input_token_cost":     {kindNonNegative, setPrice("cache_read_input_token_cost")},
	"cache_creation_input_token_cost": {kindNonNegative, setPrice("cache_creation_input_token_cost")},
	"input_cost_per_image":            {kindNonNegative, setPrice("input_cost_per_image")},
	"output_cost_per_image":           {kindNonNegative, setPrice("output_cost_per_image")},
	"input_cost_per_query":            {kindNonNegative, setPrice("input_cost_per_query")},

	"input_cost_per_token_flex":            {kindNonNegative, setPrice("input_cost_per_token_flex")},
	"output_cost_per_token_flex":           {kindNonNegative, setPrice("output_cost_per_token_flex")},
	"cache_read_input_token_cost_flex":     {kindNonNegative, setPrice("cache_read_input_token_cost_flex")},
	"input_cost_per_token_priority":        {kindNonNegative, setPrice("input_cost_per_token_priority")},
	"output_cost_per_token_priority":       {kindNonNegative, setPrice("output_cost_per_token_priority")},
	"cache_read_input_token_cost_priority": {kindNonNegative, setPrice("cache_read_input_token_cost_priority")},

	"drop_params": {kindBool, func(m *Model, v any) { b := v.(bool); m.Deployment.DropParams = &b }},
	"additional_drop_params": {kindNames, func(m *Model, v any) {
		m.Deployment.AdditionalDropParams = v.([]string)
	}},
}

// setPrice keeps one of LiteLLM's price keys for the deployment's cost.
func setPrice(key string) func(m *Model, v any) {
	return func(m *Model, v any) {
		if m.Deployment.Prices == nil {
			m.Deployment.Prices = map[string]float64{}
		}
		m.Deployment.Prices[key] = v.(float64)
	}
}

// unimplementedModelKeys are litellm_params keys LiteLLM itself consumes
// (pricing, budgets, tags, other providers' auth...). They are never sent to
// Bedrock; Strata warns about them and keeps them in Deployment.Ignored.
var unimplementedModelKeys = map[string]bool{
	"api_version":                         true,
	"organization":                        true,
	"region_name":                         true,
	"input_cost_per_second":               true,
	"output_cost_per_second":              true,
	"tags":                                true,
	"order":                               true,
	"mock_response":                       true,
	"max_budget":                          true,
	"budget_duration":                     true,
	"litellm_credential_name":             true,
	"max_file_size_mb":                    true,
	"use_in_pass_through":                 true,
	"merge_reasoning_content_in_choices":  true,
	"configurable_clientside_auth_params": true,
	"metadata":                            true,
	"guardrails":                          true,
}

// conflictingKeys are litellm_params keys that set the same thing; an entry may use one of each pair.
var conflictingKeys = [][2]string{
	{"aws_bedrock_runtime_endpoint", "api_base"},
	{"max_retries", "num_retries"},
}

func setMaxRetries(m *Model, v any) {
	n := v.(int)
	m.Deployment.MaxRetries = &n
}
