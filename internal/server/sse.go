package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"

	"github.com/strata-gateway/strata/internal/openai"
)

// sseWriter writes server-sent events. Events are buffered until flush,
// which the relay calls whenever it is about to wait for Bedrock: a token
// reaches the client as soon as nothing else is at hand, and the events of
// a burst that arrived together go out in one write.
type sseWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	buf   bytes.Buffer
	enc   *json.Encoder
	line  []byte // a chunk's event, reused
	dirty bool   // written since the last flush
	err   error
}

// init sets s to write to w.
func (s *sseWriter) init(w http.ResponseWriter) {
	s.w, s.rc = w, http.NewResponseController(w)
	s.enc = json.NewEncoder(&s.buf)
	s.enc.SetEscapeHTML(false)
}

func (s *sseWriter) start() {
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
	s.dirty = true // the headers go out with the first flush
}

// chunk writes one chat chunk as a data event. Chunks are the hot path of
// a stream, so they are encoded without reflection.
func (s *sseWriter) chunk(c *openai.ChatChunk) error {
	if s.err != nil {
		return s.err
	}
	s.line = append(s.line[:0], "data: "...)
	s.line = c.AppendJSON(s.line)
	s.line = append(s.line, '\n', '\n')
	return s.put(s.line)
}

func (s *sseWriter) data(v any) error {
	if s.err != nil {
		return s.err
	}
	s.buf.Reset()
	s.buf.WriteString("data: ")
	if err := s.enc.Encode(v); err != nil { // Encode ends the line
		return err
	}
	s.buf.WriteByte('\n')
	return s.put(s.buf.Bytes())
}

// put writes an event without flushing it.
func (s *sseWriter) put(b []byte) error {
	if s.err != nil {
		return s.err
	}
	if _, err := s.w.Write(b); err != nil {
		s.err = err
		return err
	}
	s.dirty = true
	return nil
}

// flush sends what was put since the last flush.
func (s *sseWriter) flush() {
	if s.dirty && s.err == nil {
		s.dirty = false
		s.err = s.rc.Flush()
	}
}

// failed reports whether writing to the client failed (it went away, or
// stopped reading for longer than the write timeout).
func (s *sseWriter) failed() bool { return s.err != nil }

// logClientGone says why a stream ended without its client: it went away,
// or it stopped reading and a write waited longer than the timeout.
func logClientGone(log *slog.Logger, sse *sseWriter, err error) {
	if errors.Is(sse.err, os.ErrDeadlineExceeded) {
		log.Info("client stopped reading the stream: cut after general_settings.stream_write_timeout", "error", err.Error())
		return
	}
	log.Info("client closed the stream", "error", err.Error())
}

// error ends a stream that fails after it started: OpenAI's SDKs raise an
// "error" data event as an API error.
func (s *sseWriter) error(e *openai.Error) {
	_ = s.data(e.Body())
	s.flush()
}

var doneEvent = []byte("data: [DONE]\n\n")

// done ends the stream. The last event is not flushed here: net/http sends
// it with the end of the chunked body when the handler returns, in one
// write instead of two.
func (s *sseWriter) done() error { return s.put(doneEvent) }
