package server

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/strata-gateway/strata/internal/openai"
)

// sseWriter writes server-sent events and flushes each one as it is
// written: a token must reach the client when Bedrock sends it.
type sseWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	buf  bytes.Buffer
	enc  *json.Encoder
	line []byte // a chunk's event, reused
	err  error
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	s.enc = json.NewEncoder(&s.buf)
	s.enc.SetEscapeHTML(false)
	return s
}

func (s *sseWriter) start() {
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
	s.err = s.rc.Flush()
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
	return s.write(s.line)
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
	return s.write(s.buf.Bytes())
}

func (s *sseWriter) write(b []byte) error {
	if s.err != nil {
		return s.err
	}
	if _, err := s.w.Write(b); err != nil {
		s.err = err
		return err
	}
	s.err = s.rc.Flush()
	return s.err
}

// failed reports whether writing to the client failed (it went away).
func (s *sseWriter) failed() bool { return s.err != nil }

// error ends a stream that fails after it started: OpenAI's SDKs raise an
// "error" data event as an API error.
func (s *sseWriter) error(e *openai.Error) { _ = s.data(e.Body()) }

var doneEvent = []byte("data: [DONE]\n\n")

func (s *sseWriter) done() error { return s.write(doneEvent) }
