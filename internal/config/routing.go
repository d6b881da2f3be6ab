package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Routing is how requests are spread over the deployments of a model_name
// and how failures are ridden out: router_settings, with the
// litellm_settings equivalents LiteLLM also reads. A key set in
// router_settings wins over its litellm_settings twin.
type Routing struct {
	// Strategy is routing_strategy as Strata runs it: simple-shuffle (when
	// unset), least-busy, latency-based-routing or usage-based-routing.
	Strategy     string
	NumRetries   *int           // num_retries; nil = unset
	AllowedFails *int           // allowed_fails: failures per minute before a cooldown; nil = unset
	CooldownTime *time.Duration // cooldown_time; nil = unset
	// DisableCooldowns (disable_cooldowns) keeps failing deployments in rotation.
	DisableCooldowns bool
	RetryAfter       *time.Duration // retry_after: the first backoff before a retry; nil = unset
	// Timeout bounds one call to Bedrock, a whole stream included
	// (router_settings.timeout or litellm_settings.request_timeout); 0 = unset.
	Timeout time.Duration
	// StreamTimeout bounds the wait for a stream's first token; 0 = unset.
	StreamTimeout time.Duration
	// StreamIdleTimeout bounds the silence between two events of a stream
	// (router_settings.stream_idle_timeout, a Strata key); 0 = unset.
	StreamIdleTimeout time.Duration

	Fallbacks              []Fallback // fallbacks: after retries fail
	ContextWindowFallbacks []Fallback // context_window_fallbacks: on a context-length error
	ContentPolicyFallbacks []Fallback // content_policy_fallbacks: on a guardrail or content-filter error

	// Aliases (model_group_alias) are other names clients may send for a
	// model_name, such as the Anthropic model names Claude Code sends.
	Aliases []Alias
}

// Alias is one model_group_alias entry: requests for Name are served by
// the model_name Model. Hidden aliases are left out of GET /v1/models.
type Alias struct {
	Name, Model string
	Hidden      bool

	line int
	path string
}

// Fallback is one entry of a fallbacks list: when Model fails, the model
// names in To are tried in order.
type Fallback struct {
	Model string // a model_name, or "*" for every model without its own entry
	To    []string

	line int
	path string
}

// Routing strategies by the name a config gives them, to the name Strata runs.
var routingStrategies = map[string]string{
	"simple-shuffle":         "simple-shuffle",
	"least-busy":             "least-busy",
	"latency-based-routing":  "latency-based-routing",
	"usage-based-routing":    "usage-based-routing",
	"usage-based-routing-v2": "usage-based-routing",
}

// unimplementedStrategies are LiteLLM strategies Strata does not have: a
// config naming one still starts, on simple-shuffle, with a warning.
var unimplementedStrategies = map[string]bool{
	"cost-based-routing": true,
	"lar1":               true,
}

// fallbackKeys are the settings keys that hold fallback lists.
var fallbackKeys = []string{"fallbacks", "context_window_fallbacks", "content_policy_fallbacks"}

// fallbacks reads a fallbacks list: [{"bedrock-claude": ["bedrock-llama"]}].
// A target may also be a single string.
func (d *decoder) fallbacks(n *yaml.Node, path string) ([]Fallback, bool) {
	const want = `must be a list of {model_name: [fallback model_names]} mappings, e.g. [{"bedrock-claude": ["bedrock-llama"]}]`
	dn := deref(n)
	if isNull(dn) {
		return nil, false
	}
	if dn.Kind != yaml.SequenceNode {
		d.errorf(n.Line, path, "%s, got %s", want, describeNode(dn))
		return nil, false
	}
	// Entries that are fine are kept even when others are not, so their
	// model names are checked too.
	var out []Fallback
	for i, item := range dn.Content {
		itemPath := fmt.Sprintf("%s[%d]", path, i)
		if deref(item).Kind != yaml.MappingNode {
			d.errorf(item.Line, itemPath, "%s, got %s", want, describeNode(item))
			continue
		}
		fields, _ := d.mapping(item, itemPath)
		for _, f := range fields {
			to, good := d.fallbackTargets(f)
			if !good {
				continue
			}
			out = append(out, Fallback{Model: f.key, To: to, line: f.line, path: f.path})
		}
	}
	return out, out != nil
}

func (d *decoder) fallbackTargets(f field) ([]string, bool) {
	n := deref(f.node)
	if n.Kind == yaml.ScalarNode {
		s, ok := d.str(f.node, f.path)
		return []string{s}, ok && s != ""
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(f.line, f.path, "must be a list of model_names to try in order, got %s", describeNode(n))
		return nil, false
	}
	if len(n.Content) == 0 {
		d.warnf(f.line, "%s: names no model to fall back to: this fallback entry is skipped", f.path)
		return nil, false
	}
	to := make([]string, 0, len(n.Content))
	ok := true
	for i, c := range n.Content {
		s, good := d.str(c, fmt.Sprintf("%s[%d]", f.path, i))
		if !good || s == "" {
			ok = false
			continue
		}
		to = append(to, s)
	}
	return to, ok
}

// routing reads the typed routing settings and checks what depends on the
// rest of the file: strategy names and fallback model names.
func (d *decoder) routing(cfg *Config) Routing {
	litellm, router := cfg.Settings.LiteLLM, cfg.Settings.Router
	var r Routing
	if s, ok := router["routing_strategy"].(string); ok {
		r.Strategy = d.strategy(s)
	}
	r.NumRetries = firstOf[int](router["num_retries"], litellm["num_retries"])
	r.AllowedFails = firstOf[int](router["allowed_fails"])
	r.CooldownTime = firstOf[time.Duration](router["cooldown_time"])
	r.RetryAfter = firstOf[time.Duration](router["retry_after"])
	if b, ok := router["disable_cooldowns"].(bool); ok {
		r.DisableCooldowns = b
	}
	if p := firstOf[time.Duration](router["timeout"], litellm["request_timeout"]); p != nil {
		r.Timeout = *p
	}
	if p := firstOf[time.Duration](router["stream_timeout"]); p != nil {
		r.StreamTimeout = *p
	}
	if p := firstOf[time.Duration](router["stream_idle_timeout"]); p != nil {
		r.StreamIdleTimeout = *p
	}
	served := make(map[string]bool, len(cfg.Models))
	for _, m := range cfg.Models {
		served[m.Name] = true
	}
	unserved := make(map[string]Unserved, len(cfg.Unserved))
	for _, u := range cfg.Unserved {
		if !served[u.Name] {
			unserved[u.Name] = u
		}
	}
	lists := []*[]Fallback{&r.Fallbacks, &r.ContextWindowFallbacks, &r.ContentPolicyFallbacks}
	for i, key := range fallbackKeys {
		for _, section := range []map[string]any{litellm, router} {
			if list, ok := section[key].([]Fallback); ok {
				section[key] = d.servedFallbacks(list, served, unserved)
			}
		}
		if p := firstOf[[]Fallback](router[key], litellm[key]); p != nil {
			*lists[i] = *p
		}
	}
	if list, ok := router["model_group_alias"].([]Alias); ok {
		r.Aliases = d.checkAliases(cfg, list)
	}
	return r
}

// aliases reads model_group_alias: {"claude-sonnet-4-5": "bedrock-claude"},
// or LiteLLM's long form {"claude-sonnet-4-5": {"model": "bedrock-claude", "hidden": true}}.
func (d *decoder) aliases(n *yaml.Node, path string) ([]Alias, bool) {
	const want = "must map an alias to a model_name, or to {model: model_name, hidden: true}"
	fields, ok := d.mapping(n, path)
	if !ok {
		return nil, false
	}
	var out []Alias
	for _, f := range fields {
		a := Alias{Name: f.key, line: f.line, path: f.path}
		switch v := deref(f.node); v.Kind {
		case yaml.ScalarNode:
			s, good := d.str(f.node, f.path)
			if !good {
				continue
			}
			a.Model = s
		case yaml.MappingNode:
			sub, _ := d.mapping(f.node, f.path)
			for _, sf := range sub {
				switch sf.key {
				case "model":
					a.Model, _ = d.str(sf.node, sf.path)
				case "hidden":
					if b, good := d.convert(sf.node, sf.path, kindBool); good {
						a.Hidden = b.(bool)
					}
				default:
					d.warnf(sf.line, "%s is not a model_group_alias key Strata knows (model, hidden); ignored", sf.path)
				}
			}
		default:
			d.errorf(f.line, f.path, "%s, got %s", want, describeNode(v))
			continue
		}
		if a.Model == "" {
			d.errorf(f.line, f.path, "%s; no model_name given", want)
			continue
		}
		out = append(out, a)
	}
	return out, out != nil
}

// checkAliases reports aliases that name no model_name; an alias that is
// itself a model_name is ignored with a warning, as the model_name wins.
func (d *decoder) checkAliases(cfg *Config, list []Alias) []Alias {
	served := make(map[string]bool, len(cfg.Models))
	for _, m := range cfg.Models {
		served[m.Name] = true
	}
	unserved := make(map[string]Unserved, len(cfg.Unserved))
	for _, u := range cfg.Unserved {
		unserved[u.Name] = u
	}
	out := make([]Alias, 0, len(list))
	for _, a := range list {
		u, other := unserved[a.Model]
		switch {
		case !served[a.Model] && other:
			d.warnf(a.line, "%s: %q is %s, which Strata does not serve: the alias is skipped", a.path, a.Model, u.Describe())
		case !served[a.Model]:
			d.errorf(a.line, a.path, "%q is not a model_name in model_list", a.Model)
		case served[a.Name]:
			d.warnf(a.line, "%s: %q is a model_name itself; the model_list entry is used, not the alias", a.path, a.Name)
		default:
			out = append(out, a)
		}
	}
	return out
}

// strategy maps a routing_strategy to the one Strata runs.
func (d *decoder) strategy(s string) string {
	if name, ok := routingStrategies[s]; ok {
		return name
	}
	line := d.lines["router_settings.routing_strategy"]
	if unimplementedStrategies[s] {
		d.warnf(line, "router_settings.routing_strategy: %s is not implemented by Strata; simple-shuffle is used", s)
		return "simple-shuffle"
	}
	d.errorf(line, "router_settings.routing_strategy", "unknown strategy %q; want one of %s", s, strings.Join(slices.Sorted(maps.Keys(routingStrategies)), ", "))
	return ""
}

// servedFallbacks keeps the fallbacks between models Strata serves. An
// entry or target naming any other model is warned about and left out, as
// LiteLLM starts with it and only fails when the chain reaches it.
func (d *decoder) servedFallbacks(list []Fallback, served map[string]bool, unserved map[string]Unserved) []Fallback {
	why := func(name string) string {
		if u, ok := unserved[name]; ok {
			return fmt.Sprintf("%q is %s, which Strata does not serve", name, u.Describe())
		}
		return fmt.Sprintf("%q is not a model_name in model_list", name)
	}
	out := make([]Fallback, 0, len(list))
	for _, fb := range list {
		if fb.Model != "*" && !served[fb.Model] {
			d.warnf(fb.line, "%s: %s: this fallback entry is skipped", fb.path, why(fb.Model))
			continue
		}
		to := make([]string, 0, len(fb.To))
		for i, name := range fb.To {
			if !served[name] {
				d.warnf(fb.line, "%s[%d]: %s: skipped when the fallbacks run", fb.path, i, why(name))
				continue
			}
			to = append(to, name)
		}
		if len(to) > 0 {
			fb.To = to
			out = append(out, fb)
		}
	}
	return out
}

// firstOf returns the first value that holds a T.
func firstOf[T any](values ...any) *T {
	for _, v := range values {
		if t, ok := v.(T); ok {
			return &t
		}
	}
	return nil
}
