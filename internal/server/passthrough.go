package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/spend"
)

// The Bedrock pass-through serves AWS SDKs (and Claude Code in Bedrock
// mode) pointed at {gateway}/bedrock: /bedrock/model/{modelId}/{operation}
// is forwarded byte for byte to the deployment the model id names, signed
// again with that deployment's credentials, region and endpoint, and
// Bedrock's answer (eventstream included) goes back as it came. The
// client's own AWS signature is never checked or forwarded: the gateway's
// key (x-api-key or x-litellm-api-key) is what authenticates it.

const passthroughPrefix = "/bedrock/model/"

// passthrough serves POST /bedrock/model/{modelId}/{operation}.
func (s *Server) passthrough(w http.ResponseWriter, r *http.Request) error {
	modelID, operation, err := passthroughTarget(r.URL.EscapedPath())
	if err != nil {
		return err
	}
	name, err := s.passthroughModel(modelID)
	if err != nil {
		return err
	}
	if err := auth.CheckModel(r.Context(), name); err != nil {
		return err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	stream := operation == "converse-stream" || operation == "invoke-with-response-stream"
	rec := recordFrom(r.Context())
	rec.model, rec.callType, rec.stream = name, "bedrock_passthrough", stream
	log := loggerFrom(r.Context(), s.log).With("model", name, "operation", operation)
	// The body is the client's to shape for one model: no fallback to
	// another model name, which may take another body.
	route := router.Request{Model: name, Stream: stream, Fallbacks: []string{}, Logger: log}
	if err := s.admit(w, r, "", &route); err != nil {
		return err
	}
	var resp *http.Response
	call, err := s.dispatch(w, r, &route, func(ctx context.Context, c *router.Call) error {
		d := c.Deployment
		res, err := d.Client.Forward(ctx, d.ModelID, operation, r.Header, body)
		if err != nil {
			return err
		}
		if res.StatusCode/100 != 2 {
			return newUpstreamAnswer(res)
		}
		resp = res
		c.FirstToken()
		return nil
	})
	if err != nil {
		var ua *upstreamAnswer
		if errors.As(err, &ua) {
			// Bedrock's own refusal goes back as Bedrock wrote it, for the
			// SDK to read as it would from Bedrock.
			copyAnswerHeaders(w.Header(), ua.header)
			w.WriteHeader(ua.status)
			_, _ = w.Write(ua.body)
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	copyAnswerHeaders(w.Header(), resp.Header)
	if !stream {
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			call.Finish(router.Usage{}, err)
			return &bedrock.TransportError{Err: err}
		}
		var tap bedrock.UsageTap
		if operation == "invoke" {
			tap.Input, tap.Output = headerInt(resp.Header, bedrock.HeaderInputTokens), headerInt(resp.Header, bedrock.HeaderOutputTokens)
			tap.Found = resp.Header.Get(bedrock.HeaderInputTokens) != ""
		}
		if !tap.Found && operation != "count-tokens" {
			tap.Body(raw)
		}
		s.finishPassthrough(w, rec, call, &tap, nil)
		w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(raw)
		return nil
	}
	w.Header().Set("Trailer", costHeader)
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	var tap bedrock.UsageTap
	buf := make([]byte, 32<<10)
	var copyErr error
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			_, _ = tap.Write(buf[:n])
			if _, werr := w.Write(buf[:n]); werr != nil {
				copyErr = werr
				break
			}
			_ = rc.Flush()
			call.Touch()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			copyErr = call.Err(&bedrock.TransportError{Err: err})
			break
		}
	}
	if copyErr != nil {
		rec.err = copyErr
	}
	if copyErr != nil && r.Context().Err() == nil {
		log.Warn("pass-through stream broke off", "error", copyErr.Error())
	}
	s.finishPassthrough(w, rec, call, &tap, copyErr)
	return nil
}

func (s *Server) finishPassthrough(w http.ResponseWriter, rec *requestRecord, call *router.Call, tap *bedrock.UsageTap, err error) {
	u := spend.Usage{InputTokens: tap.Input + tap.CacheRead + tap.CacheWrite, OutputTokens: tap.Output,
		CacheReadTokens: tap.CacheRead, CacheWriteTokens: tap.CacheWrite}
	s.finish(w, rec, call, router.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens}, u, err)
}

func headerInt(h http.Header, name string) int {
	n, _ := strconv.Atoi(h.Get(name))
	return max(n, 0)
}

// answerHeaders are Bedrock's answer headers a client may read.
var answerHeaders = []string{"Content-Type", "X-Amzn-Requestid", "X-Amzn-Errortype", "X-Amzn-Bedrock-Input-Token-Count",
	"X-Amzn-Bedrock-Output-Token-Count", "X-Amzn-Bedrock-Invocation-Latency", "X-Amzn-Bedrock-Performanceconfig-Latency",
	"X-Amzn-Bedrock-Service-Tier", "X-Amzn-Bedrock-Cache-Read-Input-Token-Count", "X-Amzn-Bedrock-Cache-Write-Input-Token-Count"}

func copyAnswerHeaders(dst, src http.Header) {
	for _, h := range answerHeaders {
		if v := src.Values(h); len(v) > 0 {
			dst[http.CanonicalHeaderKey(h)] = v
		}
	}
}

// bedrockNotFound answers what the pass-through does not forward (the
// Bedrock control plane's routes, such as ListInferenceProfiles) as
// Bedrock answers an unknown operation.
func (s *Server) bedrockNotFound(w http.ResponseWriter, r *http.Request) error {
	return bedrockError(http.StatusNotFound, "UnknownOperationException",
		"the pass-through forwards POST /bedrock/model/{modelId}/{converse,converse-stream,invoke,invoke-with-response-stream,count-tokens}, not "+r.Method+" "+r.URL.Path)
}

// upstreamAnswer is a Bedrock refusal kept whole, so that when no retry
// helps, the client gets exactly what Bedrock said.
type upstreamAnswer struct {
	status int
	header http.Header
	body   []byte
	apiErr *bedrock.APIError
}

func newUpstreamAnswer(res *http.Response) *upstreamAnswer {
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return &upstreamAnswer{status: res.StatusCode, header: res.Header, body: body, apiErr: bedrock.APIErrorOf(res.StatusCode, res.Header, body)}
}

func (u *upstreamAnswer) Error() string { return u.apiErr.Error() }
func (u *upstreamAnswer) Unwrap() error { return u.apiErr }

// passthroughTarget splits /bedrock/model/{modelId}/{operation}; the model
// id may be an ARN, its "/" escaped as the AWS SDKs do.
func passthroughTarget(escapedPath string) (modelID, operation string, err error) {
	rest, ok := strings.CutPrefix(escapedPath, passthroughPrefix)
	i := strings.LastIndexByte(rest, '/')
	if !ok || i <= 0 {
		return "", "", bedrockError(http.StatusNotFound, "UnknownOperationException", "no Bedrock operation at "+escapedPath)
	}
	operation = rest[i+1:]
	if !bedrock.Forwardable(operation) {
		return "", "", bedrockError(http.StatusNotFound, "UnknownOperationException",
			"the pass-through forwards converse, converse-stream, invoke, invoke-with-response-stream and count-tokens, not "+operation)
	}
	modelID, err = url.PathUnescape(rest[:i])
	if err != nil || modelID == "" {
		return "", "", bedrockError(http.StatusBadRequest, "ValidationException", "The provided model identifier is invalid.")
	}
	return modelID, operation, nil
}

// passthroughModel finds the model name a pass-through serves: the model
// id as a model_name (or alias) first, then as the Bedrock model id of a
// deployment.
func (s *Server) passthroughModel(modelID string) (string, error) {
	if s.router.Has(modelID) == nil {
		return modelID, nil
	}
	for _, name := range s.router.Names() {
		for _, d := range s.router.Deployments(name) {
			if d.ModelID == modelID || d.BaseModel == modelID {
				return name, nil
			}
		}
	}
	return "", bedrockError(http.StatusNotFound, "ResourceNotFoundException",
		"model "+modelID+" is neither a model_name nor the Bedrock model id of a deployment of this gateway")
}

// bedrockError is an error written the way Bedrock writes its own, for
// AWS SDKs to read.
func bedrockError(status int, name, message string) *openai.Error {
	return &openai.Error{Status: status, Code: name, Message: message}
}

// writeBedrockError writes an error on the pass-through in Bedrock's
// shape ({"message"} and the X-Amzn-ErrorType header), so the AWS SDKs
// raise it as the exception it names.
func writeBedrockError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	writeShapedError(w, r, log, err, bedrockShape)
}

func bedrockShape(h http.Header, err error) (int, any) {
	status, name, message := bedrockShaped(err)
	h.Set("X-Amzn-ErrorType", name)
	return status, map[string]string{"message": message}
}

// bedrockShaped names an error as a Bedrock exception.
func bedrockShaped(err error) (status int, name, message string) {
	var ae *bedrock.APIError
	if errors.As(err, &ae) {
		return ae.Status, ae.Code, ae.Message
	}
	ce := clientError(err)
	if strings.HasSuffix(ce.Code, "Exception") {
		return ce.Status, ce.Code, ce.Message
	}
	switch ce.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		name = "ValidationException"
	case http.StatusUnauthorized:
		name = "UnrecognizedClientException"
	case http.StatusForbidden:
		name = "AccessDeniedException"
	case http.StatusNotFound:
		name = "ResourceNotFoundException"
	case http.StatusTooManyRequests:
		name = "ThrottlingException"
	case http.StatusServiceUnavailable:
		name = "ServiceUnavailableException"
	case http.StatusGatewayTimeout, http.StatusRequestTimeout:
		name = "ModelTimeoutException"
	default:
		name = "InternalServerException"
	}
	return ce.Status, name, ce.Message
}
