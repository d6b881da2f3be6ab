package config

import (
	"cmp"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

const envPrefix = "os.environ/"

// decoder walks the YAML node tree, so that every problem can name its key
// path and line, and collects errors and warnings instead of stopping.
type decoder struct {
	file      string
	lookupEnv func(string) (string, bool)
	// env is environment_variables from the file. LiteLLM puts them in its
	// environment before reading the rest, so they shadow the process's.
	env      map[string]string
	errs     Errors
	warnings []warning
	notices  []warning
	ignored  []ignoredKey    // keys Strata does not implement, in file order
	warned   map[string]bool // ignored keys already listed, by path without indexes
	lines    map[string]int  // line of each implemented settings key, by path
}

// ignoredKey is a key Strata reads past; they are listed once per section.
type ignoredKey struct {
	section string // "model_list", "litellm_settings" ...; "" for the top level
	key     string // the path within its section, without list indexes
	line    int
}

type warning struct {
	line int
	text string
}

func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) warnf(line int, format string, args ...any) {
	d.warnings = append(d.warnings, warning{line, fmt.Sprintf(format, args...)})
}

func (d *decoder) noticef(line int, format string, args ...any) {
	d.notices = append(d.notices, warning{line, fmt.Sprintf(format, args...)})
}

var pathIndex = regexp.MustCompile(`\[\d+\]`)

// warnIgnored lists a key Strata does not implement, once however many
// model_list entries repeat it; warnIgnoredKeys turns the list into one
// warning per section.
func (d *decoder) warnIgnored(line int, path string) {
	path = pathIndex.ReplaceAllString(path, "")
	if d.warned[path] {
		return
	}
	d.warned[path] = true
	section, key, nested := strings.Cut(path, ".")
	if !nested {
		section, key = "", path
	}
	d.ignored = append(d.ignored, ignoredKey{section, key, line})
}

// warnIgnoredKeys warns once per section about the keys it ignores, e.g.
// "config.yaml:27: litellm_settings: ignored, not implemented by Strata:
// success_callback (line 27), cache_params (line 28)".
func (d *decoder) warnIgnoredKeys() {
	var sections []string
	bySection := map[string][]ignoredKey{}
	for _, k := range d.ignored {
		if _, seen := bySection[k.section]; !seen {
			sections = append(sections, k.section)
		}
		bySection[k.section] = append(bySection[k.section], k)
	}
	for _, section := range sections {
		keys := bySection[section]
		slices.SortStableFunc(keys, func(a, b ignoredKey) int { return compareLines(a.line, b.line) })
		list := make([]string, len(keys))
		for i, k := range keys {
			list[i] = fmt.Sprintf("%s (line %d)", k.key, k.line)
		}
		what := section + ": ignored, not implemented by Strata: "
		if section == "" {
			what = "top-level keys ignored, not implemented by Strata: "
		}
		d.warnf(keys[0].line, "%s%s", what, strings.Join(list, ", "))
	}
}

// sortedErrors orders errors by line; those without one go last.
func (d *decoder) sortedErrors() Errors {
	errs := slices.Clone(d.errs)
	slices.SortStableFunc(errs, func(a, b *Error) int { return compareLines(a.Line, b.Line) })
	return errs
}

func (d *decoder) sortedWarnings() []string { return d.sortedLines(d.warnings) }

func (d *decoder) sortedNotices() []string { return d.sortedLines(d.notices) }

func (d *decoder) sortedLines(lines []warning) []string {
	ws := slices.Clone(lines)
	slices.SortStableFunc(ws, func(a, b warning) int { return compareLines(a.line, b.line) })
	var out []string
	for _, w := range ws {
		out = append(out, position(d.file, w.line)+w.text)
	}
	return out
}

func compareLines(a, b int) int {
	if a == 0 {
		a = math.MaxInt
	}
	if b == 0 {
		b = math.MaxInt
	}
	return cmp.Compare(a, b)
}

func (d *decoder) parse(data []byte) *Config {
	cfg := &Config{Path: d.file, Settings: defaultSettings()}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.syntaxError(err, data)
		return cfg
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	if doc.Kind != 0 && deref(root).Kind != yaml.MappingNode {
		d.errorf(root.Line, "", "the file must be a mapping of sections (model_list:, litellm_settings: ...), got %s", describeNode(root))
		return cfg
	}
	fields, _ := d.mapping(root, "")

	// environment_variables come first wherever they are written: LiteLLM
	// sets them before it resolves anything else.
	for _, f := range fields {
		if f.key == "environment_variables" {
			cfg.Environment = d.environment(f)
		}
	}
	sawModels := false
	for _, f := range fields {
		switch f.key {
		case "environment_variables":
		case "model_list":
			sawModels = true
			cfg.Models, cfg.Unserved = d.modelList(f)
		case "litellm_settings":
			cfg.Settings.LiteLLM = d.section(f)
		case "router_settings":
			cfg.Settings.Router = d.section(f)
		case "general_settings":
			cfg.Settings.General = d.section(f)
		case "callback_settings":
			cfg.Settings.Traces.MessageLogging = d.callbackSettings(f)
		default:
			d.warnIgnored(f.line, f.path)
		}
	}
	if !sawModels {
		d.errorf(0, "", "model_list is missing: Strata needs at least one bedrock/ model")
	}

	if v, ok := cfg.Settings.LiteLLM["drop_params"].(bool); ok {
		cfg.Settings.DropParams = v
	}
	switch hosts := cfg.Settings.LiteLLM["user_url_allowed_hosts"].(type) {
	case string:
		cfg.Settings.URLAllowedHosts = []string{hosts}
	case []any:
		for _, h := range hosts {
			cfg.Settings.URLAllowedHosts = append(cfg.Settings.URLAllowedHosts, h.(string))
		}
	}
	if v, ok := cfg.Settings.LiteLLM["user_url_validation"].(bool); ok {
		cfg.Settings.URLValidationOff = !v
	}
	if mb, ok := cfg.Settings.General["max_request_size_mb"].(float64); ok {
		cfg.Settings.MaxRequestBytes = int64(mb * (1 << 20))
	}
	if v, ok := cfg.Settings.General["health_check_upstream"].(bool); ok {
		cfg.Settings.HealthCheckUpstream = v
	}
	if v, ok := cfg.Settings.LiteLLM["max_budget"].(float64); ok {
		cfg.Settings.MaxBudget = &v
	}
	if v, ok := cfg.Settings.LiteLLM["budget_duration"].(string); ok {
		cfg.Settings.BudgetDuration = v
	}
	if v, ok := cfg.Settings.General["master_key"].(Secret); ok {
		cfg.Settings.MasterKey = v
	}
	if v, ok := cfg.Settings.General["database_url"].(Secret); ok {
		cfg.Settings.DatabaseURL = v
	}
	if v, ok := cfg.Settings.General["require_auth_for_metrics_endpoint"].(bool); ok {
		cfg.Settings.RequireAuthForMetrics = v
	}
	if n, ok := cfg.Settings.General["global_max_parallel_requests"].(int); ok {
		cfg.Settings.MaxInFlight = &n
	}
	if mb, ok := cfg.Settings.General["max_request_bodies_in_flight_mb"].(float64); ok {
		cfg.Settings.MaxBodyBytesInFlight = int64(mb * (1 << 20))
	}
	for key, into := range map[string]*time.Duration{
		"request_body_timeout": &cfg.Settings.RequestBodyTimeout,
		"stream_write_timeout": &cfg.Settings.StreamWriteTimeout,
		"shutdown_drain_delay": &cfg.Settings.ShutdownDrainDelay,
	} {
		if v, ok := cfg.Settings.General[key].(time.Duration); ok {
			*into = v
		}
	}
	if v, ok := cfg.Settings.General["user_api_key_cache_ttl"].(time.Duration); ok {
		cfg.Settings.KeyCacheTTL = v
	}
	if v, ok := cfg.Settings.General["proxy_batch_write_at"].(time.Duration); ok {
		cfg.Settings.SpendWriteInterval = v
	}
	if v, ok := cfg.Settings.General["store_prompts_in_spend_logs"].(bool); ok {
		cfg.Settings.StorePrompts = v
	}
	cfg.Settings.Traces.Enabled = d.callbacks(cfg.Settings.LiteLLM)
	if off, _ := cfg.Settings.LiteLLM["turn_off_message_logging"].(bool); off {
		cfg.Settings.Traces.MessageLogging = false
	}
	cfg.Settings.Routing = d.routing(cfg)
	cfg.Settings.Redis = d.redis(cfg.Settings.Router)
	d.warnUnserved(cfg.Unserved)
	d.warnIgnoredKeys()
	return cfg
}

// callbacks reports whether litellm_settings names the otel callback, and
// warns in one line about the callbacks Strata does not have (langfuse,
// datadog, custom classes...), which LiteLLM would have called.
func (d *decoder) callbacks(litellm map[string]any) bool {
	on := false
	var others []string
	line := 0
	for _, key := range []string{"callbacks", "success_callback", "failure_callback"} {
		names, _ := litellm[key].([]string)
		for _, n := range names {
			if n == TracesCallback {
				on = true
				continue
			}
			l := d.lines["litellm_settings."+key]
			if line == 0 {
				line = l
			}
			others = append(others, fmt.Sprintf("%s in %s (line %d)", strconv.Quote(n), key, l))
		}
	}
	if len(others) > 0 {
		d.warnf(line, "litellm_settings: callbacks not implemented by Strata, which only sends traces over OTLP (%q): %s",
			TracesCallback, strings.Join(others, ", "))
	}
	return on
}

// callbackSettings reads the top-level callback_settings section: of it,
// Strata implements otel.message_logging, which it returns; the rest is
// warned about.
func (d *decoder) callbackSettings(f field) (messageLogging bool) {
	fields, _ := d.mapping(f.node, f.path)
	for _, cb := range fields {
		if cb.key != TracesCallback {
			d.warnIgnored(cb.line, cb.path)
			continue
		}
		settings, _ := d.mapping(cb.node, cb.path)
		for _, s := range settings {
			if s.key != "message_logging" {
				d.warnIgnored(s.line, s.path)
				continue
			}
			if v, ok := d.convert(s.node, s.path, kindBool); ok {
				messageLogging = v.(bool)
			}
		}
	}
	return messageLogging
}

// warnUnserved names, in one warning, every entry for another provider.
func (d *decoder) warnUnserved(unserved []Unserved) {
	if len(unserved) == 0 {
		return
	}
	list := make([]string, len(unserved))
	for i, u := range unserved {
		provider := u.Provider
		if provider == "" {
			provider = "provider unknown: " + strconv.Quote(u.Model)
		}
		list[i] = fmt.Sprintf("%s (%s, line %d)", u.Name, provider, u.Line)
	}
	entries := "entries are"
	if len(unserved) == 1 {
		entries = "entry is"
	}
	d.warnf(unserved[0].Line, "model_list: %d %s for providers other than AWS Bedrock, which Strata does not serve; requests for them get a 400: %s",
		len(unserved), entries, strings.Join(list, ", "))
}

// requireServable refuses a file that leaves nothing to serve. When the
// file does not start, for that or for an error of its own, every entry's
// problems are reported with the rest.
func (d *decoder) requireServable(cfg *Config) {
	servable := false
	for _, m := range cfg.Models {
		servable = servable || len(m.Problems) == 0
	}
	if servable && len(d.errs) == 0 {
		return
	}
	for _, m := range cfg.Models {
		d.errs = append(d.errs, m.Problems...)
	}
	if len(cfg.Models) == 0 && len(cfg.Unserved) > 0 {
		d.errorf(0, "model_list", "has no AWS Bedrock model, and Strata serves Bedrock only (bedrock/<model id>)")
	}
}

func (d *decoder) environment(f field) map[string]Secret {
	fields, _ := d.mapping(f.node, f.path)
	out := make(map[string]Secret, len(fields))
	for _, e := range fields {
		if e.key == "" || strings.ContainsAny(e.key, "=\x00") {
			d.errorf(e.line, e.path, "%q cannot be an environment variable name", e.key)
			continue
		}
		v, _ := d.str(e.node, e.path)
		d.env[e.key] = v
		out[e.key] = Secret(v)
	}
	return out
}

// section reads a settings section: implemented keys typed, the rest kept as
// written and warned about.
func (d *decoder) section(f field) map[string]any {
	implemented := settingsKeys[f.key]
	fields, _ := d.mapping(f.node, f.path)
	out := make(map[string]any, len(fields))
	for _, s := range fields {
		if k, ok := implemented[s.key]; ok {
			if d.lines == nil {
				d.lines = map[string]int{}
			}
			d.lines[s.path] = s.line
			if v, ok := d.convert(s.node, s.path, k); ok {
				out[s.key] = v
			}
			continue
		}
		d.warnIgnored(s.line, s.path)
		out[s.key] = redact(s.key, d.value(s.node, s.path, forIgnored))
	}
	return out
}

// modelList reads model_list. Entries for other providers come back as
// Unserved. A Bedrock entry with a model_name keeps its own problems in
// Model.Problems, so that one broken deployment does not stop the rest;
// problems of an entry without a name concern the file.
func (d *decoder) modelList(f field) ([]Model, []Unserved) {
	n := deref(f.node)
	if isNull(n) || n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.errorf(f.line, f.path, "is empty: Strata needs at least one bedrock/ model")
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(f.node.Line, f.path, "must be a list of models (lines starting with \"- model_name:\"), got %s", describeNode(n))
		return nil, nil
	}
	models := make([]Model, 0, len(n.Content))
	var unserved []Unserved
	for i, entry := range n.Content {
		before := len(d.errs)
		m, other, named := d.model(entry, fmt.Sprintf("%s[%d]", f.path, i))
		switch {
		case other != nil:
			// Not Strata's to judge: whatever is wrong with it, it is not served.
			d.errs = d.errs[:before]
			unserved = append(unserved, *other)
		case named:
			if len(d.errs) > before {
				m.Problems = slices.Clone(d.errs[before:])
				d.errs = d.errs[:before]
			}
			models = append(models, m)
		}
	}
	return models, unserved
}

// model reads one model_list entry. It returns the entry as Unserved when
// it is for another provider; named says the entry has a model_name, so
// that its problems can be kept with it.
func (d *decoder) model(n *yaml.Node, path string) (m Model, other *Unserved, named bool) {
	m = Model{Line: n.Line}
	fields, ok := d.mapping(n, path)
	if !ok {
		return m, nil, false
	}
	var params, info *field
	var rest []field
	hasName := false
	for i, f := range fields {
		switch f.key {
		case "model_name":
			hasName = !isNull(f.node)
			if name, ok := d.str(f.node, f.path); ok {
				m.Name = name
				named = name != ""
				if name == "" {
					d.errorf(f.node.Line, f.path, "must not be empty")
				}
			}
		case "litellm_params":
			params = &fields[i]
		case "model_info":
			info = &fields[i]
		default:
			rest = append(rest, f)
		}
	}
	if !hasName {
		d.errorf(n.Line, path, "model_name is required")
	}
	if params == nil || isNull(params.node) {
		d.errorf(n.Line, path, "litellm_params with model: bedrock/<model id> is required")
		return m, nil, named
	}
	pfields, ok := d.mapping(params.node, params.path)
	if !ok {
		return m, nil, named
	}
	byKey := make(map[string]field, len(pfields))
	for _, f := range pfields {
		byKey[f.key] = f
	}

	// Where the entry is served decides how the rest of it is read: the
	// keys of another provider's entry are none of Strata's business.
	provider := ""
	if f, ok := byKey["custom_llm_provider"]; ok {
		provider, _ = d.str(f.node, f.path)
	}
	model, haveModel := "", false
	if f, ok := byKey["model"]; !ok || isNull(f.node) {
		d.errorf(params.line, params.path, "model is required, e.g. model: bedrock/anthropic.claude-3-haiku-20240307-v1:0")
	} else if s, ok := d.str(f.node, f.path); ok && s == "" {
		d.errorf(f.node.Line, f.path, "must not be empty")
	} else if ok {
		model, haveModel = s, true
	}
	class, vendor := classifyModel(model, provider)
	if class == classOther && (haveModel || provider != "") {
		return m, &Unserved{Name: m.Name, Provider: vendor, Model: model, Line: n.Line}, named
	}
	if class == classBedrockUnprefixed {
		f := byKey["model"]
		d.noticef(f.node.Line, "%s: %q has the shape of a Bedrock model id: served on Bedrock, as bedrock/%s would be", f.path, model, model)
	}

	for _, f := range rest {
		d.warnIgnored(f.line, f.path)
	}
	if info != nil && !isNull(info.node) {
		if deref(info.node).Kind != yaml.MappingNode {
			d.errorf(info.node.Line, info.path, "must be a mapping (key: value lines), got %s", describeNode(info.node))
		} else {
			m.ModelInfo = d.value(info.node, info.path, forStrata).(map[string]any)
		}
	}
	if haveModel {
		m.Model = model
		if !strings.HasPrefix(model, "bedrock/") {
			model = "bedrock/" + model
		}
		route, id, problem := parseModel(model)
		if problem != "" {
			f := byKey["model"]
			d.errorf(f.node.Line, f.path, "%s", problem)
		}
		m.Route, m.BaseModel = route, id
	}
	d.litellmParams(&m, pfields, byKey)
	return m, nil, named
}

// litellmParams reads the rest of a Bedrock entry's litellm_params into m:
// the AWS and deployment keys by table, everything else into Params for
// Bedrock.
func (d *decoder) litellmParams(m *Model, fields []field, byKey map[string]field) {
	for _, pair := range conflictingKeys {
		a, okA := byKey[pair[0]]
		b, okB := byKey[pair[1]]
		if okA && okB {
			first, second := a, b
			if b.line < a.line {
				first, second = b, a
			}
			d.errorf(second.line, second.path, "conflicts with %s (line %d): set only one", first.key, first.line)
		}
	}

	failed := map[string]bool{} // keys already reported, so checks across keys stay quiet about them
	for _, f := range fields {
		switch key := f.key; {
		case key == "model" || key == "custom_llm_provider":
		case modelKeys[key].set != nil:
			before := len(d.errs)
			if v, ok := d.convert(f.node, f.path, modelKeys[key].kind); ok {
				modelKeys[key].set(m, v)
			}
			failed[key] = len(d.errs) > before
		case unimplementedModelKeys[key]:
			d.warnIgnored(f.line, f.path)
			if m.Deployment.Ignored == nil {
				m.Deployment.Ignored = map[string]any{}
			}
			m.Deployment.Ignored[key] = redact(key, d.value(f.node, f.path, forIgnored))
		default:
			var v any
			if k, known := paramKinds[key]; known {
				v, _ = d.convert(f.node, f.path, k)
			} else {
				v = d.value(f.node, f.path, forBedrock)
			}
			if v == nil {
				continue // null, or an error already reported: nothing to send
			}
			if m.Params == nil {
				m.Params = map[string]any{}
			}
			m.Params[key] = v
		}
	}

	if names := m.Deployment.AdditionalDropParams; names != nil {
		m.Deployment.AdditionalDropParams = d.dropList(byKey["additional_drop_params"], names)
	}
	if m.ModelID == "" {
		m.ModelID = m.BaseModel
	} else if f := byKey["model_id"]; !validModelID(m.ModelID) {
		d.errorf(f.node.Line, f.path, "%s", badModelID(m.ModelID))
	}
	if (m.AWS.AccessKeyID == "") != (m.AWS.SecretAccessKey == "") {
		set, unset := "aws_access_key_id", "aws_secret_access_key"
		if m.AWS.AccessKeyID == "" {
			set, unset = unset, set
		}
		if failed[unset] {
			return
		}
		d.errorf(byKey[set].node.Line, byKey[set].path, "is set but %s is empty: set both, or neither to use the default AWS credentials", unset)
	}
}

// dropList checks additional_drop_params: top-level request parameters
// other than those the gateway needs to answer at all.
func (d *decoder) dropList(f field, names []string) []string {
	kept := make([]string, 0, len(names))
	for _, n := range names {
		switch {
		case n == "model" || n == "messages" || n == "stream" || n == "stream_options":
			d.errorf(f.line, f.path, "cannot drop %s: the gateway needs it to answer", n)
		case strings.ContainsAny(n, ".[]*"):
			d.warnf(f.line, "%s: %q is a nested path, which Strata does not implement: it is not dropped; only top-level parameters are", f.path, n)
		case n != "":
			kept = append(kept, n)
		}
	}
	return kept
}

// parseModel splits "bedrock/[converse/|invoke/]<id>" into route and Bedrock
// model id; problem says what is wrong with anything else.
func parseModel(s string) (route, id, problem string) {
	rest, ok := strings.CutPrefix(s, "bedrock/")
	if !ok {
		return "", "", fmt.Sprintf("only Bedrock models are served by Strata, got %q", s)
	}
	for _, r := range []string{"converse", "invoke", "llama", "deepseek_r1", "qwen3", "openai"} {
		if after, ok := strings.CutPrefix(rest, r+"/"); ok {
			route, rest = r, after
			break
		}
	}
	switch {
	case rest == "":
		return "", "", fmt.Sprintf("%q names no Bedrock model id after the prefix", s)
	case !strings.HasPrefix(rest, "arn:") && strings.Contains(rest, "/"):
		prefix, _, _ := strings.Cut(rest, "/")
		return "", "", fmt.Sprintf("%q: Strata does not know the route %q; use bedrock/<id>, bedrock/converse/<id> or bedrock/invoke/<id> (imported models: bedrock/llama/, bedrock/deepseek_r1/, bedrock/qwen3/ or bedrock/openai/ before the ARN)", s, prefix+"/")
	case !validModelID(rest):
		return "", "", badModelID(rest)
	}
	return route, rest, ""
}

// validModelID accepts what Bedrock model ids, inference profile ids and
// ARNs are made of; it exists to catch copy-paste debris such as a trailing comma.
func validModelID(id string) bool {
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".:-_/", r)) {
			return false
		}
	}
	return id != ""
}

func badModelID(id string) string {
	if trimmed, ok := strings.CutSuffix(id, ","); ok && validModelID(trimmed) {
		return fmt.Sprintf("Bedrock model id %q ends with a comma: remove it (YAML is not Python)", id)
	}
	return fmt.Sprintf("%q is not a Bedrock model id", id)
}

// field is one key of a mapping.
type field struct {
	key  string
	path string     // full key path
	line int        // line of the key
	node *yaml.Node // the value
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping returns the keys of a mapping node in file order, with YAML merge
// keys (<<: *defaults) expanded. A null node is an empty mapping; anything
// else is an error and ok is false.
func (d *decoder) mapping(n *yaml.Node, path string) (fields []field, ok bool) {
	line := n.Line
	n = deref(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(line, path, "must be a mapping (key: value lines), got %s", describeNode(n))
		return nil, false
	}
	seen := map[string]int{}
	var merged []field
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(v, path)...)
			continue
		}
		kd := deref(k)
		if kd.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "a key must be a plain name, got %s", describeNode(kd))
			continue
		}
		if first, dup := seen[kd.Value]; dup {
			d.errorf(k.Line, joinPath(path, kd.Value), "is set twice (first at line %d)", first)
			continue
		}
		seen[kd.Value] = k.Line
		fields = append(fields, field{kd.Value, joinPath(path, kd.Value), k.Line, v})
	}
	// Keys written in the mapping win over merged ones, and earlier merges over later ones.
	for _, f := range merged {
		if _, dup := seen[f.key]; !dup {
			seen[f.key] = f.line
			fields = append(fields, f)
		}
	}
	return fields, true
}

func (d *decoder) merge(n *yaml.Node, path string) []field {
	line := n.Line
	n = deref(n)
	if n.Kind == yaml.SequenceNode {
		var out []field
		for _, c := range n.Content {
			out = append(out, d.merge(c, path)...)
		}
		return out
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(line, path, "<< must merge a mapping, got %s", describeNode(n))
		return nil
	}
	fields, _ := d.mapping(n, path)
	return fields
}

// valueMode says how strictly a value is resolved and whether credentials in it are hidden.
type valueMode int

const (
	forBedrock valueMode = iota // sent upstream: resolved strictly, kept verbatim
	forStrata                   // used by Strata: resolved strictly, credential-looking strings become Secrets
	// forIgnored is for keys Strata ignores: an unset variable there is not
	// worth refusing to start over, so it just reads as null.
	forIgnored
)

// value converts any node to Go values (string, int, float64, bool, nil,
// []any, map[string]any) with os.environ/ resolved.
func (d *decoder) value(n *yaml.Node, path string, mode valueMode) any {
	dn := deref(n)
	switch dn.Kind {
	case yaml.ScalarNode:
		v, _ := d.scalar(n, path, mode != forIgnored)
		return v
	case yaml.SequenceNode:
		list := make([]any, len(dn.Content))
		for i, c := range dn.Content {
			list[i] = d.value(c, fmt.Sprintf("%s[%d]", path, i), mode)
		}
		return list
	case yaml.MappingNode:
		fields, _ := d.mapping(dn, path)
		m := make(map[string]any, len(fields))
		for _, f := range fields {
			v := d.value(f.node, f.path, mode)
			if mode != forBedrock {
				v = redact(f.key, v)
			}
			m[f.key] = v
		}
		return m
	}
	return nil
}

// scalar returns a scalar's value. A string that is os.environ/NAME becomes
// the variable's value, and env names it; an unset variable is an error when
// strict, and the value is nil. Other scalars keep their YAML type.
func (d *decoder) scalar(n *yaml.Node, path string, strict bool) (v any, env string) {
	line := n.Line
	n = deref(n)
	switch n.ShortTag() {
	case "!!null":
		return nil, ""
	case "!!int", "!!float", "!!bool":
		if err := n.Decode(&v); err != nil {
			d.errorf(line, path, "cannot read this %s value", n.ShortTag())
		}
		return v, ""
	case "!!str":
	default: // timestamps, binary, custom tags: the text as written
		return n.Value, ""
	}
	name, ok := strings.CutPrefix(n.Value, envPrefix)
	if !ok {
		return n.Value, ""
	}
	if name == "" {
		if strict {
			d.errorf(line, path, "%q names no environment variable", n.Value)
		}
		return nil, ""
	}
	if v, ok := d.env[name]; ok {
		return v, name
	}
	if v, ok := d.lookupEnv(name); ok {
		return v, name
	}
	if strict {
		d.errorf(line, path, "environment variable %s is not set", name)
	}
	return nil, name
}

// str reads a scalar as text: a number or bool where a string is expected is
// taken as written, as LiteLLM's str() would. ok is false for null, an unset
// variable, or a non-scalar (reported).
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	dn := deref(n)
	if dn.Kind != yaml.ScalarNode {
		d.errorf(n.Line, path, "must be a string, got %s", describeNode(dn))
		return "", false
	}
	v, _ := d.scalar(n, path, true)
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	}
	return dn.Value, true
}

// number reads a numeric scalar. Numeric strings are accepted, since
// environment variables are strings, and so is one trailing comma, which the
// LiteLLM docs' snippets carry over from Python ("max_tokens: 10,"), with a warning.
func (d *decoder) number(n *yaml.Node, path, want string) (float64, bool) {
	dn := deref(n)
	if dn.Kind != yaml.ScalarNode {
		d.errorf(n.Line, path, "must be %s, got %s", want, describeNode(dn))
		return 0, false
	}
	v, env := d.scalar(n, path, true)
	var f float64
	switch v := v.(type) {
	case nil:
		return 0, false
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint64:
		f = float64(v)
	case float64:
		f = v
	case string:
		text, comma := strings.CutSuffix(strings.TrimSpace(v), ",")
		parsed, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			d.errorf(n.Line, path, "must be %s, got %s", want, describe(v, env))
			return 0, false
		}
		f = parsed
		if comma {
			d.warnf(n.Line, "%s: read %q as %v; remove the trailing comma (YAML is not Python)", path, v, f)
		}
	default:
		d.errorf(n.Line, path, "must be %s, got %s", want, describe(v, env))
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		d.errorf(n.Line, path, "must be %s, got %s", want, describe(v, env))
		return 0, false
	}
	return f, true
}

var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// convert reads a known key's value as its kind and checks its range. ok is
// false when there is no value to set: null, an unset variable, or an error
// (reported).
func (d *decoder) convert(n *yaml.Node, path string, k kind) (any, bool) {
	line := n.Line
	switch k {
	case kindString:
		return d.str(n, path)
	case kindSecret:
		s, ok := d.str(n, path)
		return Secret(s), ok
	case kindRegion:
		s, ok := d.str(n, path)
		if !ok || s == "" || regionName.MatchString(s) {
			return s, ok
		}
		if trimmed, comma := strings.CutSuffix(s, ","); comma && regionName.MatchString(trimmed) {
			d.warnf(line, "%s: read %q as %q; remove the trailing comma (YAML is not Python)", path, s, trimmed)
			return trimmed, true
		}
		d.errorf(line, path, "%q is not an AWS region name (like us-east-1)", s)
		return nil, false
	case kindURL:
		s, ok := d.str(n, path)
		if !ok || s == "" {
			return s, ok
		}
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errorf(line, path, "must be an http(s) URL such as https://bedrock-runtime.us-east-1.amazonaws.com, got %q", s)
			return nil, false
		}
		return s, true
	case kindBool:
		if dn := deref(n); dn.Kind != yaml.ScalarNode {
			d.errorf(line, path, "must be true or false, got %s", describeNode(dn))
			return nil, false
		}
		v, env := d.scalar(n, path, true)
		switch b := v.(type) {
		case nil:
			return nil, false
		case bool:
			return b, true
		case string:
			if parsed, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
				return parsed, true
			}
		}
		d.errorf(line, path, "must be true or false, got %s", describe(v, env))
		return nil, false
	case kindInt, kindCount:
		want := "a whole number"
		if k == kindCount {
			want = "a whole number >= 0"
		}
		f, ok := d.number(n, path, want)
		if !ok {
			return nil, false
		}
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 || k == kindCount && f < 0 {
			d.errorf(line, path, "must be %s, got %v", want, f)
			return nil, false
		}
		return int(f), true
	case kindFloat, kindNonNegative, kindPositive, kindSeconds:
		want := map[kind]string{
			kindFloat:       "a number",
			kindNonNegative: "a number >= 0",
			kindPositive:    "a number > 0",
			kindSeconds:     "a number of seconds >= 0",
		}[k]
		f, ok := d.number(n, path, want)
		if !ok {
			return nil, false
		}
		if k != kindFloat && f < 0 || k == kindPositive && f == 0 {
			d.errorf(line, path, "must be %s, got %v", want, f)
			return nil, false
		}
		if k == kindSeconds {
			return time.Duration(f * float64(time.Second)), true
		}
		return f, true
	case kindStop:
		v := d.value(n, path, forBedrock)
		switch stop := v.(type) {
		case nil, string:
			return v, v != nil
		case []any:
			i := slices.IndexFunc(stop, func(e any) bool { _, isString := e.(string); return !isString })
			if i < 0 {
				return stop, true
			}
			if stop[i] != nil { // nil: an unset variable, already reported
				d.errorf(line, path, "must be a string or a list of strings, got %s in the list", describe(stop[i], ""))
			}
			return nil, false
		}
		d.errorf(line, path, "must be a string or a list of strings, got %s", describeNode(n))
		return nil, false
	case kindFallbacks:
		return d.fallbacks(n, path)
	case kindAliases:
		return d.aliases(n, path)
	case kindDuration:
		s, ok := d.str(n, path)
		if !ok {
			return nil, false
		}
		s = strings.TrimSpace(s)
		if _, err := ParseDuration(s); err != nil {
			d.errorf(line, path, "%v", err)
			return nil, false
		}
		return s, true
	case kindNames:
		v, ok := d.convert(n, path, kindStop)
		if !ok {
			return nil, false
		}
		if s, isString := v.(string); isString {
			return []string{s}, true
		}
		names := make([]string, 0, len(v.([]any)))
		for _, e := range v.([]any) {
			names = append(names, e.(string))
		}
		return names, true
	}
	panic(fmt.Sprintf("config: kind %d has no conversion", k))
}

// describe names a value for a type error: the value itself, which is why
// it is only used for keys that never hold credentials (numbers, booleans, stop).
func describe(v any, env string) string {
	var s string
	switch v := v.(type) {
	case string:
		s = strconv.Quote(v)
	case []any:
		s = "a list"
	case map[string]any:
		s = "a mapping"
	default:
		s = fmt.Sprint(v)
	}
	if env != "" {
		s += " from environment variable " + env
	}
	return s
}

// describeNode names a node's shape for a type error, never its content:
// the key may hold a credential.
func describeNode(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "true or false"
		case "!!null":
			return "nothing"
		}
		return "a string"
	}
	return "nothing"
}

// redact holds credential-looking strings as Secrets in maps Strata keeps but
// does not send upstream: values of keys named like master_key or
// redis_password, and URLs with a password in them.
func redact(key string, v any) any {
	s, ok := v.(string)
	if !ok || s == "" {
		return v
	}
	if looksSecret(key) {
		return Secret(s)
	}
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return Secret(s)
		}
	}
	return v
}

func looksSecret(key string) bool {
	words := strings.FieldsFunc(strings.ToLower(key), func(r rune) bool { return r == '_' || r == '-' || r == '.' })
	for _, w := range words {
		switch w {
		case "key", "apikey", "secret", "token", "password", "passwd", "pwd", "credential", "credentials":
			return true
		}
	}
	return false
}
