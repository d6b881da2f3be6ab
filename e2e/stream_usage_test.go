package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// A client that does not ask for stream_options.include_usage gets no usage
// chunk and no chunk with empty choices, on the wire and in the SDK, on
// each of the three ways a stream is made: ConverseStream, a native
// InvokeModel stream, and a whole answer replayed as a stream. Bedrock
// reports usage on all three, so the gateway has it to leak. With
// include_usage the same request gets exactly one usage chunk, last.
func TestStreamUsageOnlyWhenAsked(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	models := [][2]string{
		{"converse", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"},
		{"invoke", "bedrock/cohere.command-text-v14"},
		{"replayed", "bedrock/ai21.j2-mid-v1"},
	}
	g := startGateway(t, modelsConfig(endpoint, models, ""), seedEnv...)
	wantOp := map[string]string{"converse": "ConverseStream", "invoke": "InvokeModelWithResponseStream", "replayed": "InvokeModel"}
	for _, m := range models {
		for _, includeUsage := range []bool{false, true} {
			name := m[0] + "/without include_usage"
			if includeUsage {
				name = m[0] + "/with include_usage"
			}
			t.Run(name, func(t *testing.T) {
				wire := &wireTap{}
				client := g.client(option.WithMiddleware(wire.middleware))
				params := openai.ChatCompletionNewParams{
					Model:     m[0],
					Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("count the usage")},
					MaxTokens: openai.Int(50),
				}
				if includeUsage {
					params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
				}
				stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), params)
				var acc openai.ChatCompletionAccumulator
				var sdkEmpty int
				for stream.Next() {
					c := stream.Current()
					acc.AddChunk(c)
					if len(c.Choices) == 0 {
						sdkEmpty++
					}
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
				if got := acc.Choices[0].Message.Content; !strings.Contains(got, "count the usage") {
					t.Errorf("streamed %q, want the emulator's echo", got)
				}
				if op := lastCall(t, em).Operation; op != wantOp[m[0]] {
					t.Errorf("Bedrock got %s, want %s", op, wantOp[m[0]])
				}

				events := wire.events(t)
				if len(events) < 3 || events[len(events)-1] != "[DONE]" {
					t.Fatalf("the stream must end with data: [DONE]; got %q", events)
				}
				var usageChunks, emptyChoices []int
				for i, data := range events[:len(events)-1] {
					var chunk struct {
						Choices []json.RawMessage `json:"choices"`
						Usage   json.RawMessage   `json:"usage"`
					}
					if err := json.Unmarshal([]byte(data), &chunk); err != nil {
						t.Fatalf("event %d: %v: %s", i, err, data)
					}
					if len(chunk.Usage) > 0 && string(chunk.Usage) != "null" {
						usageChunks = append(usageChunks, i)
					}
					if len(chunk.Choices) == 0 {
						emptyChoices = append(emptyChoices, i)
					}
				}
				last := len(events) - 2
				switch {
				case !includeUsage && (len(usageChunks) > 0 || len(emptyChoices) > 0 || sdkEmpty > 0):
					t.Errorf("not asked for usage, yet chunks %v carry usage and chunks %v have empty choices (the SDK saw %d):\n%s",
						usageChunks, emptyChoices, sdkEmpty, strings.Join(events, "\n"))
				case includeUsage && (len(usageChunks) != 1 || usageChunks[0] != last || len(emptyChoices) != 1 || emptyChoices[0] != last):
					t.Errorf("asked for usage: want one usage chunk with empty choices, last; got usage in %v, empty choices in %v:\n%s",
						usageChunks, emptyChoices, strings.Join(events, "\n"))
				case includeUsage && acc.Usage.CompletionTokens == 0:
					t.Errorf("usage chunk without Bedrock's counts: %+v", acc.Usage)
				}
			})
		}
	}
}

// wireTap keeps a copy of the response bodies the SDK reads, so a test sees
// the bytes on the wire besides what the SDK made of them.
type wireTap struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *wireTap) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	resp, err := next(req)
	if err == nil {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(resp.Body, w), resp.Body}
	}
	return resp, err
}

func (w *wireTap) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// events is the data of every SSE event read so far.
func (w *wireTap) events(t *testing.T) []string {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, ev := range strings.Split(strings.TrimSpace(w.buf.String()), "\n\n") {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok {
			t.Fatalf("SSE event without data: %q", ev)
		}
		out = append(out, data)
	}
	return out
}
