package server

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

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
	log := loggerFrom(r.Context(), s.log).With("model", req.Model, "deployment", d.ID)
	call, err := translate.ConverseFromChat(&req, d.Chat)
	if err != nil {
		return err
	}
	translate.LogDropped(log, call.Dropped)
	meta := translate.ResponseMeta{
		ID:      "chatcmpl-" + rand.Text(),
		Created: s.now().Unix(),
		Model:   d.BaseModel,
		Answer:  call.Answer,
	}
	if req.Stream {
		includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
		return s.streamChat(w, r, log, d, call, meta, includeUsage)
	}
	resp, err := d.Client.Converse(r.Context(), d.ModelID, call.Request)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, translate.ChatFromConverse(resp, meta))
	return nil
}

// streamChat relays a ConverseStream as server-sent events. The upstream
// stream is opened before any header is written, so an early failure still
// gets a real status; after that, failures become an SSE error event.
func (s *Server) streamChat(w http.ResponseWriter, r *http.Request, log *slog.Logger, d *router.Deployment,
	call *translate.ConverseCall, meta translate.ResponseMeta, includeUsage bool) error {
	stream, err := d.Client.ConverseStream(r.Context(), d.ModelID, call.Request)
	if err != nil {
		return err
	}
	defer stream.Close()

	sse := newSSEWriter(w)
	sse.start()
	tr := translate.NewChatStream(meta, includeUsage)
	emit := sse.chunk
	var ev bedrock.StreamEvent
	for {
		err := stream.Next(&ev)
		if err == io.EOF {
			if !tr.Done() {
				err = bedrock.ErrStreamTruncated
			} else {
				return sse.done()
			}
		}
		if err == nil {
			err = tr.Event(&ev, emit)
			if err == nil {
				continue
			}
			if sse.failed() {
				// The client is gone: the deferred Close cancels Bedrock.
				log.Info("client closed the stream", "error", err.Error())
				return nil
			}
		}
		if r.Context().Err() != nil {
			log.Info("client closed the stream")
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
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		return &openai.Error{Status: http.StatusUnsupportedMediaType, Type: openai.TypeInvalidRequest,
			Message: "Content-Type must be application/json, got " + ct}
	}
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
