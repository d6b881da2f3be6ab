package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/strata-gateway/strata/internal/openai"
)

// decodeJSON decodes a request body into v. Nothing the client sent may be
// changed without telling it: encoding/json replaces invalid UTF-8 and
// unpaired surrogate escapes with U+FFFD, so such bodies are refused first.
// Syntax and type errors become 400s whose param is the exact path of the
// value at fault, indices included (messages[2].content[0].text).
func decodeJSON(body []byte, v any) error {
	if err := checkText(body); err != nil {
		return err
	}
	var err error
	if u, ok := v.(json.Unmarshaler); ok {
		// What json.Unmarshal would do after checking the whole body, which
		// the method's own decode checks again: the body is scanned once.
		err = u.UnmarshalJSON(body)
	} else {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		return decodeError(body, err)
	}
	return nil
}

// checkText refuses invalid UTF-8 and \u escapes of unpaired surrogates,
// naming the value they are in.
func checkText(body []byte) error {
	if !utf8.Valid(body) {
		at := invalidUTF8At(body)
		param := pathAt(body, at)
		return openai.InvalidRequest(param, "%s is not valid UTF-8 (byte %d of the body); send text as UTF-8", describe(param), at)
	}
	if !bytes.Contains(body, []byte(`\u`)) {
		return nil // the usual case: no escapes to look at
	}
	if at := loneSurrogateAt(body); at >= 0 {
		param := pathAt(body, at)
		return openai.InvalidRequest(param, "%s holds an unpaired UTF-16 surrogate escape (byte %d of the body), which is not text", describe(param), at)
	}
	return nil
}

func describe(param string) string {
	if param == "" {
		return "the request body"
	}
	return param
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// loneSurrogateAt returns the offset of the first \u escape in a string of
// b that is half of a surrogate pair without its other half, or -1.
func loneSurrogateAt(b []byte) int {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(b):
			if b[i+1] != 'u' {
				i++
				continue
			}
			r, ok := hex4(b, i+2)
			if !ok {
				i++
				continue
			}
			switch {
			case utf16.IsSurrogate(r) && r < 0xDC00: // a high half must be followed by a low half
				low, ok := rune(0), false
				if i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
					low, ok = hex4(b, i+8)
				}
				if !ok || low < 0xDC00 || low > 0xDFFF {
					return i
				}
				i += 11
			case utf16.IsSurrogate(r):
				return i
			default:
				i += 5
			}
		}
	}
	return -1
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
	return rune(n), err == nil
}

func decodeError(body []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return openai.InvalidRequest("", "request body is not valid JSON: %v (at byte %d)", se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return openai.InvalidRequest("", "request body must be a JSON object, not %s", te.Value)
		}
		field := typeErrorPath(body, te)
		expected := jsonTypeName(te.Type.Kind().String())
		if e, ok := reflect.Zero(te.Type).Interface().(interface{ Expected() string }); ok {
			expected = e.Expected()
		}
		return openai.InvalidRequest(field, "%s: expected %s, got %s", field, expected, te.Value)
	}
	var oe *openai.Error
	if errors.As(err, &oe) {
		return oe
	}
	return openai.InvalidRequest("", "invalid request body: %v", err)
}

// jsonValue is one value of a body: its path, where it starts and ends,
// and what encoding/json calls it in a type error ("string", "number 1.5").
type jsonValue struct {
	path       string
	start, end int
	seen       string
}

// walkJSON lists every value of a valid JSON body, parents before children.
func walkJSON(body []byte) []jsonValue {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		array  bool
		index  int
		key    string
		hasKey bool
		path   string
		value  int // the container's entry in out
	}
	var stack []frame
	var out []jsonValue
	// done moves the innermost container past the value just read.
	done := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].array {
				stack[n-1].index++
			} else {
				stack[n-1].hasKey = false
			}
		}
	}
	for {
		before := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		start := skipSeparators(body, before)
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			out[stack[len(stack)-1].value].end = int(dec.InputOffset())
			stack = stack[:len(stack)-1]
			done()
			continue
		}
		if n := len(stack); n > 0 && !stack[n-1].array && !stack[n-1].hasKey {
			stack[n-1].key, stack[n-1].hasKey = tok.(string), true
			continue
		}
		path := ""
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			switch {
			case top.array:
				path = top.path + "[" + strconv.Itoa(top.index) + "]"
			case top.path == "":
				path = top.key
			default:
				path = top.path + "." + top.key
			}
		}
		v := jsonValue{path: path, start: start, end: int(dec.InputOffset())}
		switch t := tok.(type) {
		case json.Delim:
			v.seen = "object"
			if t == '[' {
				v.seen = "array"
			}
			out = append(out, v)
			stack = append(stack, frame{array: t == '[', path: path, value: len(out) - 1})
			continue
		case string:
			v.seen = "string"
		case json.Number:
			v.seen = "number " + t.String()
		case bool:
			v.seen = "bool"
		case nil:
			v.seen = "null"
		}
		out = append(out, v)
		done()
	}
}

// typeErrorPath is the exact path of the value a type error is about.
// encoding/json names the field without indices (messages.content.text)
// and gives an offset that custom decoders make relative to a part of the
// body, so the value is the one at that path, without indices, whose kind
// is the one reported, preferring the one at the reported offset.
func typeErrorPath(body []byte, te *json.UnmarshalTypeError) string {
	var first string
	for _, v := range walkJSON(body) {
		if stripIndices(v.path) != te.Field {
			continue
		}
		seen := v.seen
		if !strings.HasPrefix(te.Value, "number ") {
			seen, _, _ = strings.Cut(seen, " ")
		}
		if seen != te.Value {
			continue
		}
		if v.end == int(te.Offset) || v.start+1 == int(te.Offset) {
			return v.path
		}
		if first == "" {
			first = v.path
		}
	}
	if first != "" {
		return first
	}
	return te.Field
}

// stripIndices turns messages[2].content[0].text into messages.content.text.
func stripIndices(path string) string {
	if strings.IndexByte(path, '[') < 0 {
		return path
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pathAt is the path of the innermost value of body holding byte at, or ""
// for the body itself.
func pathAt(body []byte, at int) string {
	path := ""
	for _, v := range walkJSON(body) {
		if v.start <= at && at < v.end {
			path = v.path // later entries are nested deeper
		}
	}
	return path
}

func skipSeparators(b []byte, i int) int {
	for i < len(b) && strings.IndexByte(" \t\r\n,:", b[i]) >= 0 {
		i++
	}
	return i
}
