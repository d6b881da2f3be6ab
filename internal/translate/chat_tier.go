package translate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// Keys that become Converse's top-level serviceTier and performanceConfig,
// from the request or from litellm_params; never additionalModelRequestFields,
// where the model would refuse them.
const (
	serviceTierParam = "service_tier"
	performanceParam = "performanceConfig"
)

// serviceTierFrom reads OpenAI's service_tier: "auto" leaves the choice to
// Bedrock (no serviceTier sent); default, flex and priority are sent as
// they are, and so is Bedrock's own reserved.
func serviceTierFrom(raw json.RawMessage) (*bedrock.ServiceTier, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("must be a string: auto, %s", strings.Join(bedrock.ServiceTiers, ", "))
	}
	if s == "auto" {
		return nil, nil
	}
	if !slices.Contains(bedrock.ServiceTiers, s) {
		return nil, fmt.Errorf("%q is not a service tier: use auto, %s", s, strings.Join(bedrock.ServiceTiers, ", "))
	}
	return &bedrock.ServiceTier{Type: s}, nil
}

// performanceFrom reads performanceConfig: {"latency": "standard" | "optimized"}.
func performanceFrom(raw json.RawMessage) (*bedrock.PerformanceConfig, error) {
	var p struct {
		Latency *string `json:"latency"`
	}
	if err := json.Unmarshal(raw, &p); err != nil || p.Latency == nil {
		return nil, fmt.Errorf(`must be {"latency": "standard" | "optimized"}`)
	}
	if *p.Latency != "standard" && *p.Latency != "optimized" {
		return nil, fmt.Errorf("latency %q is not one of standard, optimized", *p.Latency)
	}
	return &bedrock.PerformanceConfig{Latency: *p.Latency}, nil
}

// jsonString encodes s as a JSON string.
func jsonString(s string) json.RawMessage {
	raw, _ := json.Marshal(s)
	return raw
}

// servedTier is the tier Bedrock reports having served, for OpenAI's
// service_tier; empty when it did not say.
func servedTier(t *bedrock.ServiceTier) string {
	if t == nil {
		return ""
	}
	return t.Type
}
