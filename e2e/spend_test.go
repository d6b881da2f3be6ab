package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
)

// spendConfig serves a priced chat model, an embedding and an image model,
// a model with a price of its own and one nobody knows the price of, with
// extra appended to the file.
func spendConfig(endpoint, extra string) string {
	entry := func(name, model, more string) string {
		return fmt.Sprintf(`  - model_name: %s
    litellm_params:
      model: %s
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %s
%s`, name, model, endpoint, more)
	}
	return "model_list:\n" +
		entry("bedrock-claude", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", "") +
		entry("titan-embed", "bedrock/amazon.titan-embed-text-v1", "") +
		entry("sdxl", "bedrock/stability.stable-diffusion-xl-v1", "") +
		entry("own-price", "bedrock/qwen.qwen3-32b-v1:0", "      input_cost_per_token: 0.001\n      output_cost_per_token: 0.002\n") +
		entry("no-price", "bedrock/qwen.qwen3-coder-30b-a3b-v1:0", "") +
		extra
}

// costOf reads the cost header as a number.
func costOf(t *testing.T, h http.Header) float64 {
	t.Helper()
	v := h.Get("X-Litellm-Response-Cost")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("x-litellm-response-cost = %q", v)
	}
	return f
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

// Every answered request carries what it cost, priced from Bedrock's usage.
func TestResponseCost(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, spendConfig(endpoint, ""), seedEnv...)
	client := g.client()

	t.Run("chat", func(t *testing.T) {
		var resp *http.Response
		out, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		want := float64(out.Usage.PromptTokens)*3e-6 + float64(out.Usage.CompletionTokens)*15e-6
		if got := costOf(t, resp.Header); !near(got, want) || want == 0 {
			t.Errorf("cost %v, want %v for %+v", got, want, out.Usage)
		}
	})
	t.Run("cache tokens", func(t *testing.T) {
		em.Script(emulator.Script{Response: scriptedAnswer("cached", bedrock.TokenUsage{
			InputTokens: 10, OutputTokens: 5, CacheReadInputTokens: 1000, CacheWriteInputTokens: 200, TotalTokens: 1215})})
		var resp *http.Response
		out, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		want := 10*3e-6 + 1000*0.3e-6 + 200*3.75e-6 + 5*15e-6
		if got := costOf(t, resp.Header); !near(got, want) {
			t.Errorf("cost %v, want %v (usage %+v)", got, want, out.Usage)
		}
	})
	t.Run("price set in the config", func(t *testing.T) {
		var resp *http.Response
		out, err := client.Chat.Completions.New(ctxTimeout(t), hi("own-price"), option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		want := float64(out.Usage.PromptTokens)*0.001 + float64(out.Usage.CompletionTokens)*0.002
		if got := costOf(t, resp.Header); !near(got, want) {
			t.Errorf("cost %v, want %v", got, want)
		}
	})
	t.Run("unknown price", func(t *testing.T) {
		var resp *http.Response
		if _, err := client.Chat.Completions.New(ctxTimeout(t), hi("no-price"), option.WithResponseInto(&resp)); err != nil {
			t.Fatal(err)
		}
		if got := costOf(t, resp.Header); got != 0 {
			t.Errorf("cost %v for a model without a price", got)
		}
	})
	t.Run("embeddings", func(t *testing.T) {
		var resp *http.Response
		out, err := client.Embeddings.New(ctxTimeout(t), openai.EmbeddingNewParams{
			Model: "titan-embed", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one text", "and another"}},
		}, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := costOf(t, resp.Header), float64(out.Usage.PromptTokens)*0.1e-6; !near(got, want) || want == 0 {
			t.Errorf("cost %v, want %v", got, want)
		}
	})
	t.Run("images", func(t *testing.T) {
		var resp *http.Response
		_, err := client.Images.Generate(ctxTimeout(t), openai.ImageGenerateParams{
			Model: "sdxl", Prompt: "an otter", N: openai.Int(2), Size: "1024x1024",
		}, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if got := costOf(t, resp.Header); !near(got, 0.08) {
			t.Errorf("two SDXL images cost %v, want 0.08", got)
		}
	})
	t.Run("stream without include_usage", func(t *testing.T) {
		em.Script(emulator.Script{Response: scriptedAnswer("streamed", bedrock.TokenUsage{InputTokens: 11, OutputTokens: 7, TotalTokens: 18})})
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(
			`{"model":"bedrock-claude","stream":true,"messages":[{"role":"user","content":"count the tokens of this stream"}]}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(body), `"usage"`) {
			t.Errorf("the client did not ask for usage but got it:\n%s", body)
		}
		// The cost comes as a trailer: the headers left before the usage was known.
		v := resp.Trailer.Get("X-Litellm-Response-Cost")
		got, err := strconv.ParseFloat(v, 64)
		want := 11*3e-6 + 7*15e-6
		if err != nil || !near(got, want) {
			t.Errorf("stream cost trailer %q, want %v", v, want)
		}
	})
	t.Run("responses", func(t *testing.T) {
		status, raw, h := g.post(t, "/v1/responses", `{"model":"bedrock-claude","input":"hi","store":false}`)
		var out struct {
			Usage struct {
				InputTokens  int `json:"input_tokens"`
				OutputTokens int `json:"output_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(raw, &out); status != 200 || err != nil {
			t.Fatalf("%d %s", status, raw)
		}
		want := float64(out.Usage.InputTokens)*3e-6 + float64(out.Usage.OutputTokens)*15e-6
		if got := costOf(t, h); !near(got, want) || want == 0 {
			t.Errorf("cost %v, want %v", got, want)
		}
	})
	t.Run("unknown prices listed at startup", func(t *testing.T) {
		n := strings.Count(g.logs.String(), "no price is known for")
		if n != 1 || !strings.Contains(g.logs.String(), "no price is known for no-price#1:") {
			t.Errorf("startup warning about unpriced models (%d lines):\n%s", n, g.logs)
		}
	})
}

// scriptedAnswer is a Converse answer with the given text and usage.
func scriptedAnswer(text string, u bedrock.TokenUsage) bedrock.ConverseResponse {
	var out bedrock.ConverseResponse
	raw := fmt.Sprintf(`{"output":{"message":{"role":"assistant","content":[{"text":%q}]}},"stopReason":"end_turn"}`, text)
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		panic(err)
	}
	out.Usage = u
	return out
}

// requestLine waits for the access log line of the request with id.
func requestLine(t *testing.T, g *gateway, id string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(g.logs.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "request" && rec["request_id"] == id {
				return rec
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request line for %s:\n%s", id, g.logs)
		}
	}
}

// A stream the client abandons is costed for what was produced: Bedrock
// never reported its usage, so the tokens are estimated from the text.
func TestAbandonedStreamIsCosted(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, spendConfig(endpoint, ""), seedEnv...)
	em.Fault(emulator.Fault{Kind: emulator.FaultStreamStall, AfterEvents: 4})
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(
		`{"model":"bedrock-claude","stream":true,"messages":[{"role":"user","content":"a long answer, please"}]}`))
	req.Header.Set("X-Request-Id", "abandoned-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.Contains(sc.Text(), `"content":"`) {
	}
	resp.Body.Close() // the client goes away mid-answer
	line := requestLine(t, g, "abandoned-stream")
	if cost, _ := line["cost"].(float64); cost <= 0 || line["cost_estimated"] != true {
		t.Errorf("abandoned stream logged cost %v, estimated %v", line["cost"], line["cost_estimated"])
	}
}

// litellm_settings.max_budget stops the gateway once it has spent it:
// LiteLLM's budget_exceeded error, and nothing reaches Bedrock.
func TestGatewayBudget(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, spendConfig(endpoint, "litellm_settings:\n  max_budget: 0.0001\n  budget_duration: 30d\n"), seedEnv...)
	client := g.client()
	spent := 0.0
	for spent < 0.0001 {
		var resp *http.Response
		if _, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), option.WithResponseInto(&resp)); err != nil {
			t.Fatalf("after spending %v: %v", spent, err)
		}
		spent += costOf(t, resp.Header)
		// The spend is counted once the request ends, after its answer is out.
		requestLine(t, g, resp.Header.Get("X-Request-Id"))
	}
	calls := len(em.Calls())
	status, raw, _ := g.post(t, "/v1/chat/completions", `{"model":"bedrock-claude","messages":[{"role":"user","content":"hi"}]}`)
	msg, typ, _, code := errorBody(t, raw)
	if status != 400 || typ != "budget_exceeded" || code == nil || *code != "400" ||
		!strings.HasPrefix(msg, "Budget has been exceeded! Gateway (litellm_settings.max_budget) Current cost: ") {
		t.Errorf("over budget: %d %s", status, raw)
	}
	if len(em.Calls()) != calls {
		t.Error("a request over budget reached Bedrock")
	}
}

// gate holds every call to Bedrock until release is closed, and says on
// arrived when one comes in.
type gate struct {
	next    http.Handler
	arrived chan struct{}
	release chan struct{}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.arrived <- struct{}{}
	<-g.release
	g.next.ServeHTTP(w, r)
}

// Fifty requests racing on a budget smaller than one request's cost: all
// are admitted while nothing is spent yet, so they overshoot it by what was
// in flight; once they have ended, every request is refused and none
// reaches Bedrock.
func TestConcurrentRequestsOnATinyBudget(t *testing.T) {
	em := emulator.New(emulator.Options{Keys: map[string]emulator.Key{testAccessKey: {Secret: testSecretKey}}, Region: testRegion})
	gt := &gate{next: em, arrived: make(chan struct{}, 100), release: make(chan struct{})}
	srv := httptest.NewServer(gt)
	t.Cleanup(srv.Close)
	g := startGateway(t, spendConfig(srv.URL, "litellm_settings:\n  max_budget: 0.00000001\n"), seedEnv...)
	raceOnTinyBudget(t, g, gt, em, func() (int, []byte, http.Header) {
		return g.post(t, "/v1/chat/completions", `{"model":"bedrock-claude","messages":[{"role":"user","content":"hi"}]}`)
	})
}

// raceOnTinyBudget sends two waves of fifty concurrent requests on a
// budget smaller than one request's cost. The first wave is held at
// Bedrock until all fifty have arrived: each was admitted while nothing was
// spent, so all are served (the overshoot is what was in flight). Once they
// have ended, the second wave is refused whole, and none of it reaches
// Bedrock.
func raceOnTinyBudget(t *testing.T, g *gateway, gt *gate, em *emulator.Emulator, send func() (int, []byte, http.Header)) {
	t.Helper()
	wave := func(held bool) (ok, refused int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, raw, h := send()
				mu.Lock()
				defer mu.Unlock()
				switch {
				case status == 200:
					ok++
					requestLine(t, g, h.Get("X-Request-Id")) // its spend is counted
				case status == 400 && strings.Contains(string(raw), `"budget_exceeded"`):
					refused++
				default:
					t.Errorf("status %d: %s", status, raw)
				}
			}()
		}
		if held {
			for range 50 { // every request admitted and at Bedrock before any ends
				<-gt.arrived
			}
			close(gt.release)
		}
		wg.Wait()
		return ok, refused
	}
	if ok, refused := wave(true); ok != 50 || refused != 0 {
		t.Fatalf("first wave: %d served, %d refused; want all 50 admitted before anything was spent", ok, refused)
	}
	if ok, refused := wave(false); ok != 0 || refused != 50 || len(em.Calls()) != 50 {
		t.Errorf("second wave: %d served, %d refused; Bedrock got %d calls in all, want 50", ok, refused, len(em.Calls()))
	}
}
