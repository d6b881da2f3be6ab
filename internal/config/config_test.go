package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env is a fake process environment for os.environ/ lookups.
type env map[string]string

func (e env) lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

var seedEnv = env{
	"CUSTOM_AWS_ACCESS_KEY_ID":     "AKIAIOSFODNN7EXAMPLE",
	"CUSTOM_AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"CUSTOM_AWS_REGION_NAME":       "us-west-2",
}

func intPtr(n int) *int { return &n }

func boolPtr(b bool) *bool { return &b }

func floatPtr(f float64) *float64 { return &f }

func TestLoadGood(t *testing.T) {
	tests := []struct {
		file string
		env  env
		want *Config
	}{
		{
			file: "testdata/seed.good.yaml",
			env:  seedEnv,
			want: &Config{
				Path: "testdata/seed.good.yaml",
				Models: []Model{{
					Name:      "bedrock-claude",
					Model:     "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
					BaseModel: "anthropic.claude-3-5-sonnet-20240620-v1:0",
					ModelID:   "anthropic.claude-3-5-sonnet-20240620-v1:0",
					AWS: AWS{
						AccessKeyID:     "AKIAIOSFODNN7EXAMPLE",
						SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
						Region:          "us-west-2",
					},
					Line: 3,
				}},
				Settings: defaultSettings(),
			},
		},
		{
			file: "testdata/routes.good.yaml",
			want: &Config{
				Path: "testdata/routes.good.yaml",
				Models: []Model{
					{
						Name:      "claude-converse",
						Model:     "bedrock/converse/anthropic.claude-3-5-sonnet-20240620-v1:0",
						Route:     "converse",
						BaseModel: "anthropic.claude-3-5-sonnet-20240620-v1:0",
						ModelID:   "anthropic.claude-3-5-sonnet-20240620-v1:0",
						AWS:       AWS{Region: "us-east-1"},
						Params: map[string]any{
							"temperature": 0.2,
							"top_k":       1,
							"stop":        []any{"\n\nHuman:"},
							"additional_model_request_fields": map[string]any{
								"thinking": map[string]any{"type": "enabled", "budget_tokens": 1024},
							},
						},
						Line: 2,
					},
					{
						Name:      "titan-invoke",
						Model:     "bedrock/invoke/amazon.titan-text-express-v1",
						Route:     "invoke",
						BaseModel: "amazon.titan-text-express-v1",
						ModelID:   "amazon.titan-text-express-v1",
						Params:    map[string]any{"max_tokens": 512, "stop": "END"},
						Line:      11,
					},
					{
						Name:      "claude-provisioned",
						Model:     "bedrock/anthropic.claude-v2",
						BaseModel: "anthropic.claude-v2",
						ModelID:   "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc123def456",
						Line:      16,
					},
					{
						Name:      "claude-profile",
						Model:     "bedrock/us.anthropic.claude-3-haiku-20240307-v1:0",
						BaseModel: "us.anthropic.claude-3-haiku-20240307-v1:0",
						ModelID:   "us.anthropic.claude-3-haiku-20240307-v1:0",
						AWS: AWS{
							RoleName:    "arn:aws:iam::123456789012:role/bedrock",
							SessionName: "my-test-session",
							ExternalID:  "123456",
							STSEndpoint: "https://sts.us-east-1.amazonaws.com",
						},
						Line: 20,
					},
					{ // the same model_name again: a second deployment, kept
						Name:      "claude-profile",
						Model:     "bedrock/arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/xyz",
						BaseModel: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/xyz",
						ModelID:   "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/xyz",
						AWS:       AWS{RuntimeEndpoint: "http://127.0.0.1:9000"},
						Deployment: Deployment{
							RPM: 100, TPM: 50000, MaxParallel: 8, Weight: 2,
							Timeout: 30 * time.Second, StreamTimeout: 2500 * time.Millisecond,
							MaxRetries: intPtr(3),
						},
						ModelInfo: map[string]any{"mode": "chat", "max_tokens": 200000},
						Line:      27,
					},
					{
						Name:      "haiku",
						Model:     "anthropic.claude-3-haiku-20240307-v1:0",
						BaseModel: "anthropic.claude-3-haiku-20240307-v1:0",
						ModelID:   "anthropic.claude-3-haiku-20240307-v1:0",
						AWS:       AWS{ProfileName: "dev-profile"},
						Line:      42,
					},
				},
				Settings: defaultSettings(),
			},
		},
		{
			file: "testdata/quirks.good.yaml",
			env:  env{"TEMP": "0.3", "TOP_K": "5", "TIMEOUT": "1.5", "EMPTY": ""},
			want: &Config{
				Path: "testdata/quirks.good.yaml",
				Models: []Model{
					{
						Name:       "bedrock-claude",
						Model:      "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
						BaseModel:  "anthropic.claude-3-5-sonnet-20240620-v1:0",
						ModelID:    "anthropic.claude-3-5-sonnet-20240620-v1:0",
						AWS:        AWS{Region: "us-west-2", RoleName: "aws_role_name,"},
						Params:     map[string]any{"max_tokens": 10, "temperature": 0.1},
						Deployment: Deployment{RPM: 60},
						Line:       4,
					},
					{
						Name:       "from-env",
						Model:      "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
						BaseModel:  "anthropic.claude-3-haiku-20240307-v1:0",
						ModelID:    "anthropic.claude-3-haiku-20240307-v1:0",
						Params:     map[string]any{"temperature": 0.3, "top_k": 5, "empty_is_fine": ""},
						Deployment: Deployment{Timeout: 1500 * time.Millisecond},
						Line:       12,
					},
				},
				Settings: defaultSettings(),
				Warnings: []string{
					`testdata/quirks.good.yaml:7: model_list[0].litellm_params.max_tokens: read "10," as 10; remove the trailing comma (YAML is not Python)`,
					`testdata/quirks.good.yaml:8: model_list[0].litellm_params.temperature: read "0.1," as 0.1; remove the trailing comma (YAML is not Python)`,
					`testdata/quirks.good.yaml:9: model_list[0].litellm_params.aws_region_name: read "us-west-2," as "us-west-2"; remove the trailing comma (YAML is not Python)`,
				},
			},
		},
		{
			file: "testdata/settings.good.yaml",
			env:  env{"OUTER_KEY": "sk-outer", "BEDROCK_REGION": "us-east-1", "LITELLM_MASTER_KEY": "sk-master"}, // the file's own BEDROCK_REGION wins
			want: &Config{
				Path: "testdata/settings.good.yaml",
				Models: []Model{
					{
						Name:      "haiku",
						Model:     "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
						BaseModel: "anthropic.claude-3-haiku-20240307-v1:0",
						ModelID:   "anthropic.claude-3-haiku-20240307-v1:0",
						AWS:       AWS{Region: "eu-central-1"},
						Params:    map[string]any{"temperature": 0.7},
						Deployment: Deployment{
							Ignored: map[string]any{"organization": nil}, // os.environ/ of an unset variable, harmless in an ignored key
							Prices:  map[string]float64{"input_cost_per_token": 0.00025},
						},
						Line: 12,
					},
					{
						Name:       "haiku",
						Model:      "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
						BaseModel:  "anthropic.claude-3-haiku-20240307-v1:0",
						ModelID:    "anthropic.claude-3-haiku-20240307-v1:0",
						AWS:        AWS{Region: "eu-central-1"},
						Params:     map[string]any{"temperature": 0.5},
						Deployment: Deployment{Ignored: map[string]any{"organization": "acme", "tags": []any{"eu"}}},
						Line:       18,
					},
				},
				Settings: Settings{
					DropParams:           true,
					MaxRequestBytes:      1572864,
					MasterKey:            "sk-master",
					DatabaseURL:          "postgresql://strata:dbpass@db:5432/litellm",
					MaxInFlight:          ptr(500),
					MaxBodyBytesInFlight: 256 << 20,
					RequestBodyTimeout:   15 * time.Second,
					StreamWriteTimeout:   DefaultStreamWriteTimeout,
					Routing:              Routing{Strategy: "least-busy"},
					Redis:                Redis{URL: "redis://user:pa55@localhost:6379"},
					LiteLLM: map[string]any{
						"drop_params":      true,
						"success_callback": []string{"langfuse"},
						"cache_params":     map[string]any{"type": "redis", "password": Secret("hunter2")},
					},
					Router: map[string]any{
						"routing_strategy": "least-busy",
						"redis_url":        Secret("redis://user:pa55@localhost:6379"),
					},
					General: map[string]any{
						"max_request_size_mb":             1.5,
						"global_max_parallel_requests":    500,
						"max_request_bodies_in_flight_mb": 256.0,
						"request_body_timeout":            15 * time.Second,
						"master_key":                      Secret("sk-master"),
						"database_url":                    Secret("postgresql://strata:dbpass@db:5432/litellm"),
					},
				},
				Environment: map[string]Secret{"BEDROCK_REGION": "eu-central-1", "PROXY_KEY": "sk-outer", "PORT": "4000"},
				Warnings: []string{
					// One line per section; organization appears in both entries and is listed once.
					"testdata/settings.good.yaml:6: top-level keys ignored, not implemented by Strata: defaults (line 6)",
					"testdata/settings.good.yaml:15: model_list: ignored, not implemented by Strata: litellm_params.organization (line 15), litellm_params.tags (line 22), guardrails (line 23)",
					`testdata/settings.good.yaml:27: litellm_settings: callbacks not implemented by Strata, which only sends traces over OTLP ("otel"): "langfuse" in success_callback (line 27)`,
					"testdata/settings.good.yaml:28: litellm_settings: ignored, not implemented by Strata: cache_params (line 28)",
				},
			},
		},
		{
			// Entries of other providers are left out and named in one
			// warning; Bedrock ids without bedrock/ are served, with a notice;
			// a fallback to a model not served is skipped.
			file: "testdata/mixed_providers.good.yaml",
			want: &Config{
				Path: "testdata/mixed_providers.good.yaml",
				Models: []Model{
					{
						Name:      "claude",
						Model:     "anthropic.claude-3-haiku-20240307-v1:0",
						BaseModel: "anthropic.claude-3-haiku-20240307-v1:0",
						ModelID:   "anthropic.claude-3-haiku-20240307-v1:0",
						Line:      6,
					},
					{
						Name:      "sonnet",
						Model:     "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
						BaseModel: "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
						ModelID:   "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
						Line:      16,
					},
				},
				Unserved: []Unserved{
					{Name: "gpt-4o", Provider: "openai", Model: "openai/gpt-4o", Line: 2},
					{Name: "azure", Provider: "azure", Model: "azure/gpt-4", Line: 9},
					{Name: "gpt-4o-mini", Provider: "openai", Model: "gpt-4o-mini", Line: 13},
				},
				Settings: Settings{
					MaxRequestBytes:    32 << 20,
					RequestBodyTimeout: DefaultRequestBodyTimeout,
					StreamWriteTimeout: DefaultStreamWriteTimeout,
					Routing:            Routing{Fallbacks: []Fallback{{Model: "claude", To: []string{"sonnet"}, line: 20, path: "litellm_settings.fallbacks[0].claude"}}},
					LiteLLM:            map[string]any{"fallbacks": []Fallback{{Model: "claude", To: []string{"sonnet"}, line: 20, path: "litellm_settings.fallbacks[0].claude"}}},
				},
				Warnings: []string{
					`testdata/mixed_providers.good.yaml:2: model_list: 3 entries are for providers other than AWS Bedrock, which Strata does not serve; requests for them get a 400: gpt-4o (openai, line 2), azure (azure, line 9), gpt-4o-mini (openai, line 13)`,
					`testdata/mixed_providers.good.yaml:20: litellm_settings.fallbacks[0].claude[0]: "gpt-4o" is an openai model ("openai/gpt-4o"), which Strata does not serve: skipped when the fallbacks run`,
				},
				Notices: []string{
					`testdata/mixed_providers.good.yaml:8: model_list[1].litellm_params.model: "anthropic.claude-3-haiku-20240307-v1:0" has the shape of a Bedrock model id: served on Bedrock, as bedrock/anthropic.claude-3-haiku-20240307-v1:0 would be`,
					`testdata/mixed_providers.good.yaml:18: model_list[4].litellm_params.model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" has the shape of a Bedrock model id: served on Bedrock, as bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0 would be`,
				},
			},
		},
		{
			// A deployment with problems of its own is kept, with them; the
			// file loads because another deployment is fine.
			file: "testdata/isolated.good.yaml",
			want: &Config{
				Path: "testdata/isolated.good.yaml",
				Models: []Model{
					{
						Name:      "claude",
						Model:     "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
						BaseModel: "anthropic.claude-3-haiku-20240307-v1:0",
						ModelID:   "anthropic.claude-3-haiku-20240307-v1:0",
						Line:      2,
						Problems: Errors{
							{File: "testdata/isolated.good.yaml", Line: 5, Path: "model_list[0].litellm_params.aws_region_name", Msg: "environment variable CLAUDE_REGION is not set"},
							{File: "testdata/isolated.good.yaml", Line: 6, Path: "model_list[0].litellm_params.temperature", Msg: `must be a number, got "warm"`},
						},
					},
					{
						Name:      "claude",
						Model:     "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
						BaseModel: "anthropic.claude-3-haiku-20240307-v1:0",
						ModelID:   "anthropic.claude-3-haiku-20240307-v1:0",
						Deployment: Deployment{
							DropParams:           boolPtr(true),
							AdditionalDropParams: []string{"temperature", "user"},
						},
						Line: 7,
					},
					{
						Name: "nova",
						AWS:  AWS{Region: "us-east-1"},
						Line: 12,
						Problems: Errors{
							{File: "testdata/isolated.good.yaml", Line: 13, Path: "model_list[2].litellm_params", Msg: "model is required, e.g. model: bedrock/anthropic.claude-3-haiku-20240307-v1:0"},
						},
					},
				},
				Settings: Settings{
					MaxRequestBytes:    32 << 20,
					RequestBodyTimeout: DefaultRequestBodyTimeout,
					StreamWriteTimeout: DefaultStreamWriteTimeout,
					MaxBudget:          floatPtr(100),
					BudgetDuration:     "30d",
					LiteLLM:            map[string]any{"max_budget": 100.0, "budget_duration": "30d"},
				},
				Warnings: []string{
					`testdata/isolated.good.yaml:11: model_list[1].litellm_params.additional_drop_params: "tools[*].input_examples" is a nested path, which Strata does not implement: it is not dropped; only top-level parameters are`,
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Load(tt.file, tt.env.lookup)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load:\n got %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
}

// dump shows a Config with its secrets, to make a failing comparison readable.
func dump(c *Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Path=%q Settings={Drop:%v Max:%d LiteLLM:%v Router:%v General:%v} Environment=%v\n",
		c.Path, c.Settings.DropParams, c.Settings.MaxRequestBytes, c.Settings.LiteLLM, c.Settings.Router, c.Settings.General, c.Environment)
	for _, m := range c.Models {
		a := m.AWS
		fmt.Fprintf(&b, "  %+v\n    keys=%q/%q/%q/%q retries=%v\n", m, a.AccessKeyID.Value(), a.SecretAccessKey.Value(),
			a.SessionToken.Value(), a.WebIdentityToken.Value(), valueOf(m.Deployment.MaxRetries))
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", w)
	}
	return b.String()
}

func valueOf[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		file string
		env  env
		want string
	}{
		{
			file: "testdata/seed.good.yaml", // with none of its variables set
			want: `testdata/seed.good.yaml:6: model_list[0].litellm_params.aws_access_key_id: environment variable CUSTOM_AWS_ACCESS_KEY_ID is not set
testdata/seed.good.yaml:7: model_list[0].litellm_params.aws_secret_access_key: environment variable CUSTOM_AWS_SECRET_ACCESS_KEY is not set
testdata/seed.good.yaml:8: model_list[0].litellm_params.aws_region_name: environment variable CUSTOM_AWS_REGION_NAME is not set`,
		},
		{
			file: "testdata/unset_env.bad.yaml",
			env:  env{"CUSTOM_AWS_ACCESS_KEY_ID": "AKIA", "CUSTOM_AWS_SECRET_ACCESS_KEY": ""},
			want: `testdata/unset_env.bad.yaml:5: model_list[0].litellm_params.aws_access_key_id: is set but aws_secret_access_key is empty: set both, or neither to use the default AWS credentials
testdata/unset_env.bad.yaml:7: model_list[0].litellm_params.aws_region_name: environment variable CUSTOM_AWS_REGION_NAME is not set
testdata/unset_env.bad.yaml:9: model_list[0].model_info.owner: environment variable TEAM is not set
testdata/unset_env.bad.yaml:11: litellm_settings.drop_params: environment variable DROP is not set`,
		},
		{
			file: "testdata/other_providers.bad.yaml",
			want: `testdata/other_providers.bad.yaml: model_list: has no AWS Bedrock model, and Strata serves Bedrock only (bedrock/<model id>)`,
		},
		{
			file: "testdata/many.bad.yaml",
			want: `testdata/many.bad.yaml:5: model_list[0].litellm_params.temperature: must be a number, got "hot"
testdata/many.bad.yaml:6: model_list[0].litellm_params.top_k: must be a whole number >= 0, got 2.5
testdata/many.bad.yaml:7: model_list[0].litellm_params.rpm: must be a whole number >= 0, got "x"
testdata/many.bad.yaml:8: model_list[0].litellm_params.timeout: must be a number of seconds >= 0, got -1
testdata/many.bad.yaml:9: model_list[0].litellm_params.stop: must be a string or a list of strings, got 7 in the list
testdata/many.bad.yaml:10: model_list[0].litellm_params.aws_region_name: "aws_region_name," is not an AWS region name (like us-east-1)
testdata/many.bad.yaml:11: model_list[1]: must be a mapping (key: value lines), got a string
testdata/many.bad.yaml:12: model_list[2]: model_name is required
testdata/many.bad.yaml:13: model_list[2].litellm_params.model: "bedrock/gemma/arn:aws:bedrock:us-east-1:123456789012:imported-model/abc": Strata does not know the route "gemma/"; use bedrock/<id>, bedrock/converse/<id> or bedrock/invoke/<id> (imported models: bedrock/llama/, bedrock/deepseek_r1/, bedrock/qwen3/ or bedrock/openai/ before the ARN)
testdata/many.bad.yaml:15: model_list[2].litellm_params.num_retries: conflicts with max_retries (line 14): set only one
testdata/many.bad.yaml:16: model_list[3]: litellm_params with model: bedrock/<model id> is required
testdata/many.bad.yaml:18: model_list[4].model_name: is set twice (first at line 17)
testdata/many.bad.yaml:20: model_list[4].litellm_params.model: "bedrock/converse/" names no Bedrock model id after the prefix
testdata/many.bad.yaml:21: model_list[4].litellm_params.aws_access_key_id: is set but aws_secret_access_key is empty: set both, or neither to use the default AWS credentials
testdata/many.bad.yaml:22: model_list[4].litellm_params.api_base: must be an http(s) URL such as https://bedrock-runtime.us-east-1.amazonaws.com, got "not a url"
testdata/many.bad.yaml:23: litellm_settings: must be a mapping (key: value lines), got a list
testdata/many.bad.yaml:25: general_settings.max_request_size_mb: must be a number > 0, got 0`,
		},
		{
			file: "testdata/shape.bad.yaml",
			want: `testdata/shape.bad.yaml:2: model_list: must be a list of models (lines starting with "- model_name:"), got a mapping
testdata/shape.bad.yaml:5: router_settings: must be a mapping (key: value lines), got a string`,
		},
		{
			file: "testdata/empty.bad.yaml",
			want: `testdata/empty.bad.yaml: model_list is missing: Strata needs at least one bedrock/ model`,
		},
		{
			file: "testdata/secret.bad.yaml",
			want: `testdata/secret.bad.yaml:5: model_list[0].litellm_params.aws_access_key_id: must be a string, got a list
testdata/secret.bad.yaml:6: model_list[0].litellm_params.aws_secret_access_key: must be a string, got a mapping`,
		},
		{
			// The docs' STS snippet: YAML reports the mapping's start, so the
			// lines at fault are named as well.
			file: "testdata/seed_sts.bad.yaml",
			want: `testdata/seed_sts.bad.yaml:3: YAML syntax error: did not find expected key
testdata/seed_sts.bad.yaml:7: remove the comma after the quoted value of aws_role_name (YAML is not Python)
testdata/seed_sts.bad.yaml:8: remove the comma after the quoted value of aws_session_name (YAML is not Python)`,
		},
		{
			file: "testdata/seed_credentials.bad.yaml",
			want: `testdata/seed_credentials.bad.yaml:5: YAML syntax error: could not find expected ':'
testdata/seed_credentials.bad.yaml:5: put a space after "aws_access_key_id:"
testdata/seed_credentials.bad.yaml:6: put a space after "aws_secret_access_key:"
testdata/seed_credentials.bad.yaml:7: put a space after "aws_region_name:"`,
		},
		{
			file: "testdata/seed_provisioned.bad.yaml",
			want: `testdata/seed_provisioned.bad.yaml:5: YAML syntax error: could not find expected ':'
testdata/seed_provisioned.bad.yaml:5: write model_id: <value> (YAML is not Python: no "=", no trailing comma)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := Load(tt.file, tt.env.lookup)
			if err == nil {
				t.Fatalf("Load succeeded, want errors:\n%s\ngot %+v", tt.want, cfg)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Load errors:\n%s\nwant:\n%s", got, tt.want)
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want *Errors", err)
			}
			if got, want := len(*errs), strings.Count(tt.want, "\n")+1; got != want {
				t.Errorf("got %d errors, want %d", got, want)
			}
			var one *Error
			if !errors.As(err, &one) || one.File != tt.file {
				t.Errorf("errors.As(*Error) = %+v, want an error in %s", one, tt.file)
			}
			for _, v := range tt.env {
				if len(v) > 4 && strings.Contains(err.Error(), v) {
					t.Errorf("error text contains the value %q of an environment variable", v)
				}
			}
		})
	}
}

func TestParseInline(t *testing.T) {
	const file = "config.yaml"
	tests := []struct {
		name    string
		yaml    string
		env     env
		wantErr string                    // "" for a config that loads
		check   func(*testing.T, *Config) // for a config that loads
	}{
		{
			name:    "secret type error does not echo the value",
			yaml:    "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/amazon.nova-lite-v1:0\n      aws_session_token: [hunter2-session]\n",
			wantErr: "config.yaml:5: model_list[0].litellm_params.aws_session_token: must be a string, got a list",
		},
		{
			name:    "python assignment hint does not echo the value",
			yaml:    "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/amazon.nova-lite-v1:0\n      aws_secret_access_key=\"hunter2-secret\",\n",
			wantErr: "config.yaml:5: YAML syntax error: could not find expected ':'\nconfig.yaml:5: write aws_secret_access_key: <value> (YAML is not Python: no \"=\", no trailing comma)",
		},
		{
			name:    "model id with a trailing comma",
			yaml:    "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/amazon.nova-lite-v1:0,\n",
			wantErr: `config.yaml:4: model_list[0].litellm_params.model: Bedrock model id "amazon.nova-lite-v1:0," ends with a comma: remove it (YAML is not Python)`,
		},
		{
			name:    "number from the environment that is not one",
			yaml:    "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/amazon.nova-lite-v1:0\n      temperature: os.environ/TEMP\n",
			env:     env{"TEMP": "warm"},
			wantErr: `config.yaml:5: model_list[0].litellm_params.temperature: must be a number, got "warm" from environment variable TEMP`,
		},
		{
			name:    "two trailing commas",
			yaml:    "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/amazon.nova-lite-v1:0\n      max_tokens: 10,,\n",
			wantErr: `config.yaml:5: model_list[0].litellm_params.max_tokens: must be a whole number >= 0, got "10,,"`,
		},
		{
			name:    "root is a list",
			yaml:    "- model_name: m\n",
			wantErr: `config.yaml:1: the file must be a mapping of sections (model_list:, litellm_settings: ...), got a list`,
		},
		{
			name:    "empty model_list",
			yaml:    "model_list: []\n",
			wantErr: `config.yaml:1: model_list: is empty: Strata needs at least one bedrock/ model`,
		},
		{
			name:    "os.environ/ without a name",
			yaml:    "model_list:\n  - model_name: os.environ/\n    litellm_params: {model: bedrock/amazon.nova-lite-v1:0}\n",
			wantErr: `config.yaml:2: model_list[0].model_name: "os.environ/" names no environment variable`,
		},
		{
			name:    "tab indentation",
			yaml:    "model_list:\n\t- model_name: m\n",
			wantErr: "config.yaml:2: YAML syntax error: found character that cannot start any token\nconfig.yaml:2: indent with spaces: YAML does not allow tabs",
		},
		{
			name:    "empty model",
			yaml:    "model_list:\n  - model_name: m\n    litellm_params:\n      model: os.environ/MODEL\n",
			env:     env{"MODEL": ""},
			wantErr: `config.yaml:4: model_list[0].litellm_params.model: must not be empty`,
		},
		{
			name: "unset secret reported once, not also as a half-set key pair",
			yaml: "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/amazon.nova-lite-v1:0\n" +
				"      aws_access_key_id: AKIAEXAMPLE\n      aws_secret_access_key: os.environ/SECRET\n",
			wantErr: `config.yaml:6: model_list[0].litellm_params.aws_secret_access_key: environment variable SECRET is not set`,
		},
		{
			name: "typed settings from the environment",
			yaml: "model_list:\n  - model_name: m\n    litellm_params: {model: bedrock/amazon.nova-lite-v1:0}\n" +
				"litellm_settings: {drop_params: os.environ/DROP}\ngeneral_settings: {max_request_size_mb: os.environ/MB}\n",
			env: env{"DROP": "true", "MB": "2"},
			check: func(t *testing.T, c *Config) {
				if !c.Settings.DropParams || c.Settings.MaxRequestBytes != 2<<20 || c.Warnings != nil {
					t.Errorf("Settings = %+v, warnings %q; want drop_params, 2 MiB, no warnings", c.Settings, c.Warnings)
				}
			},
		},
		{
			name: "merge keys and environment_variables referring to each other",
			yaml: "environment_variables:\n  A: os.environ/OUTER\n  B: os.environ/A\n" +
				"base: &b {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: os.environ/B}\n" +
				"model_list:\n  - model_name: m\n    litellm_params:\n      <<: *b\n",
			env: env{"OUTER": "us-east-2"},
			check: func(t *testing.T, c *Config) {
				if got := c.Models[0].AWS.Region; got != "us-east-2" {
					t.Errorf("region = %q, want us-east-2", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml), file, tt.env.lookup)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				tt.check(t, cfg)
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want %s", tt.wantErr)
			}
			if got := err.Error(); got != tt.wantErr {
				t.Errorf("Parse errors:\n%s\nwant:\n%s", got, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks a secret: %s", err)
			}
		})
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg, err := Load("testdata/seed.good.yaml", env{
		"CUSTOM_AWS_ACCESS_KEY_ID":     "AKIA-SEEKRIT-ID",
		"CUSTOM_AWS_SECRET_ACCESS_KEY": "SEEKRIT-KEY",
		"CUSTOM_AWS_REGION_NAME":       "us-east-1",
	}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	settings, err := Load("testdata/settings.good.yaml", env{"OUTER_KEY": "SEEKRIT-OUTER", "LITELLM_MASTER_KEY": "sk-SEEKRIT-MASTER"}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Models = append(cfg.Models, settings.Models...)
	cfg.Settings = settings.Settings
	cfg.Environment = settings.Environment
	cfg.Models[0].AWS.SessionToken = "SEEKRIT-TOKEN"
	cfg.Models[0].AWS.WebIdentityToken = "SEEKRIT-WEB"

	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg, "aws", cfg.Models[0].AWS, "key", cfg.Models[0].AWS.SecretAccessKey)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "key", cfg.Models[0].AWS.SecretAccessKey)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":      fmt.Sprintf("%v", cfg),
		"%+v":     fmt.Sprintf("%+v", cfg),
		"%#v":     fmt.Sprintf("%#v", cfg),
		"%v *":    fmt.Sprintf("%v", *cfg),
		"%+v *":   fmt.Sprintf("%+v", *cfg),
		"%#v *":   fmt.Sprintf("%#v", *cfg),
		"%s key":  fmt.Sprintf("%s", cfg.Models[0].AWS.SecretAccessKey),
		"%q key":  fmt.Sprintf("%q", cfg.Models[0].AWS.SecretAccessKey),
		"%x key":  fmt.Sprintf("%x", cfg.Models[0].AWS.SecretAccessKey),
		"Println": fmt.Sprintln(cfg.Models[0].AWS),
		"json":    string(js),
		"slog":    logs.String(),
	}
	secrets := []string{"SEEKRIT", "hunter2", "dbpass", "pa55", "sk-not-for-bedrock"}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s leaks %q:\n%s", name, s, out)
			}
		}
		if name != "%x key" && !strings.Contains(out, "[redacted]") {
			t.Errorf("%s shows no [redacted]:\n%s", name, out)
		}
	}
	if got := cfg.Models[0].AWS.SecretAccessKey.Value(); got != "SEEKRIT-KEY" {
		t.Errorf("Value() = %q, want the secret", got)
	}
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("empty secret prints %q, want nothing", got)
	}
}

func TestFromModelFlag(t *testing.T) {
	cfg, err := FromModelFlag("bedrock/anthropic.claude-3-haiku-20240307-v1:0")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Models: []Model{{
			Name:      "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
			Model:     "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
			BaseModel: "anthropic.claude-3-haiku-20240307-v1:0",
			ModelID:   "anthropic.claude-3-haiku-20240307-v1:0",
		}},
		Settings: defaultSettings(),
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("FromModelFlag:\n got %s\nwant %s", dump(cfg), dump(want))
	}

	// A Bedrock id without bedrock/ is served as LiteLLM serves it, under the name given.
	cfg, err = FromModelFlag("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
	if err != nil || cfg.Models[0].Name != "us.anthropic.claude-sonnet-4-5-20250929-v1:0" || cfg.Models[0].ModelID != "us.anthropic.claude-sonnet-4-5-20250929-v1:0" {
		t.Errorf("FromModelFlag(unprefixed) = %+v, %v", cfg, err)
	}

	cfg, err = FromModelFlag("bedrock/converse/us.amazon.nova-pro-v1:0")
	if err != nil || cfg.Models[0].Route != "converse" || cfg.Models[0].ModelID != "us.amazon.nova-pro-v1:0" {
		t.Errorf("FromModelFlag(converse) = %+v, %v", cfg, err)
	}

	for flag, wantErr := range map[string]string{
		"gpt-4o":          `--model: only AWS Bedrock models are served by Strata, got an openai model ("gpt-4o")`,
		"openai/gpt-4o":   `--model: only AWS Bedrock models are served by Strata, got an openai model ("openai/gpt-4o")`,
		"my-model":        `--model: only AWS Bedrock models are served by Strata, got a model of no provider Strata can tell ("my-model")`,
		"bedrock/invoke/": `--model: "bedrock/invoke/" names no Bedrock model id after the prefix`,
	} {
		if _, err := FromModelFlag(flag); err == nil || err.Error() != wantErr {
			t.Errorf("FromModelFlag(%q) error = %v, want %s", flag, err, wantErr)
		}
	}
}

func ptr[T any](v T) *T { return &v }
