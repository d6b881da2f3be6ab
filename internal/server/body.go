package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/strata-gateway/strata/internal/openai"
)

// decodeBody reads a JSON request body within the size limit and decodes
// it (see decodeJSON).
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	// The body must be JSON whatever Content-Type says: curl -d sends
	// form-urlencoded by default, and LiteLLM accepts that too.
	if len(bytes.TrimSpace(body)) == 0 {
		return openai.InvalidRequest("", "request body is empty; send a JSON object")
	}
	if s.settingsOf(r.Context()).StorePrompts {
		// Kept for the spend log, as general_settings.store_prompts_in_spend_logs asks.
		recordFrom(r.Context()).prompt = string(body[:min(len(body), maxStoredPrompt)])
	}
	if s.traceMessages {
		// Kept for the request's span, as callback_settings.otel.message_logging asks.
		recordFrom(r.Context()).gen.body = body[:min(len(body), maxStoredPrompt)]
	}
	return decodeJSON(body, v)
}

// maxStoredPrompt caps the request body kept in a spend log row.
const maxStoredPrompt = 1 << 20

// firstBodyStep is what an undeclared (chunked) body is first read into;
// the buffer doubles from there, up to the body limit.
const firstBodyStep = 64 << 10

// readBody reads the request body whole, into one buffer. A declared
// Content-Length over the limit is refused before any byte is read (and so
// before net/http sends "100 Continue"); an undeclared body is cut at the
// limit. The bytes are taken from the gateway's budget of body bytes in
// flight before they are read, and given back when the request ends. The
// whole body must arrive within the body timeout.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (_ []byte, err error) {
	settings := s.settingsOf(r.Context())
	maxBytes, timeout := settings.MaxRequestBytes, settings.RequestBodyTimeout
	if r.ContentLength > maxBytes {
		return nil, &http.MaxBytesError{Limit: maxBytes}
	}
	rec := recordFrom(r.Context())
	if timeout > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
			defer func() {
				// Cleared once the whole body is in: net/http goes on reading
				// the connection to notice a client that goes away. After a
				// failure it stays, so that net/http gives up on the rest of
				// the body at once and closes the connection.
				if err == nil {
					_ = rc.SetReadDeadline(time.Time{})
				}
			}()
		}
	}
	body := http.MaxBytesReader(w, r.Body, maxBytes)
	if r.ContentLength >= 0 {
		if !s.bodies.take(rec, r.ContentLength) {
			return nil, errBodiesFull
		}
		buf := make([]byte, r.ContentLength)
		if _, err = io.ReadFull(body, buf); err != nil {
			return nil, bodyReadError(err, timeout)
		}
		return buf, nil
	}
	// The last step is one byte over the limit, so that the limit itself
	// is reached with room to tell a body of exactly the limit from a longer one.
	step := min(firstBodyStep, maxBytes+1)
	if !s.bodies.take(rec, step) {
		return nil, errBodiesFull
	}
	buf := make([]byte, 0, step)
	for {
		if len(buf) == cap(buf) {
			grown := min(2*int64(cap(buf)), maxBytes+1)
			if !s.bodies.take(rec, grown-int64(cap(buf))) {
				return nil, errBodiesFull
			}
			next := make([]byte, len(buf), grown)
			copy(next, buf)
			buf = next
		}
		var n int
		n, err = body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			err = nil
			return buf, nil
		}
		if err != nil {
			return nil, bodyReadError(err, timeout)
		}
	}
}

// bodyError is a request body that could not be read: the client's fault
// (a malformed or truncated upload, one abandoned half way, or one too
// slow to arrive), never the gateway's.
type bodyError struct {
	status int
	code   string
	msg    string
	err    error
}

func (e *bodyError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

func bodyReadError(err error, timeout time.Duration) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &bodyError{status: http.StatusRequestTimeout, code: "request_timeout",
			msg: "the request body did not arrive within " + formatSeconds(timeout) + " (general_settings.request_body_timeout)", err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &bodyError{status: http.StatusBadRequest, code: "incomplete_body",
			msg: "the request body ended before it was complete", err: err}
	}
	return &bodyError{status: http.StatusBadRequest, code: "unreadable_body",
		msg: "the request body could not be read", err: err}
}

func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// bodyBudget bounds the request body bytes the gateway holds at once. A
// request whose body does not fit is refused at once rather than queued:
// memory stays within a small multiple of the budget whatever clients send.
type bodyBudget struct {
	limit int64 // 0: no bound
	used  atomic.Int64
}

// take reserves n bytes for the request rec belongs to, if they fit.
func (b *bodyBudget) take(rec *requestRecord, n int64) bool {
	for {
		used := b.used.Load()
		if b.limit > 0 && used+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			rec.bodyBytes += n
			return true
		}
	}
}

// release gives back what the request rec belongs to took.
func (b *bodyBudget) release(rec *requestRecord) {
	if rec.bodyBytes != 0 {
		b.used.Add(-rec.bodyBytes)
		rec.bodyBytes = 0
	}
}
