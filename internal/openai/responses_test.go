package openai

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The hand-written delta encoding says what MarshalJSON says, byte for
// byte apart from HTML escaping, which it leaves off as the server does.
func TestResponseEventAppendJSON(t *testing.T) {
	for _, typ := range []string{EventOutputTextDelta, EventReasoningTextDelta, EventRefusalDelta, EventArgumentsDelta, EventSummaryTextDelta, EventOutputTextDone} {
		ev := &ResponseEvent{Type: typ, SequenceNumber: 42, OutputIndex: 3, ContentIndex: 1, SummaryIndex: 2, ItemID: "msg_\"x\"",
			Delta: "a \"quote\", a \\ backslash,\n a tab\t, \u2028, invalid \xff, <html> & é", Text: "done"}
		fast, err := ev.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(fast, []byte("prefix")) {
			t.Fatalf("%s: the prefix was lost", typ)
		}
		fast = fast[len("prefix"):]
		slow, err := ev.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var a, b bytes.Buffer
		enc := json.NewEncoder(&a)
		enc.SetEscapeHTML(false)
		var fv, sv any
		if err := json.Unmarshal(fast, &fv); err != nil {
			t.Fatalf("%s: %v: %s", typ, err, fast)
		}
		json.Unmarshal(slow, &sv)
		enc.Encode(fv)
		enc = json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(sv)
		if a.String() != b.String() {
			t.Errorf("%s:\nAppendJSON  %s\nMarshalJSON %s", typ, fast, slow)
		}
	}
}
