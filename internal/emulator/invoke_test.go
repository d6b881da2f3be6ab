package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func invoke(t *testing.T, srv *httptest.Server, model, body string) (int, map[string]any, http.Header) {
	t.Helper()
	resp := post(t, context.Background(), srv.URL+"/model/"+model+"/invoke", body)
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
	return resp.StatusCode, out, resp.Header
}

// Bodies are checked as Bedrock checks them, and refused with its words.
func TestInvokeValidation(t *testing.T) {
	_, srv := unsigned(t)
	cases := []struct {
		name, model, body, want string
	}{
		{"not json", "meta.llama3-8b-instruct-v1:0", `{"prompt":`, "Malformed input request, please reformat"},
		{"required key", "meta.llama3-8b-instruct-v1:0", `{}`, "#: required key [prompt] not found"},
		{"extraneous key", "meta.llama3-8b-instruct-v1:0", `{"prompt":"hi","top_k":3}`, "#: extraneous key [top_k] is not permitted"},
		{"type", "cohere.command-text-v14", `{"prompt":"hi","temperature":"hot"}`, "#/temperature: expected type: Number, found: String"},
		{"range", "mistral.mistral-7b-instruct-v0:2", `{"prompt":"hi","temperature":1.5}`, "#/temperature: 1.5 is not less or equal to 1"},
		{"several", "mistral.mistral-7b-instruct-v0:2", `{"prompt":"hi","temperature":1.5,"top_k":0}`, "2 schema violations found"},
		{"anthropic version", "anthropic.claude-v2", `{"anthropic_version":"x","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, "anthropic_version"},
		{"anthropic alternation", "anthropic.claude-v2", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`, "roles must alternate"},
		{"titan v1 takes no dimensions", "amazon.titan-embed-text-v1", `{"inputText":"hi","dimensions":256}`, "extraneous key [dimensions]"},
		{"titan v2 dimensions", "amazon.titan-embed-text-v2:0", `{"inputText":"hi","dimensions":300}`, "#/dimensions: 300 is not a valid enum value"},
		{"cohere input_type", "cohere.embed-english-v3", `{"texts":["hi"]}`, "required key [input_type] not found"},
		{"cohere 96 texts", "cohere.embed-english-v3", `{"texts":[` + strings.Repeat(`"a",`, 96) + `"a"],"input_type":"search_query"}`, "expected maximum item count: 96, found: 97"},
		{"sdxl size", "stability.stable-diffusion-xl-v1", `{"text_prompts":[{"text":"otter"}],"width":128,"height":512}`, "Valid dimensions are: 1024x1024"},
		{"sdxl 0.8 size", "stability.stable-diffusion-xl-v0", `{"text_prompts":[{"text":"otter"}],"width":640,"height":640}`, "invalid for SDXL 0.8"},
		{"sdxl 0.8 side", "stability.stable-diffusion-xl-v0", `{"text_prompts":[{"text":"otter"}],"width":200,"height":512}`, "multiples of 64 from 128 to 896"},
		{"sdxl samples", "stability.stable-diffusion-xl-v1", `{"text_prompts":[{"text":"otter"}],"samples":2}`, "#/samples: 2 is not less or equal to 1"},
		{"titan image size", "amazon.titan-image-generator-v1", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"otter"},"imageGenerationConfig":{"width":1000,"height":1000}}`, "1000x1000 is not supported"},
		{"nova canvas ratio", "amazon.nova-canvas-v1:0", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"otter"},"imageGenerationConfig":{"width":320,"height":2048}}`, "aspect ratio"},
		{"unknown model", "acme.rocket-v1", `{"prompt":"hi"}`, "model identifier is invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out, hdr := invoke(t, srv, c.model, c.body)
			msg, _ := out["message"].(string)
			if status != http.StatusBadRequest || !strings.Contains(msg, c.want) || !strings.HasPrefix(hdr.Get("X-Amzn-ErrorType"), "ValidationException") {
				t.Errorf("got %d %q (%s), want 400 ValidationException containing %q", status, msg, hdr.Get("X-Amzn-ErrorType"), c.want)
			}
		})
	}
}

// Chat families echo the last user turn of their own prompt format and
// report token counts in Bedrock's headers.
func TestInvokeChatEcho(t *testing.T) {
	_, srv := unsigned(t)
	cases := []struct{ model, body, path, want string }{
		{"meta.llama3-8b-instruct-v1:0", `{"prompt":"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhello there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"}`, "generation", "echo: hello there"},
		{"meta.llama2-13b-chat-v1", `{"prompt":"<s>[INST] <<SYS>>\nbe brief\n<</SYS>>\n\nhello there [/INST]"}`, "generation", "echo: hello there"},
		{"amazon.titan-text-lite-v1", `{"inputText":"User: hello there\nBot:"}`, "results.0.outputText", "echo: hello there"},
		{"cohere.command-text-v14", `{"prompt":"User: hello there\nChatbot:"}`, "generations.0.text", "echo: hello there"},
		{"ai21.j2-mid-v1", `{"prompt":"User: hello there\nAssistant:","maxTokens":2}`, "completions.0.data.text", "echo: hello"},
		{"anthropic.claude-instant-v1", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":[{"type":"text","text":"hello there"}]}]}`, "content.0.text", "echo: hello there"},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			status, out, hdr := invoke(t, srv, c.model, c.body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %v", status, out)
			}
			if got := dig(out, c.path); got != c.want {
				t.Errorf("%s = %v, want %q", c.path, got, c.want)
			}
			if hdr.Get("X-Amzn-Bedrock-Input-Token-Count") == "" || hdr.Get("X-Amzn-Bedrock-Output-Token-Count") == "" {
				t.Errorf("no token count headers: %v", hdr)
			}
		})
	}
}

func dig(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := int(k[0] - '0')
			if i >= len(x) {
				return nil
			}
			v = x[i]
		}
	}
	return v
}

// A stream is the family's native chunks in "chunk" events, the last
// carrying Bedrock's invocation metrics; a model that cannot stream says so.
func TestInvokeStream(t *testing.T) {
	_, srv := unsigned(t)
	resp := post(t, context.Background(), srv.URL+"/model/mistral.mixtral-8x7b-instruct-v0:1/invoke-with-response-stream", `{"prompt":"<s>[INST] one two three [/INST]"}`)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/vnd.amazon.eventstream" {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	frames, err := readFrames(t, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var last map[string]any
	for _, f := range frames {
		if f.kind() != "chunk" {
			t.Fatalf("frame %s", f.kind())
		}
		raw, _ := base64.StdEncoding.DecodeString(f.payload["bytes"].(string))
		last = nil
		if err := json.Unmarshal(raw, &last); err != nil {
			t.Fatal(err)
		}
		text.WriteString(dig(last, "outputs.0.text").(string))
	}
	if text.String() != "echo: one two three" || dig(last, "outputs.0.stop_reason") != "stop" {
		t.Errorf("streamed %q, last chunk %v", text.String(), last)
	}
	if m, ok := last["amazon-bedrock-invocationMetrics"].(map[string]any); !ok || m["outputTokenCount"] != 4.0 {
		t.Errorf("invocation metrics: %v", last)
	}

	resp = post(t, context.Background(), srv.URL+"/model/ai21.j2-ultra-v1/invoke-with-response-stream", `{"prompt":"hi"}`)
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), "unsupported for streaming") {
		t.Errorf("Jurassic-2 stream: %d %s", resp.StatusCode, raw)
	}
}

// Vectors are derived from the text: same text, same vector; the size and
// normalisation asked for; Cohere's input type changes the vector. Each
// number is a float32 in its shortest form, as Bedrock writes them.
func TestInvokeEmbeddings(t *testing.T) {
	_, srv := unsigned(t)
	vec := func(model, body, path string) []float64 {
		t.Helper()
		status, out, hdr := invoke(t, srv, model, body)
		if status != http.StatusOK || hdr.Get("X-Amzn-Bedrock-Input-Token-Count") == "" {
			t.Fatalf("status %d: %v", status, out)
		}
		var v []float64
		for _, f := range dig(out, path).([]any) {
			x := f.(float64)
			if short, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', -1, 32), 64); short != x {
				t.Fatalf("%s: %v is not a float32's shortest text", model, x)
			}
			v = append(v, x)
		}
		return v
	}
	a := vec("amazon.titan-embed-text-v2:0", `{"inputText":"the food was delicious","dimensions":256}`, "embedding")
	b := vec("amazon.titan-embed-text-v2:0", `{"inputText":"the food was delicious","dimensions":256}`, "embedding")
	c := vec("amazon.titan-embed-text-v2:0", `{"inputText":"the waiter was slow","dimensions":256}`, "embedding")
	// float32 values: unit length to float32 precision.
	if len(a) != 256 || !equal(a, b) || equal(a, c) || math.Abs(norm(a)-1) > 1e-6 {
		t.Errorf("titan v2: len %d, deterministic %v, distinct %v, norm %v", len(a), equal(a, b), !equal(a, c), norm(a))
	}
	if v1 := vec("amazon.titan-embed-text-v1", `{"inputText":"x"}`, "embedding"); len(v1) != 1536 {
		t.Errorf("titan v1: %d values", len(v1))
	}
	doc := vec("cohere.embed-english-v3", `{"texts":["x","y"],"input_type":"search_document"}`, "embeddings.1")
	query := vec("cohere.embed-english-v3", `{"texts":["x","y"],"input_type":"search_query"}`, "embeddings.1")
	if len(doc) != 1024 || equal(doc, query) {
		t.Errorf("cohere: %d values; input_type changes the vector: %v", len(doc), !equal(doc, query))
	}
	if v4 := vec("cohere.embed-v4:0", `{"texts":["x"],"input_type":"search_query","embedding_types":["float"],"output_dimension":512}`, "embeddings.float.0"); len(v4) != 512 {
		t.Errorf("cohere v4: %d values", len(v4))
	}
	// A size asked for once is not the default for the calls after it.
	if v2 := vec("amazon.titan-embed-text-v2:0", `{"inputText":"x"}`, "embedding"); len(v2) != 1024 {
		t.Errorf("titan v2 after a 256-value call: %d values, want the default 1024", len(v2))
	}
	if v4 := vec("cohere.embed-v4:0", `{"texts":["x"],"input_type":"search_query","embedding_types":["float"]}`, "embeddings.float.0"); len(v4) != 1536 {
		t.Errorf("cohere v4 after a 512-value call: %d values, want the default 1536", len(v4))
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func norm(v []float64) float64 {
	var s float64
	for _, f := range v {
		s += f * f
	}
	return math.Sqrt(s)
}

// Images are real PNGs of the size asked for; the seed changes the pixels.
func TestInvokeImages(t *testing.T) {
	_, srv := unsigned(t)
	decode := func(b64 string) image.Image {
		t.Helper()
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	sdxl := func(seed int) (image.Image, string) {
		status, out, _ := invoke(t, srv, "stability.stable-diffusion-xl-v1", `{"text_prompts":[{"text":"A cute baby sea otter"}],"width":1152,"height":896,"seed":`+itoa(seed)+`}`)
		if status != http.StatusOK {
			t.Fatalf("status %d: %v", status, out)
		}
		b64 := dig(out, "artifacts.0.base64").(string)
		return decode(b64), b64
	}
	img, a := sdxl(30)
	_, b := sdxl(30)
	_, c := sdxl(31)
	if img.Bounds().Dx() != 1152 || img.Bounds().Dy() != 896 || a != b || a == c {
		t.Errorf("sdxl: %v; same seed same image %v; other seed other image %v", img.Bounds(), a == b, a != c)
	}
	// SDXL 0.8 makes the beta's sizes, 512x512 when none is given.
	for _, tc := range []struct {
		body string
		w, h int
	}{
		{`{"text_prompts":[{"text":"otter"}],"width":128,"height":512,"seed":30}`, 128, 512},
		{`{"text_prompts":[{"text":"otter"}],"width":896,"height":512}`, 896, 512},
		{`{"text_prompts":[{"text":"otter"}]}`, 512, 512},
	} {
		status, out, _ := invoke(t, srv, "stability.stable-diffusion-xl-v0", tc.body)
		if status != http.StatusOK {
			t.Fatalf("sdxl 0.8 %s: %d %v", tc.body, status, out)
		}
		if img := decode(dig(out, "artifacts.0.base64").(string)); img.Bounds().Dx() != tc.w || img.Bounds().Dy() != tc.h {
			t.Errorf("sdxl 0.8 %s: image %v", tc.body, img.Bounds())
		}
	}
	status, out, _ := invoke(t, srv, "amazon.nova-canvas-v1:0", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"otter"},"imageGenerationConfig":{"numberOfImages":2,"width":512,"height":320}}`)
	if status != http.StatusOK || len(out["images"].([]any)) != 2 {
		t.Fatalf("nova canvas: %d %v", status, out)
	}
	if got := decode(out["images"].([]any)[1].(string)).Bounds(); got.Dx() != 512 || got.Dy() != 320 {
		t.Errorf("nova canvas size %v", got)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
