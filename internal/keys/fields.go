package keys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/strata-gateway/strata/internal/store"
)

// Error is a refusal of an admin request: bad input (400, naming the
// field), something missing (404) or taken (409 becomes 400 as in LiteLLM).
type Error struct {
	Status  int
	Field   string // the request field at fault, if any
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

func badField(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

func notFound(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Field: field, Message: fmt.Sprintf(format, args...)}
}

// fields is a JSON request body read field by field, so that each bad
// value is reported under its own name and null can clear a setting.
type fields map[string]json.RawMessage

// parseFields reads body as one JSON object whose keys are all in allowed.
func parseFields(body []byte, allowed map[string]bool) (fields, error) {
	f := fields{}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return f, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&f); err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Message: "the request body must be a JSON object: " + err.Error()}
	}
	if dec.More() {
		return nil, &Error{Status: http.StatusBadRequest, Message: "the request body must be one JSON object"}
	}
	var unknown []string
	for k := range f {
		if !allowed[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		names := make([]string, 0, len(allowed))
		for k := range allowed {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, &Error{Status: http.StatusBadRequest, Field: unknown[0],
			Message: unknown[0] + ": not a field Strata knows here (known: " + strings.Join(names, ", ") + ")"}
	}
	return f, nil
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (f fields) has(name string) bool { _, ok := f[name]; return ok }

func (f fields) isNull(name string) bool {
	v, ok := f[name]
	return ok && string(bytes.TrimSpace(v)) == "null"
}

func (f fields) str(name string) (string, error) {
	if !f.has(name) || f.isNull(name) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(f[name], &s); err != nil {
		return "", badField(name, "must be a string")
	}
	return s, nil
}

func (f fields) strList(name string) ([]string, error) {
	if !f.has(name) || f.isNull(name) {
		return nil, nil
	}
	var l []string
	if err := json.Unmarshal(f[name], &l); err != nil {
		return nil, badField(name, "must be a list of strings")
	}
	for _, s := range l {
		if strings.TrimSpace(s) == "" {
			return nil, badField(name, "must not contain empty names")
		}
	}
	return l, nil
}

// money reads a USD amount >= 0; null or absent is nil.
func (f fields) money(name string) (*float64, error) {
	if !f.has(name) || f.isNull(name) {
		return nil, nil
	}
	var v float64
	if err := json.Unmarshal(f[name], &v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, badField(name, "must be a number of US dollars")
	}
	if v < 0 {
		return nil, badField(name, "must be >= 0, got %v", v)
	}
	return &v, nil
}

// count reads a whole number >= 0; null or absent is nil.
func (f fields) count(name string) (*int64, error) {
	if !f.has(name) || f.isNull(name) {
		return nil, nil
	}
	var v float64
	if err := json.Unmarshal(f[name], &v); err != nil || v != math.Trunc(v) || math.IsInf(v, 0) {
		return nil, badField(name, "must be a whole number")
	}
	if v < 0 {
		return nil, badField(name, "must be >= 0, got %v", v)
	}
	n := int64(v)
	return &n, nil
}

func (f fields) object(name string) (map[string]any, error) {
	if !f.has(name) || f.isNull(name) {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(f[name], &m); err != nil {
		return nil, badField(name, "must be a JSON object")
	}
	return m, nil
}

func (f fields) boolean(name string) (bool, error) {
	if !f.has(name) || f.isNull(name) {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(f[name], &b); err != nil {
		return false, badField(name, "must be true or false")
	}
	return b, nil
}

// duration reads a LiteLLM duration string ("30d"); "" when absent or null.
func (f fields) duration(name string) (string, error) {
	s, err := f.str(name)
	if err != nil || s == "" {
		return "", err
	}
	if _, err := ParseDuration(s); err != nil {
		return "", badField(name, "%v", err)
	}
	return s, nil
}

// modelMaxBudget reads model_max_budget in either of LiteLLM's shapes:
// {"model": 5.0} or {"model": {"budget_limit": 5.0, "time_period": "1d"}}.
func (f fields) modelMaxBudget(name string) (map[string]store.ModelBudget, error) {
	if !f.has(name) || f.isNull(name) {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(f[name], &raw); err != nil {
		return nil, badField(name, `must be an object of model names to budgets, e.g. {"claude": {"budget_limit": 5, "time_period": "30d"}}`)
	}
	out := make(map[string]store.ModelBudget, len(raw))
	for model, v := range raw {
		var amount float64
		if err := json.Unmarshal(v, &amount); err == nil {
			if amount < 0 || math.IsNaN(amount) {
				return nil, badField(name+"."+model, "must be >= 0")
			}
			out[model] = store.ModelBudget{BudgetLimit: amount}
			continue
		}
		var b struct {
			BudgetLimit *float64 `json:"budget_limit"`
			TimePeriod  string   `json:"time_period"`
		}
		if err := json.Unmarshal(v, &b); err != nil || b.BudgetLimit == nil {
			return nil, badField(name+"."+model, `must be a number or {"budget_limit": <USD>, "time_period": "<duration>"}`)
		}
		if *b.BudgetLimit < 0 {
			return nil, badField(name+"."+model+".budget_limit", "must be >= 0")
		}
		if b.TimePeriod != "" {
			if _, err := ParseDuration(b.TimePeriod); err != nil {
				return nil, badField(name+"."+model+".time_period", "%v", err)
			}
		}
		out[model] = store.ModelBudget{BudgetLimit: *b.BudgetLimit, TimePeriod: b.TimePeriod}
	}
	return out, nil
}

// limits applies the Limits fields present in f onto l (absent fields keep
// l's value; null clears it). now starts a new budget period when
// budget_duration is set.
func (f fields) limits(l *store.Limits, now time.Time) error {
	var err error
	if f.has("models") {
		if l.Models, err = f.strList("models"); err != nil {
			return err
		}
	}
	for _, m := range []struct {
		name string
		dst  **float64
	}{{"max_budget", &l.MaxBudget}, {"soft_budget", &l.SoftBudget}} {
		if f.has(m.name) {
			if *m.dst, err = f.money(m.name); err != nil {
				return err
			}
		}
	}
	for _, c := range []struct {
		name string
		dst  **int64
	}{{"rpm_limit", &l.RPMLimit}, {"tpm_limit", &l.TPMLimit}, {"max_parallel_requests", &l.MaxParallelRequests}} {
		if f.has(c.name) {
			if *c.dst, err = f.count(c.name); err != nil {
				return err
			}
		}
	}
	if f.has("model_max_budget") {
		if l.ModelMaxBudget, err = f.modelMaxBudget("model_max_budget"); err != nil {
			return err
		}
	}
	if f.has("budget_duration") {
		d, err := f.duration("budget_duration")
		if err != nil {
			return err
		}
		if d != l.BudgetDuration {
			l.BudgetDuration = d
			l.BudgetResetAt = nil
			if d != "" {
				next := BudgetReset(d, now)
				l.BudgetResetAt = &next
			}
		}
	}
	return nil
}

var limitFields = []string{"models", "max_budget", "soft_budget", "budget_duration", "rpm_limit", "tpm_limit", "max_parallel_requests", "model_max_budget", "metadata"}
