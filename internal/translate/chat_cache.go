package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// Prompt caching on Converse: a client's cache_control marks, and the
// deployment's (or request's) cache_control_injection_points in LiteLLM's
// shape, become cachePoint blocks after the content they mark. A model
// that cannot cache gets none, and the drop is logged.

// PromptCaching is what a model takes of Bedrock's prompt caching.
type PromptCaching struct {
	Messages bool // cachePoint in system and messages
	Tools    bool // cachePoint in toolConfig.tools
	LongTTL  bool // ttl "1h" besides the default 5 minutes
}

var (
	cacheClaude     = PromptCaching{Messages: true, Tools: true}
	cacheClaudeLong = PromptCaching{Messages: true, Tools: true, LongTTL: true}
)

// promptCaching is matched by prefix like modelCapabilities. Sources: the
// Bedrock User Guide's "Prompt caching for faster model inference"
// (supported models, and the fields that take checkpoints: system,
// messages and tools on Claude; system and messages on Nova), and AWS's
// announcement of the 1-hour cache TTL for Claude Sonnet 4.5, Haiku 4.5 and
// Opus 4.5 (January 2026). Claude 3.5 Sonnet v2 had caching in a preview
// closed to new accounts, so it gets none. A Claude the table does not know
// is taken to be newer than it; any other provider gets none.
var promptCaching = []prefixRow[PromptCaching]{
	{"anthropic.claude-3-5-haiku", cacheClaude},
	{"anthropic.claude-3-7-sonnet", cacheClaude},
	{"anthropic.claude-3", PromptCaching{}},
	{"anthropic.claude-v2", PromptCaching{}},
	{"anthropic.claude-instant", PromptCaching{}},
	{"anthropic.claude-sonnet-4-5", cacheClaudeLong},
	{"anthropic.claude-haiku-4-5", cacheClaudeLong},
	{"anthropic.claude-opus-4-5", cacheClaudeLong},
	{"anthropic.claude-opus-4-6", cacheClaudeLong},
	{"anthropic.claude-sonnet-4-6", cacheClaudeLong},
	{"anthropic.claude-sonnet-4", cacheClaude},
	{"anthropic.claude-opus-4", cacheClaude},
	{"anthropic.", cacheClaudeLong},
	{"amazon.nova", PromptCaching{Messages: true}},
}

// PromptCachingOf returns what model takes of prompt caching.
func PromptCachingOf(model string) PromptCaching {
	c, _ := byPrefix(promptCaching, model)
	return c
}

// maxCachePoints is Bedrock's limit of cache checkpoints in one request.
const maxCachePoints = 4

// injectionParam is LiteLLM's key, in litellm_params or in a request.
const injectionParam = "cache_control_injection_points"

// cacheInjection is one of LiteLLM's cache_control_injection_points:
// location "message" marks the messages of a role, or the one at an index
// (negative counts from the end); location "tool_config" marks the end of
// the tool list.
type cacheInjection struct {
	location string
	role     string
	index    *int
	control  openai.CacheControl
}

// injectionRoles are the roles a message injection point may name.
var injectionRoles = []string{"system", "developer", "user", "assistant", "tool"}

// cacheInjectionsFrom reads cache_control_injection_points. Errors name the
// offending field, e.g. cache_control_injection_points[1].role.
func cacheInjectionsFrom(raw json.RawMessage) ([]cacheInjection, *fieldError) {
	var points []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &points); err != nil {
		return nil, &fieldError{injectionParam, "must be a list of objects such as {location: message, role: system}"}
	}
	out := make([]cacheInjection, 0, len(points))
	for i, p := range points {
		field := fmt.Sprintf("%s[%d]", injectionParam, i)
		var in cacheInjection
		for _, k := range sortedRawKeys(p) {
			v := p[k]
			var s string
			switch k {
			case "location":
				if json.Unmarshal(v, &s) != nil || (s != "message" && s != "tool_config") {
					return nil, &fieldError{field + ".location", fmt.Sprintf("must be message or tool_config, got %s", v)}
				}
				in.location = s
			case "role":
				if json.Unmarshal(v, &s) != nil || !slices.Contains(injectionRoles, s) {
					return nil, &fieldError{field + ".role", fmt.Sprintf("must be one of %s, got %s", strings.Join(injectionRoles, ", "), v)}
				}
				in.role = s
			case "index":
				n, ok := indexValue(v)
				if !ok {
					return nil, &fieldError{field + ".index", fmt.Sprintf("must be a whole number (negative counts from the end), got %s", v)}
				}
				in.index = &n
			case "control":
				if err := json.Unmarshal(v, &in.control); err != nil {
					return nil, &fieldError{field + ".control", `must be an object such as {type: ephemeral, ttl: "1h"}`}
				}
				if fe := checkCacheControl(&in.control, field+".control"); fe != nil {
					return nil, fe
				}
			default:
				return nil, &fieldError{field + "." + k, "unknown key; an injection point takes location, role, index and control"}
			}
		}
		switch {
		case in.location == "":
			return nil, &fieldError{field + ".location", "is required: message or tool_config"}
		case in.location == "message" && in.role == "" && in.index == nil:
			return nil, &fieldError{field, "a message injection point needs a role or an index"}
		case in.location == "tool_config" && (in.role != "" || in.index != nil):
			return nil, &fieldError{field, "a tool_config injection point takes no role or index"}
		}
		if in.control.Type == "" {
			in.control.Type = "ephemeral"
		}
		out = append(out, in)
	}
	return out, nil
}

// indexValue reads an index given as a number or, as LiteLLM accepts, a
// numeric string.
func indexValue(v json.RawMessage) (int, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		return n, err == nil
	}
	var f float64
	if json.Unmarshal(v, &f) != nil || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}

func sortedRawKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fieldError is a problem with one field, for a 400 (request) or a startup
// error (litellm_params).
type fieldError struct {
	field, problem string
}

func (e *fieldError) Error() string { return e.field + ": " + e.problem }

func (e *fieldError) request() error { return openai.InvalidRequest(e.field, "%s", e.Error()) }

// checkCacheControl accepts what Anthropic's cache_control takes: type
// ephemeral, and a ttl of 5m or 1h (Bedrock's CacheTTL).
func checkCacheControl(cc *openai.CacheControl, field string) *fieldError {
	if cc.Type != "ephemeral" && cc.Type != "" {
		return &fieldError{field + ".type", fmt.Sprintf("must be ephemeral, got %q", cc.Type)}
	}
	if cc.TTL != "" && !slices.Contains(bedrock.CacheTTLs, cc.TTL) {
		return &fieldError{field + ".ttl", fmt.Sprintf("must be %s, got %q", strings.Join(bedrock.CacheTTLs, " or "), cc.TTL)}
	}
	return nil
}

// cachePointFor validates a client's cache_control and returns the cache
// point it asks for.
func cachePointFor(cc *openai.CacheControl, field string) (*bedrock.CachePointBlock, error) {
	if cc.Type == "" {
		return nil, openai.InvalidRequest(field+".type", "%s.type: is required: ephemeral", field)
	}
	if fe := checkCacheControl(cc, field); fe != nil {
		return nil, fe.request()
	}
	return &bedrock.CachePointBlock{Type: "default", TTL: cc.TTL}, nil
}

// requestInjections returns the injection points of a request, which
// replace the deployment's, or the deployment's.
func requestInjections(req *openai.ChatRequest, target *ChatTarget) ([]cacheInjection, error) {
	raw, ok := req.Extra[injectionParam]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return target.cacheInjections, nil
	}
	points, fe := cacheInjectionsFrom(raw)
	if fe != nil {
		return nil, fe.request()
	}
	return points, nil
}

// injectCacheControl marks the messages the injection points name, as
// LiteLLM's hook does: a message the client already marked keeps its mark,
// points apply in order, and no more than Bedrock's limit of checkpoints
// is reached (one kept for the tool list when a point asks for it). The
// messages are copied where they change; the request stays as the client
// sent it, for a fallback deployment with other points. It returns the
// tool list's mark, if asked for, and what was not injected.
func injectCacheControl(msgs []openai.Message, points []cacheInjection) ([]openai.Message, *openai.CacheControl, []Dropped) {
	var toolMark *openai.CacheControl
	var dropped []Dropped
	limit := maxCachePoints
	for _, p := range points {
		if p.location == "tool_config" && toolMark == nil {
			c := p.control
			toolMark = &c
			limit--
		}
	}
	used := 0
	for _, m := range msgs {
		used += cacheMarks(m)
	}
	copied := false
	for i, p := range points {
		if p.location != "message" {
			continue
		}
		targets := injectionTargets(p, msgs)
		if p.index != nil && len(targets) == 0 {
			dropped = append(dropped, Dropped{fmt.Sprintf("%s[%d]", injectionParam, i),
				fmt.Sprintf("index %d is out of range for %d messages; nothing marked", *p.index, len(msgs))})
		}
		for _, at := range targets {
			if cacheMarks(msgs[at]) > 0 {
				continue
			}
			if used >= limit {
				dropped = append(dropped, Dropped{fmt.Sprintf("%s[%d]", injectionParam, i),
					fmt.Sprintf("messages[%d] not marked: Bedrock takes at most %d cache points in a request", at, maxCachePoints)})
				continue
			}
			if !copied {
				msgs = slices.Clone(msgs)
				copied = true
			}
			msgs[at] = withCacheControl(msgs[at], p.control)
			used++
		}
	}
	return msgs, toolMark, dropped
}

// injectionTargets lists the message indexes a message point names; an
// index out of range names none.
func injectionTargets(p cacheInjection, msgs []openai.Message) []int {
	if p.index != nil {
		i := *p.index
		if i < 0 {
			i += len(msgs)
		}
		if i < 0 || i >= len(msgs) {
			return nil
		}
		return []int{i}
	}
	var out []int
	for i, m := range msgs {
		if m.Role == p.role {
			out = append(out, i)
		}
	}
	return out
}

// cacheMarks counts a message's cache_control marks.
func cacheMarks(m openai.Message) int {
	n := 0
	if m.CacheControl != nil {
		n++
	}
	for _, p := range m.Content.Parts {
		if p.CacheControl != nil {
			n++
		}
	}
	return n
}

// withCacheControl returns m marked at its end: its last content part, or
// the message itself when its content is a string (or there is none).
func withCacheControl(m openai.Message, cc openai.CacheControl) openai.Message {
	if n := len(m.Content.Parts); n > 0 {
		m.Content.Parts = slices.Clone(m.Content.Parts)
		m.Content.Parts[n-1].CacheControl = &cc
		return m
	}
	m.CacheControl = &cc
	return m
}

// fitCachePoints removes the cache points model cannot take, and the ttl
// it does not know, saying so in the drops.
func fitCachePoints(out *bedrock.ConverseRequest, model string) []Dropped {
	caching := PromptCachingOf(model)
	var dropped []Dropped
	removed, shortened := 0, 0
	fit := func(cp *bedrock.CachePointBlock, allowed bool) bool {
		if !allowed {
			removed++
			return false
		}
		if cp.TTL != "" && !caching.LongTTL {
			// Without the 1-hour cache the ttl field is not the model's to
			// take; 5 minutes is what it does anyway.
			if cp.TTL == "1h" {
				shortened++
			}
			cp.TTL = ""
		}
		return true
	}
	out.System = slices.DeleteFunc(out.System, func(b bedrock.SystemBlock) bool {
		return b.CachePoint != nil && !fit(b.CachePoint, caching.Messages)
	})
	for i := range out.Messages {
		out.Messages[i].Content = slices.DeleteFunc(out.Messages[i].Content, func(b bedrock.ContentBlock) bool {
			return b.CachePoint != nil && !fit(b.CachePoint, caching.Messages)
		})
	}
	toolsRemoved := 0
	if tc := out.ToolConfig; tc != nil {
		before := removed
		tc.Tools = slices.DeleteFunc(tc.Tools, func(t bedrock.Tool) bool {
			return t.CachePoint != nil && !fit(t.CachePoint, caching.Tools)
		})
		toolsRemoved = removed - before
	}
	id := baseModelID(model)
	switch {
	case removed > 0 && !caching.Messages:
		dropped = append(dropped, Dropped{"cache_control", fmt.Sprintf("Bedrock model %s has no prompt caching: %s not sent", id, cachePoints(removed))})
	case toolsRemoved > 0:
		dropped = append(dropped, Dropped{"cache_control", fmt.Sprintf("Bedrock model %s caches system and messages, not tools: %s on tools not sent", id, cachePoints(toolsRemoved))})
	}
	if shortened > 0 {
		dropped = append(dropped, Dropped{"cache_control.ttl", fmt.Sprintf("Bedrock model %s has no 1-hour cache: %s sent with the default 5 minutes", id, cachePoints(shortened))})
	}
	// Every removal leaves a well-formed request: cache points follow
	// content, so no turn and no tool list is left empty by them.
	return dropped
}

func cachePoints(n int) string {
	if n == 1 {
		return "1 cache point"
	}
	return fmt.Sprintf("%d cache points", n)
}

// fitInvokeCacheControl checks every cache_control of a Messages body
// bound for InvokeModel (system, messages and tool results, tools), where
// Claude takes them as written, and takes the ttl off where the model has
// no 1-hour cache, which Bedrock would refuse.
func fitInvokeCacheControl(body map[string]json.RawMessage, model string, drop func(string, string)) error {
	long := PromptCachingOf(model).LongTTL
	shortened, removed := 0, 0
	var walk func(v any, path string) error
	walk = func(v any, path string) error {
		switch x := v.(type) {
		case []any:
			for i, e := range x {
				if err := walk(e, fmt.Sprintf("%s.%d", path, i)); err != nil {
					return err
				}
			}
		case map[string]any:
			if raw, ok := x["cache_control"]; ok && raw != nil {
				field := path + ".cache_control"
				obj, ok := raw.(map[string]any)
				if !ok {
					return openai.InvalidRequest(field, "%s: must be an object such as {\"type\": \"ephemeral\"}", field)
				}
				typ, _ := obj["type"].(string)
				ttl, isString := obj["ttl"].(string)
				if _, set := obj["ttl"]; set && !isString {
					return openai.InvalidRequest(field+".ttl", "%s.ttl: must be %s", field, strings.Join(bedrock.CacheTTLs, " or "))
				}
				if _, err := cachePointFor(&openai.CacheControl{Type: typ, TTL: ttl}, field); err != nil {
					return err
				}
				if ttl != "" && !long {
					delete(obj, "ttl")
					removed++
					if ttl == "1h" {
						shortened++
					}
				}
			}
			if c, ok := x["content"]; ok {
				return walk(c, path+".content")
			}
		}
		return nil
	}
	for _, key := range []string{"system", "messages", "tools"} {
		raw, ok := body[key]
		if !ok {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		before := removed
		if err := walk(v, key); err != nil {
			return err
		}
		if removed > before {
			body[key] = mustJSON(v)
		}
	}
	if shortened > 0 {
		drop("cache_control.ttl", fmt.Sprintf("Bedrock model %s has no 1-hour cache: %s sent with the default 5 minutes", baseModelID(model), cachePoints(shortened)))
	}
	return nil
}

// countCachePoints counts the cache points of a Converse request.
func countCachePoints(req *bedrock.ConverseRequest) int {
	n := 0
	for _, b := range req.System {
		if b.CachePoint != nil {
			n++
		}
	}
	for _, m := range req.Messages {
		for _, b := range m.Content {
			if b.CachePoint != nil {
				n++
			}
		}
	}
	if req.ToolConfig != nil {
		for _, t := range req.ToolConfig.Tools {
			if t.CachePoint != nil {
				n++
			}
		}
	}
	return n
}
