package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Model ids the upstream answers; the id in the request path picks how a
// stream is paced, so one Strata config can drive every scenario.
const (
	modelFast  = "bench-fast"  // streams sent as fast as they can be written
	modelPaced = "bench-paced" // one event every pacedInterval: shows batching
	modelSlow  = "bench-slow"  // one event every slowInterval: holds streams open
)

const (
	streamEvents  = 50
	pacedInterval = 20 * time.Millisecond
	slowInterval  = time.Second
)

// converseAnswer is the fixed Converse answer: a short reply of the size a
// chat answer typically has.
var converseAnswer = []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"The sea is wide, the sky is high; between them sails a gull gone by."}]}},"stopReason":"end_turn","usage":{"inputTokens":25,"outputTokens":18,"totalTokens":43},"metrics":{"latencyMs":420}}`)

// upstream is a fixed-answer Bedrock runtime: Converse JSON and
// ConverseStream eventstream frames, byte for byte what Bedrock sends, with
// no signature check and nothing recorded, so it costs as little as a Go
// HTTP server can. The emulator records every call and checks signatures,
// which is right for tests and wrong for a load benchmark.
type upstream struct {
	frames [][]byte // one encoded eventstream message per stream event
}

func newUpstream() (*upstream, error) {
	frames, err := encodeStreamFrames(streamEvents)
	if err != nil {
		return nil, err
	}
	return &upstream{frames: frames}, nil
}

// encodeStreamFrames encodes a ConverseStream answer of n events: the
// message start, text deltas, the block stop, the message stop and the
// metadata. Payloads carry the "p" padding field Bedrock adds.
func encodeStreamFrames(n int) ([][]byte, error) {
	const pad = `"p":"abcdefghijklmnopqrstuvwxyzABCDEFGH"`
	words := strings.Fields("the sea is wide and the sky is high between them sails a gull gone by")
	type event struct{ typ, payload string }
	events := []event{{"messageStart", `{"role":"assistant",` + pad + `}`}}
	for i := 0; len(events) < n-3; i++ {
		events = append(events, event{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":" ` + words[i%len(words)] + `"},` + pad + `}`})
	}
	events = append(events,
		event{"contentBlockStop", `{"contentBlockIndex":0,` + pad + `}`},
		event{"messageStop", `{"stopReason":"end_turn",` + pad + `}`},
		event{"metadata", `{"usage":{"inputTokens":25,"outputTokens":46,"totalTokens":71},"metrics":{"latencyMs":420},` + pad + `}`},
	)
	enc := eventstream.NewEncoder()
	frames := make([][]byte, 0, len(events))
	for _, ev := range events {
		var msg eventstream.Message
		msg.Headers.Set(":event-type", eventstream.StringValue(ev.typ))
		msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		msg.Payload = []byte(ev.payload)
		var buf bytes.Buffer
		if err := enc.Encode(&buf, msg); err != nil {
			return nil, fmt.Errorf("encode %s frame: %w", ev.typ, err)
		}
		frames = append(frames, buf.Bytes())
	}
	return frames, nil
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Bedrock reads the whole request before it answers.
	_, _ = io.Copy(io.Discard, r.Body)
	rest, ok := strings.CutPrefix(r.URL.Path, "/model/")
	model, op, _ := strings.Cut(rest, "/")
	if !ok || r.Method != http.MethodPost {
		op = ""
	}
	h := w.Header()
	h["X-Amzn-Requestid"] = []string{"00000000-0000-4000-8000-000000000000"}
	switch op {
	case "converse":
		h["Content-Type"] = []string{"application/json"}
		_, _ = w.Write(converseAnswer)
	case "converse-stream":
		var interval time.Duration
		switch model {
		case modelPaced:
			interval = pacedInterval
		case modelSlow:
			interval = slowInterval
		}
		h["Content-Type"] = []string{"application/vnd.amazon.eventstream"}
		u.stream(w, r.Context(), interval)
	default:
		h["Content-Type"] = []string{"application/json"}
		h["X-Amzn-Errortype"] = []string{"UnknownOperationException"}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":null}`))
	}
}

// stream writes the frames, flushing each, interval apart.
func (u *upstream) stream(w http.ResponseWriter, ctx context.Context, interval time.Duration) {
	rc := http.NewResponseController(w)
	var tick *time.Ticker
	if interval > 0 {
		tick = time.NewTicker(interval)
		defer tick.Stop()
	}
	for i, f := range u.frames {
		if i > 0 && tick != nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
		if _, err := w.Write(f); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// runUpstream serves the upstream until its standard input closes, which
// happens when the bench that started it exits, however it exits. The
// address goes to standard output.
func runUpstream(args []string) error {
	fs := flag.NewFlagSet("bench upstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := newUpstream()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: u, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
