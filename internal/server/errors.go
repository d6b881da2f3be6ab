package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/aws/smithy-go"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/keys"
	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/translate"
)

// clientError turns any error into the one the client sees. Only errors
// meant for clients keep their message; anything else becomes a generic
// message so internal details (and anything secret) stay in the logs.
func clientError(err error) *openai.Error {
	if errors.Is(err, ErrShuttingDown) {
		return shutdownError(err)
	}
	var oe *openai.Error
	if errors.As(err, &oe) {
		return oe
	}
	var budget *limits.BudgetExceeded
	if errors.As(err, &budget) {
		return budget.ClientError()
	}
	var rate *limits.Exceeded
	if errors.As(err, &rate) {
		return rate.ClientError()
	}
	var authErr *auth.Error
	if errors.As(err, &authErr) {
		return authError(authErr)
	}
	var adminErr *keys.Error
	if errors.As(err, &adminErr) {
		return adminError(adminErr)
	}
	var ae *bedrock.APIError
	if errors.As(err, &ae) {
		return translate.ErrorFromBedrock(ae)
	}
	var be *bodyError
	if errors.As(err, &be) {
		typ := openai.TypeInvalidRequest
		if be.status == http.StatusRequestTimeout {
			typ = openai.TypeTimeout
		}
		return &openai.Error{Status: be.status, Type: typ, Code: be.code, Message: be.msg, Err: err}
	}
	var shed *shedError
	if errors.As(err, &shed) {
		return &openai.Error{Status: http.StatusServiceUnavailable, Type: openai.TypeUnavailable, Code: "gateway_overloaded",
			Message: shed.message, Err: err}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &openai.Error{Status: http.StatusRequestEntityTooLarge, Type: openai.TypeInvalidRequest, Code: "request_too_large",
			Message: "request body is larger than the limit of " + formatBytes(mbe.Limit) + " (general_settings.max_request_size_mb)", Err: err}
	}
	var ce *bedrock.CredentialsError
	if errors.As(err, &ce) {
		var refusal smithy.APIError
		if errors.As(err, &refusal) {
			if oe, ok := translate.ErrorFromCredentialsRefusal(refusal.ErrorCode(), err); ok {
				return oe
			}
		}
		return &openai.Error{Status: http.StatusInternalServerError, Type: openai.TypeServer, Code: "aws_credentials_unavailable",
			Message: "the gateway could not obtain AWS credentials for this model; see the gateway's log", Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &openai.Error{Status: http.StatusGatewayTimeout, Type: openai.TypeTimeout, Code: "timeout",
			Message: "Bedrock did not answer in time", Err: err}
	}
	var te *bedrock.TransportError
	if errors.As(err, &te) {
		return &openai.Error{Status: http.StatusBadGateway, Type: openai.TypeAPI, Code: "bedrock_unreachable",
			Message: "the gateway could not reach Bedrock; see the gateway's log", Err: err}
	}
	if errors.Is(err, bedrock.ErrStreamTruncated) {
		return &openai.Error{Status: http.StatusBadGateway, Type: openai.TypeAPI, Code: "stream_truncated",
			Message: "Bedrock's stream ended before the answer was complete", Err: err}
	}
	return &openai.Error{Status: http.StatusInternalServerError, Type: openai.TypeServer, Code: "internal_error",
		Message: "internal error; see the gateway's log", Err: err}
}

// errorShape is how one client surface writes an error: its status and
// body (OpenAI's {"error":{...}}, Anthropic's, Bedrock's own for the AWS
// SDKs), and any header of its own, set on h.
type errorShape func(h http.Header, err error) (status int, body any)

// openAIShape is the error shape of the OpenAI routes, and the default.
func openAIShape(_ http.Header, err error) (int, any) {
	ce := clientError(err)
	return ce.Status, ce.Body()
}

// writeError writes an error on the OpenAI routes.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	writeShapedError(w, r, log, err, openAIShape)
}

// writeShapedError is the one place an error becomes an HTTP answer, in
// the shape of the surface the request came to. What every surface does
// alike is here: the record and log line, the client gone away, the
// headers of a refusal.
func writeShapedError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, shape errorShape) {
	err = asShutdownCut(r, err)
	recordFrom(r.Context()).err = err
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil && !errors.Is(err, ErrShuttingDown) {
		// The client went away; nobody is left to answer.
		log.Info("client closed the request", "path", r.URL.Path)
		return
	}
	status, body := shape(w.Header(), err)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	setLimitHeaders(w.Header(), err)
	if noteRefusal(w, r, err) {
		level = slog.LevelWarn
	}
	log.Log(r.Context(), level, "request failed", "status", status, "error", err.Error())
	writeJSON(w, status, body)
}

// setLimitHeaders says when a request refused for a limit may come back:
// Retry-After, and the x-ratelimit-* headers where the limiter refused it.
// Every surface sends them, whatever shape its error body takes.
func setLimitHeaders(h http.Header, err error) {
	var limit *router.LimitError
	if errors.As(err, &limit) {
		h.Set("Retry-After", router.RetryAfterSeconds(limit.RetryAfter()))
	}
	var rate *limits.Exceeded
	if errors.As(err, &rate) {
		rate.SetHeaders(h)
	}
}

// writeJSON writes v as the whole answer: encoded first, so that the
// answer carries its length and goes out in one write, and so that a value
// that cannot be encoded becomes a 500 rather than a cut-off 200. The
// answer is sent at once, ahead of the access log and other bookkeeping
// still to run before the handler returns.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer releaseJSONBuffer(buf)
	if a, ok := v.(jsonAppender); ok {
		buf.Write(append(a.AppendJSON(buf.AvailableBuffer()), '\n'))
	} else if err := encodeJSON(buf, v); err != nil {
		buf.Reset()
		status = http.StatusInternalServerError
		_ = json.NewEncoder(buf).Encode((&openai.Error{Status: status, Type: openai.TypeServer, Code: "internal_error",
			Message: "the gateway could not encode its answer: " + err.Error()}).Body())
	}
	w.Header()["Content-Type"] = jsonContentType
	setHeader(w, "Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	_ = http.NewResponseController(w).Flush()
}

// jsonAppender is an answer that encodes itself as encoding/json would,
// without reflection.
type jsonAppender interface{ AppendJSON([]byte) []byte }

func encodeJSON(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // as OpenAI sends text: "<" stays "<"
	return enc.Encode(v)
}

var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledJSON keeps the buffers of large answers (embeddings, images)
// out of the pool.
const maxPooledJSON = 64 << 10

func releaseJSONBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledJSON {
		b.Reset()
		jsonBuffers.Put(b)
	}
}

func formatBytes(n int64) string {
	const mb = 1 << 20
	if n%mb == 0 {
		return strconv.FormatInt(n/mb, 10) + " MB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// writeRawJSON writes a JSON answer already encoded, such as Bedrock's own.
func writeRawJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	_ = http.NewResponseController(w).Flush()
}

// noteRefusal sets what the answer to a request refused before its body
// was used needs, whatever shape the answer takes, and notes the refusal
// for the metrics. It reports whether the refusal is load shedding: the
// gateway working as configured, not failing, so logged at WARN.
func noteRefusal(w http.ResponseWriter, r *http.Request, err error) (shedding bool) {
	rec := recordFrom(r.Context())
	var (
		shed *shedError
		be   *bodyError
		mbe  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &shed):
		rec.refused = shed.reason
		w.Header().Set("Retry-After", shedRetryAfter)
		return true
	case errors.Is(err, ErrShuttingDown):
		// Retried elsewhere: the load balancer no longer sends here.
		w.Header().Set("Connection", "close")
		return true
	case errors.As(err, &be):
		rec.refused = be.code
	case errors.As(err, &mbe):
		rec.refused = "request_too_large"
	default:
		return false
	}
	// What is left of the body is never read: the connection cannot carry
	// another request.
	w.Header().Set("Connection", "close")
	return false
}
