package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// InvokeModel bodies are checked against a JSON schema per model family
// before the model runs, and Bedrock words the violations as its schema
// library does: "#/temperature: expected type: Number, found: String".
// These schemas hold what each family's parameter page documents.

// jsonKind is a JSON type as the schema messages name it.
type jsonKind string

const (
	kString jsonKind = "String"
	kNumber jsonKind = "Number"
	kInt    jsonKind = "Integer"
	kBool   jsonKind = "Boolean"
	kArray  jsonKind = "JSONArray"
	kObject jsonKind = "JSONObject"
	kAny    jsonKind = ""
)

// field is the schema of one value.
type field struct {
	kind     jsonKind
	required bool
	min, max *float64 // numbers: value; strings: length; arrays: items
	enum     []string // allowed values, as their JSON text
	props    map[string]*field
	open     bool   // an object that accepts keys not in props
	items    *field // array elements
}

func num(v float64) *float64 { return &v }

// Constructors keep the schema tables short.
func str() *field                  { return &field{kind: kString} }
func number(lo, hi float64) *field { return &field{kind: kNumber, min: num(lo), max: num(hi)} }
func integer(lo, hi float64) *field {
	return &field{kind: kInt, min: num(lo), max: num(hi)}
}
func boolean() *field                       { return &field{kind: kBool} }
func anyValue() *field                      { return &field{kind: kAny} }
func array(items *field) *field             { return &field{kind: kArray, items: items} }
func object(props map[string]*field) *field { return &field{kind: kObject, props: props} }
func oneOf(values ...string) *field {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(v)
	}
	return &field{kind: kString, enum: quoted}
}
func oneOfInts(values ...int) *field {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = strconv.Itoa(v)
	}
	return &field{kind: kInt, enum: s}
}

func (f *field) req() *field                  { f.required = true; return f }
func (f *field) length(lo, hi float64) *field { f.min, f.max = num(lo), num(hi); return f }
func (f *field) openObject() *field           { f.open = true; return f }

// decodeInvokeBody parses a body as one JSON object, keeping numbers exact.
func decodeInvokeBody(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil || dec.More() || v == nil {
		return nil, validationError("Malformed input request, please reformat your input and try again.")
	}
	return v, nil
}

// validateBody checks body against schema and answers as Bedrock does: one
// violation by its message, several by their count.
func validateBody(schema *field, body map[string]any) error {
	var v []string
	schema.check("#", body, &v)
	switch len(v) {
	case 0:
		return nil
	case 1:
		return validationError("Malformed input request: " + v[0] + ", please reformat your input and try again.")
	}
	return validationError(fmt.Sprintf("Malformed input request: %d schema violations found, please reformat your input and try again.", len(v)))
}

func kindOf(v any) jsonKind {
	switch x := v.(type) {
	case string:
		return kString
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return kInt
		}
		return kNumber
	case bool:
		return kBool
	case []any:
		return kArray
	case map[string]any:
		return kObject
	}
	return "Null"
}

func (f *field) check(path string, v any, out *[]string) {
	got := kindOf(v)
	switch {
	case f.kind == kAny:
		return
	case f.kind == kNumber && got == kInt:
	case got != f.kind:
		*out = append(*out, fmt.Sprintf("%s: expected type: %s, found: %s", path, f.kind, got))
		return
	}
	if f.enum != nil {
		text := ""
		if s, ok := v.(string); ok {
			text = strconv.Quote(s)
		} else {
			text = fmt.Sprint(v)
		}
		if !slices.Contains(f.enum, text) {
			*out = append(*out, fmt.Sprintf("%s: %v is not a valid enum value", path, v))
		}
		return
	}
	switch x := v.(type) {
	case json.Number:
		n, _ := x.Float64()
		if f.min != nil && n < *f.min {
			*out = append(*out, fmt.Sprintf("%s: %s is not greater or equal to %s", path, x, fmtNum(*f.min)))
		}
		if f.max != nil && n > *f.max {
			*out = append(*out, fmt.Sprintf("%s: %s is not less or equal to %s", path, x, fmtNum(*f.max)))
		}
	case string:
		n := float64(len([]rune(x)))
		if f.min != nil && n < *f.min {
			*out = append(*out, fmt.Sprintf("%s: expected minLength: %s, actual: %d", path, fmtNum(*f.min), int(n)))
		}
		if f.max != nil && n > *f.max {
			*out = append(*out, fmt.Sprintf("%s: expected maxLength: %s, actual: %d", path, fmtNum(*f.max), int(n)))
		}
	case []any:
		n := float64(len(x))
		if f.min != nil && n < *f.min {
			*out = append(*out, fmt.Sprintf("%s: expected minimum item count: %s, found: %d", path, fmtNum(*f.min), len(x)))
		}
		if f.max != nil && n > *f.max {
			*out = append(*out, fmt.Sprintf("%s: expected maximum item count: %s, found: %d", path, fmtNum(*f.max), len(x)))
		}
		if f.items != nil {
			for i, item := range x {
				f.items.check(path+"/"+strconv.Itoa(i), item, out)
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(f.props) {
			if _, ok := x[k]; !ok && f.props[k].required {
				*out = append(*out, fmt.Sprintf("%s: required key [%s] not found", path, k))
			}
		}
		for _, k := range sortedKeys(x) {
			p, ok := f.props[k]
			if !ok {
				if !f.open {
					*out = append(*out, fmt.Sprintf("%s: extraneous key [%s] is not permitted", path, k))
				}
				continue
			}
			p.check(path+"/"+k, x[k], out)
		}
	}
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Accessors read a validated body.

func getString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func getInt(m map[string]any, key string) (int64, bool) {
	n, ok := m[key].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func getObject(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

func getStrings(m map[string]any, key string) []string {
	list, _ := m[key].([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}
