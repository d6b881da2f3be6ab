package openai

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// decodeBothWays decodes body with ChatRequest.UnmarshalJSON and with the
// straightforward way it replaces: the typed fields, then every key through
// a map[string]json.RawMessage.
func decodeBothWays(t *testing.T, body string) (got, want ChatRequest) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	type plain ChatRequest
	if err := json.Unmarshal([]byte(body), (*plain)(&want)); err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	for k, v := range raw {
		var m *map[string]json.RawMessage
		switch {
		case chatRequestFields[k]:
			continue
		case unsupportedParams[k]:
			m = &want.Unsupported
		case ignoredParams[k]:
			m = &want.Ignored
		default:
			m = &want.Extra
		}
		if *m == nil {
			*m = make(map[string]json.RawMessage)
		}
		(*m)[k] = v
	}
	return got, want
}

func TestChatRequestSortsEveryKey(t *testing.T) {
	bodies := []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`null`,
		`{}`,
		` { "model" : "m" , "top_k" : 1 , "seed" : 7 , "store" : true } `,
		"{\n\t\"model\":\"m\",\r\n\"extra\":{\"a\":[1,2,{\"b\":\"}]{[\\\"\"}]},\"n\":1}",
		`{"model":"m","guardrailConfig":{"guardrailIdentifier":"g","guardrailVersion":"1"},"thinking":{"type":"enabled","budget_tokens":1024}}`,
		`{"mod\u0065l":"escaped key is still a typed field","t\u00f6p":"escaped unknown key","ü":null}`,
		`{"metadata":{"k":"v"},"logprobs":false,"presence_penalty":0.0,"x":-1.5e3,"y":"\"quoted\"","z":[],"w":{}}`,
		`{"dup":1,"dup":2,"model":"a","model":"b"}`,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"}{"},{"type":"image_url","image_url":"https://x/y.png"}]}],"stop":"\n"}`,
	}
	for _, body := range bodies {
		got, want := decodeBothWays(t, body)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got  %+v\n want %+v", body, got, want)
		}
	}
}

func TestChatRequestTypeErrorsNameTheField(t *testing.T) {
	var req ChatRequest
	err := json.Unmarshal([]byte(`{"model":"m","temperature":"hot"}`), &req)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field != "temperature" {
		t.Fatalf("got %v, want a type error on temperature", err)
	}
	err = json.Unmarshal([]byte(`[1]`), &req)
	if !errors.As(err, &te) || te.Value != "array" {
		t.Fatalf("got %v, want a type error for the array", err)
	}
}

// Strings decoded without encoding/json must come out exactly as it would
// decode them, escapes, invalid UTF-8 and all.
func TestContentStringsDecodeAsEncodingJSON(t *testing.T) {
	texts := []string{
		`""`, `"plain"`, `"tab\tnewline\n"`, `"quote \" backslash \\ slash \/"`,
		`"\u00e9t\u00e9 \ud83d\ude00"`, `"été 😀"`, "\"invalid \xff utf8\"", `"<html> & \u2028"`,
	}
	for _, text := range texts {
		var want string
		if err := json.Unmarshal([]byte(text), &want); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		var c Content
		if err := json.Unmarshal([]byte(text), &c); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if c.Text == nil || *c.Text != want {
			t.Errorf("content %s: got %v, want %q", text, c.Text, want)
		}
		var stop StringOrList
		if err := json.Unmarshal([]byte(text), &stop); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if len(stop) != 1 || stop[0] != want {
			t.Errorf("stop %s: got %q, want %q", text, stop, want)
		}
	}
}
