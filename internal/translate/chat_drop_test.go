package translate

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/strata-gateway/strata/internal/openai"
)

func TestWithoutParams(t *testing.T) {
	var req openai.ChatRequest
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"user":"u1","top_k":5,"logit_bias":{"1":2},"store":true}`
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	before := req
	out, dropped := WithoutParams(&req, []string{"temperature", "top_k", "logit_bias", "store", "seed", "response_format"})
	if out.Temperature != nil || out.Extra["top_k"] != nil || out.Unsupported["logit_bias"] != nil || out.Ignored["store"] != nil {
		t.Errorf("not dropped: %+v", out)
	}
	if out.User != "u1" || len(out.Messages) != 1 {
		t.Errorf("kept parameters lost: %+v", out)
	}
	var names []string
	for _, d := range dropped {
		names = append(names, d.Param)
	}
	if want := []string{"temperature", "top_k", "logit_bias", "store"}; !reflect.DeepEqual(names, want) {
		t.Errorf("dropped %v, want %v (only what the client sent)", names, want)
	}
	if req.Temperature == nil || req.Extra["top_k"] == nil || req.Unsupported["logit_bias"] == nil || !reflect.DeepEqual(req, before) {
		t.Errorf("the original request changed: %+v", req)
	}
	if same, none := WithoutParams(&req, []string{"seed"}); same != &req || none != nil {
		t.Errorf("nothing to drop: got a copy %p (original %p), dropped %v", same, &req, none)
	}
}
