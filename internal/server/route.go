package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/spend"
)

// A model request, whatever its surface, goes the same way once its body
// is read: its routing keys and its caller's limits make its route
// (routeFor), the router tries deployments until one answers (dispatch),
// and the answer's headers and the request's record say what it went
// through. What differs by surface (the body, the answer, the error's
// shape) stays with each endpoint.

// readModelRequest decodes a model request's body into v, then checks
// that the caller may use the model it names (*model, once decoded).
func (s *Server) readModelRequest(w http.ResponseWriter, r *http.Request, v any, model *string) error {
	if err := s.decodeBody(w, r, v); err != nil {
		return err
	}
	return s.admitModel(r.Context(), *model)
}

// beginModel notes a model request in its record, for the access log, the
// metrics, the spend log and the span, and returns the record and the
// request's logger, named for the model.
func (s *Server) beginModel(r *http.Request, model, callType string, stream bool) (*requestRecord, *slog.Logger) {
	rec := recordFrom(r.Context())
	rec.model, rec.callType, rec.stream = model, callType, stream
	return rec, loggerFrom(r.Context(), s.log).With("model", model)
}

// routeFor is the route of a model request: its own routing keys read
// from extra, and the request admitted against its caller's limits. log
// is the request's logger, for the router's lines.
func (s *Server) routeFor(w http.ResponseWriter, r *http.Request, log *slog.Logger, model string, stream bool, endUser string, extra map[string]json.RawMessage) (router.Request, error) {
	route, err := routeOf(model, stream, extra)
	if err != nil {
		return route, err
	}
	route.Logger = log
	return route, s.admit(w, r, endUser, &route)
}

// dispatch runs try through the router, trying deployments until one
// answers, and notes what the request went through, in its record and
// its answer's headers: the retries and fallbacks, and which deployment
// served.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, route *router.Request, try router.AttemptFunc) (*router.Call, error) {
	rec := recordFrom(r.Context())
	call, tally, err := s.router.Do(r.Context(), *route, try)
	rec.retries, rec.fallbacks = tally.Retries, tally.Fallbacks
	setAttemptHeaders(w, tally)
	if err != nil {
		return nil, err
	}
	rec.deployment = call.Deployment.ID
	setServedHeaders(w, call)
	return call, nil
}

// routeOf reads a request's own routing keys, LiteLLM's: num_retries,
// timeout and stream_timeout (seconds) and fallbacks (model names). They
// steer the gateway and are never sent to Bedrock.
func routeOf(model string, stream bool, extra map[string]json.RawMessage) (router.Request, error) {
	route := router.Request{Model: model, Stream: stream}
	if raw, ok := extra["num_retries"]; ok {
		var n int
		if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
			return route, openai.InvalidRequest("num_retries", "num_retries must be a whole number >= 0")
		}
		route.NumRetries = &n
	}
	for _, t := range []struct {
		key  string
		into *time.Duration
	}{{"timeout", &route.Timeout}, {"stream_timeout", &route.StreamTimeout}} {
		raw, ok := extra[t.key]
		if !ok {
			continue
		}
		var seconds float64
		if err := json.Unmarshal(raw, &seconds); err != nil || seconds <= 0 {
			return route, openai.InvalidRequest(t.key, "%s must be a number of seconds > 0", t.key)
		}
		*t.into = time.Duration(seconds * float64(time.Second))
	}
	if raw, ok := extra["fallbacks"]; ok && string(raw) != "null" {
		// An empty list is kept as such: it turns the configured fallbacks off.
		route.Fallbacks = []string{}
		if err := json.Unmarshal(raw, &route.Fallbacks); err != nil {
			return route, openai.InvalidRequest("fallbacks", "fallbacks must be a list of model names")
		}
	}
	return route, nil
}

// routed routes a whole-answer endpoint's request (embeddings, images,
// rerank, count_tokens): it is admitted, then try runs through the router.
func (s *Server) routed(w http.ResponseWriter, r *http.Request, model, endUser string, extra map[string]json.RawMessage, try router.AttemptFunc) (*router.Call, error) {
	rec := recordFrom(r.Context())
	rec.model = model
	route, err := s.routeFor(w, r, loggerFrom(r.Context(), s.log).With("model", model), model, false, endUser, extra)
	if err != nil {
		return nil, err
	}
	route.Operation = operationOf(rec.callType)
	return s.dispatch(w, r, &route, try)
}

// finish ends a served call with what it used: the router learns the
// tokens Bedrock reported (used) and err, if the answer broke off after it
// started; the request's record and the answer's cost header learn what
// it cost (u).
func (s *Server) finish(w http.ResponseWriter, rec *requestRecord, call *router.Call, used router.Usage, u spend.Usage, err error) {
	rec.usage = used
	call.Finish(used, err)
	s.priced(w, rec, call, u)
}

// setServedHeaders says which deployment answered: the model name (a
// fallback's, if one served), the deployment and its Bedrock model id.
func setServedHeaders(w http.ResponseWriter, call *router.Call) {
	setHeader(w, "X-Strata-Model-Group", call.Model)
	setHeader(w, "X-Strata-Deployment", call.Deployment.ID)
	setHeader(w, "X-Strata-Model-Id", call.Deployment.ModelID)
}

func setAttemptHeaders(w http.ResponseWriter, tally router.Tally) {
	setHeader(w, "X-Strata-Attempted-Retries", strconv.Itoa(tally.Retries))
	setHeader(w, "X-Strata-Attempted-Fallbacks", strconv.Itoa(tally.Fallbacks))
}
