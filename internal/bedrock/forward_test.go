package bedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

func eventFrames(t *testing.T, events [][2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, ev := range events {
		var msg eventstream.Message
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		msg.Headers.Set(":event-type", eventstream.StringValue(ev[0]))
		msg.Payload = []byte(ev[1])
		if err := enc.Encode(&buf, msg); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func chunkPayload(anthropicEvent string) string {
	b, _ := json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString([]byte(anthropicEvent))})
	return string(b)
}

// The usage of a passed-through stream is found however the bytes are cut.
func TestUsageTapInPieces(t *testing.T) {
	cases := []struct {
		name   string
		frames []byte
		want   [4]int // input, output, cache read, cache write
	}{
		{"converse-stream", eventFrames(t, [][2]string{
			{"messageStart", `{"role":"assistant"}`},
			{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"hi"}}`},
			{"messageStop", `{"stopReason":"end_turn"}`},
			{"metadata", `{"usage":{"inputTokens":12,"outputTokens":3,"totalTokens":25,"cacheReadInputTokens":10},"metrics":{"latencyMs":5}}`},
		}), [4]int{12, 3, 10, 0}},
		{"invoke-with-response-stream", eventFrames(t, [][2]string{
			{"chunk", chunkPayload(`{"type":"message_start","message":{"usage":{"input_tokens":7,"cache_creation_input_tokens":4,"output_tokens":1}}}`)},
			{"chunk", chunkPayload(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}`)},
			{"chunk", chunkPayload(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}`)},
			{"chunk", chunkPayload(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":7,"outputTokenCount":9}}`)},
		}), [4]int{7, 9, 0, 4}},
	}
	for _, c := range cases {
		for _, size := range []int{len(c.frames), 1, 7, 100} {
			var tap UsageTap
			for rest := c.frames; len(rest) > 0; {
				n := min(size, len(rest))
				if _, err := tap.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			got := [4]int{tap.Input, tap.Output, tap.CacheRead, tap.CacheWrite}
			if !tap.Found || got != c.want {
				t.Errorf("%s in pieces of %d: found %v, usage %v, want %v", c.name, size, tap.Found, got, c.want)
			}
		}
	}
}
