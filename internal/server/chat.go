package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/translate"
)

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) error {
	var req openai.ChatRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}
	d, err := s.router.Pick(req.Model)
	if err != nil {
		return err
	}
	if err := s.fetchRemoteImages(r.Context(), &req); err != nil {
		return err
	}
	log := loggerFrom(r.Context(), s.log).With("model", req.Model, "deployment", d.ID)
	meta := translate.ResponseMeta{
		ID:      "chatcmpl-" + rand.Text(),
		Created: s.now().Unix(),
		Model:   d.BaseModel,
	}
	answer, err := s.openChat(r.Context(), log, d, &req, meta)
	if err != nil {
		return err
	}
	if answer.completion != nil {
		writeJSON(w, http.StatusOK, answer.completion)
		return nil
	}
	defer answer.stream.Close()
	return s.relayChunks(w, r, log, answer.stream)
}

// chatAnswer is a deployment's answer, opened but not yet written: a whole
// completion, or a stream of chunks whose first event has not been read.
type chatAnswer struct {
	completion *openai.ChatCompletion
	stream     chunkStream
}

// chunkStream yields a streamed answer's chunks.
type chunkStream interface {
	// Next hands the next chunks to emit. It returns io.EOF once the answer
	// is complete, and an error if it broke off.
	Next(emit func(*openai.ChatChunk) error) error
	Close() error
}

// openChat translates the request for deployment d and calls Bedrock. It
// writes nothing to the client, so a failure here can still be answered
// with a real status (or retried elsewhere).
func (s *Server) openChat(ctx context.Context, log *slog.Logger, d *router.Deployment, req *openai.ChatRequest, meta translate.ResponseMeta) (chatAnswer, error) {
	if err := d.Serves(translate.APIChat); err != nil {
		return chatAnswer{}, err
	}
	if d.Invoke != nil {
		return s.openInvokeChat(ctx, log, d, req, meta)
	}
	call, err := translate.ConverseFromChat(req, d.Chat)
	if err != nil {
		return chatAnswer{}, err
	}
	translate.LogDropped(log, call.Dropped)
	meta.Answer = call.Answer
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	if !req.Stream || call.StreamFallback {
		resp, err := d.Client.Converse(ctx, d.ModelID, call.Request)
		if err != nil {
			return chatAnswer{}, err
		}
		if req.Stream {
			log.Debug("model cannot stream this request; replaying the whole answer as a stream")
			return chatAnswer{stream: newReplayChunks(resp, translate.NewChatStream(meta, includeUsage))}, nil
		}
		return chatAnswer{completion: translate.ChatFromConverse(resp, meta)}, nil
	}
	stream, err := d.Client.ConverseStream(ctx, d.ModelID, call.Request)
	if err != nil {
		return chatAnswer{}, err
	}
	return chatAnswer{stream: &converseChunks{upstream: stream, tr: translate.NewChatStream(meta, includeUsage)}}, nil
}

// replayChunks streams a whole answer, one synthesized event at a time.
type replayChunks struct {
	events []*bedrock.StreamEvent
	tr     *translate.ChatStream
}

func newReplayChunks(resp *bedrock.ConverseResponse, tr *translate.ChatStream) *replayChunks {
	r := &replayChunks{tr: tr}
	_ = translate.ReplayAsStream(resp, func(ev *bedrock.StreamEvent) error {
		r.events = append(r.events, ev)
		return nil
	})
	return r
}

func (r *replayChunks) Next(emit func(*openai.ChatChunk) error) error {
	if len(r.events) == 0 {
		return io.EOF
	}
	ev := r.events[0]
	r.events = r.events[1:]
	return r.tr.Event(ev, emit)
}

func (r *replayChunks) Close() error { return nil }

// converseChunks translates a ConverseStream as it is read.
type converseChunks struct {
	upstream *bedrock.Stream
	tr       *translate.ChatStream
	ev       bedrock.StreamEvent
}

func (c *converseChunks) Next(emit func(*openai.ChatChunk) error) error {
	err := c.upstream.Next(&c.ev)
	if err == io.EOF && !c.tr.Done() {
		return bedrock.ErrStreamTruncated
	}
	if err != nil {
		return err
	}
	return c.tr.Event(&c.ev, emit)
}

func (c *converseChunks) Close() error { return c.upstream.Close() }

// relayChunks writes a streamed answer as server-sent events, flushing each.
// Failures after the headers went out become an SSE error event.
func (s *Server) relayChunks(w http.ResponseWriter, r *http.Request, log *slog.Logger, stream chunkStream) error {
	sse := newSSEWriter(w)
	sse.start()
	for {
		err := stream.Next(sse.chunk)
		if err == nil {
			continue
		}
		if err == io.EOF {
			return sse.done()
		}
		if sse.failed() || r.Context().Err() != nil {
			// The client is gone; closing the stream cancels Bedrock.
			log.Info("client closed the stream", "error", err.Error())
			return nil
		}
		ce := clientError(err)
		log.Warn("stream failed after it started", "status", ce.Status, "error", err.Error())
		sse.error(ce)
		return nil
	}
}

// decodeBody reads a JSON request body within the size limit. Syntax and
// type errors become 400s that say where the problem is.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("read request body: %w", err)
	}
	// The body must be JSON whatever Content-Type says: curl -d sends
	// form-urlencoded by default, and LiteLLM accepts that too.
	if len(bytes.TrimSpace(body)) == 0 {
		return openai.InvalidRequest("", "request body is empty; send a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return decodeError(err)
	}
	return nil
}

func decodeError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return openai.InvalidRequest("", "request body is not valid JSON: %v (at byte %d)", se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return openai.InvalidRequest("", "request body must be a JSON object, not %s", te.Value)
		}
		return openai.InvalidRequest(field, "%s: expected %s, got %s", field, jsonTypeName(te.Type.Kind().String()), te.Value)
	}
	return openai.InvalidRequest("", "invalid request body: %v", err)
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	case "ptr":
		return "a value of another type"
	}
	return "a number"
}
