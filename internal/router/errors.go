package router

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// failure is what a failed attempt means for the request and the deployment.
type failure int

const (
	// failClient is the caller's own problem (a bad request): the same call
	// fails anywhere, so nothing is retried and the deployment is not blamed.
	failClient failure = iota
	// failTransient may succeed when tried again: throttling, 5xx, timeouts,
	// connection errors. Retried, and counted against the deployment.
	failTransient
	// failDeployment is the deployment's own fault that a retry will not fix
	// (credentials, access, a model id that does not exist): not retried,
	// but counted against the deployment and worth a fallback.
	failDeployment
	// failContextWindow is a prompt too long for the model: only
	// context_window_fallbacks can help.
	failContextWindow
	// failContentPolicy is a guardrail or content filter refusing the call:
	// only content_policy_fallbacks can help.
	failContentPolicy
	// failCanceled means the caller went away: stop at once.
	failCanceled
)

// transientExceptions are Bedrock exceptions worth trying again, elsewhere if possible.
var transientExceptions = map[string]bool{
	"ThrottlingException":           true,
	"TooManyRequestsException":      true,
	"ServiceQuotaExceededException": true,
	"ModelNotReadyException":        true,
	"ServiceUnavailableException":   true,
	"ServiceUnavailable":            true,
	"InternalServerException":       true,
	"ModelTimeoutException":         true,
	"ModelStreamErrorException":     true,
}

// deploymentExceptions say the deployment itself is misconfigured.
var deploymentExceptions = map[string]bool{
	"AccessDeniedException":               true,
	"UnrecognizedClientException":         true,
	"InvalidSignatureException":           true,
	"ExpiredTokenException":               true,
	"MissingAuthenticationTokenException": true,
	"ResourceNotFoundException":           true,
	"ModelErrorException":                 true,
}

// Bedrock reports both of these as a ValidationException; only the message
// tells them from other bad requests. Lower case.
var (
	contextWindowPhrases = []string{
		"input is too long", "prompt is too long", "too many input tokens", "context length",
		"context window", "context limit", "maximum context", "exceeds the maximum number of tokens",
	}
	contentPolicyPhrases = []string{
		"content filtering policy", "content policy", "content_filter", "guardrail", "responsible ai",
	}
)

// classify decides what a failed attempt means.
func classify(err error) failure {
	var te *TimeoutError
	if errors.As(err, &te) {
		return failTransient
	}
	if errors.Is(err, context.Canceled) {
		return failCanceled
	}
	var ae *bedrock.APIError
	if errors.As(err, &ae) {
		return classifyException(ae)
	}
	var ce *bedrock.CredentialsError
	if errors.As(err, &ce) {
		return failDeployment
	}
	var tr *bedrock.TransportError
	if errors.As(err, &tr) || errors.Is(err, bedrock.ErrStreamTruncated) || errors.Is(err, context.DeadlineExceeded) {
		return failTransient
	}
	return failClient
}

func classifyException(e *bedrock.APIError) failure {
	switch {
	case transientExceptions[e.Code] || e.Status >= 500 || e.Status == http.StatusTooManyRequests:
		return failTransient
	case deploymentExceptions[e.Code] || e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusNotFound:
		return failDeployment
	case e.Code == "ValidationException":
		msg := strings.ToLower(e.Message)
		if containsAny(msg, contextWindowPhrases) {
			return failContextWindow
		}
		if containsAny(msg, contentPolicyPhrases) {
			return failContentPolicy
		}
	}
	return failClient
}

// rateLimited reports a failure that cools a deployment down at once.
func rateLimited(err error) bool {
	var ae *bedrock.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case "ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException", "ModelNotReadyException":
		return true
	}
	return ae.Status == http.StatusTooManyRequests
}

// upstreamErrorName labels a failed attempt for the upstream error metric:
// Bedrock's exception name, or what went wrong on the way. Empty for errors
// that never reached Bedrock.
func upstreamErrorName(err error) string {
	var te *TimeoutError
	if errors.As(err, &te) {
		return te.Kind
	}
	var ae *bedrock.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	var ce *bedrock.CredentialsError
	var tr *bedrock.TransportError
	switch {
	case errors.As(err, &ce):
		return "CredentialsError"
	case errors.Is(err, bedrock.ErrStreamTruncated):
		return "StreamTruncated"
	case errors.As(err, &tr):
		return "ConnectionError"
	}
	return ""
}

func containsAny(s string, phrases []string) bool {
	for _, p := range phrases {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// Timeout kinds, also the OpenAI error codes clients see.
const (
	TimeoutCall       = "timeout"             // the whole call
	TimeoutFirstToken = "stream_timeout"      // a stream's first token
	TimeoutIdle       = "stream_idle_timeout" // silence between stream events
)

// TimeoutError is a call cut short by one of the router's timeouts.
type TimeoutError struct {
	Kind   string        // TimeoutCall, TimeoutFirstToken or TimeoutIdle
	Limit  time.Duration // the timeout that expired
	Source string        // the setting it came from, for the message
	// FromRequest: the caller set this timeout in the request. Such a
	// timeout says nothing about the deployment, which is not blamed.
	FromRequest bool
	Err         error // how the cut call failed, for the log
}

func (e *TimeoutError) Unwrap() error { return e.Err }

func (e *TimeoutError) Error() string {
	switch e.Kind {
	case TimeoutFirstToken:
		return fmt.Sprintf("Bedrock sent no token within %v (%s)", e.Limit, e.Source)
	case TimeoutIdle:
		return fmt.Sprintf("Bedrock's stream was silent for more than %v (%s)", e.Limit, e.Source)
	}
	return fmt.Sprintf("Bedrock did not answer within %v (%s)", e.Limit, e.Source)
}

// clientError is what the caller sees: 408 when it set the timeout itself,
// 504 when the gateway gave up waiting for Bedrock.
func (e *TimeoutError) clientError() *openai.Error {
	status := http.StatusGatewayTimeout
	if e.FromRequest {
		status = http.StatusRequestTimeout
	}
	return &openai.Error{Status: status, Type: openai.TypeTimeout, Code: e.Kind, Message: e.Error(), Err: e}
}

// LimitError says every deployment of a model is at its rpm or tpm limit.
type LimitError struct {
	Model string
	Wait  time.Duration // until the first deployment has room again
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("every deployment of model %s is at its rpm, tpm or max_parallel_requests limit; retry in %s s", e.Model, RetryAfterSeconds(e.Wait))
}

// RetryAfter is when to try again; the server sends it as Retry-After.
func (e *LimitError) RetryAfter() time.Duration { return e.Wait }

func (e *LimitError) clientError() *openai.Error {
	return &openai.Error{Status: http.StatusTooManyRequests, Type: openai.TypeRateLimit, Code: "rate_limit_exceeded",
		Message: e.Error(), Err: e}
}

// RetryAfterSeconds rounds a wait up to whole seconds, at least one, as the
// Retry-After header wants them.
func RetryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return fmt.Sprint(max(s, 1))
}
