package anthropic

import "net/http"

// ErrorBody is what a failed call answers, and the data of a stream's
// error event: {"type":"error","error":{"type","message"}}.
type ErrorBody struct {
	Type  string      `json:"type"` // "error"
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inner object of ErrorBody.
type ErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Error types and the statuses Anthropic answers them with.
const (
	TypeInvalidRequest  = "invalid_request_error" // 400
	TypeAuthentication  = "authentication_error"  // 401
	TypePermission      = "permission_error"      // 403
	TypeNotFound        = "not_found_error"       // 404
	TypeRequestTooLarge = "request_too_large"     // 413
	TypeRateLimit       = "rate_limit_error"      // 429
	TypeAPI             = "api_error"             // 500
	TypeTimeout         = "timeout_error"         // 504
	TypeOverloaded      = "overloaded_error"      // 529
)

// StatusOverloaded is Anthropic's status for an overloaded service; its
// SDKs retry it.
const StatusOverloaded = 529

// ErrorFor shapes an error with an HTTP status as Anthropic would answer
// it: the status its SDKs expect, and the matching type.
func ErrorFor(status int, message string) (int, ErrorBody) {
	typ := TypeAPI
	switch {
	case status == http.StatusUnauthorized:
		typ = TypeAuthentication
	case status == http.StatusForbidden:
		typ = TypePermission
	case status == http.StatusNotFound:
		typ = TypeNotFound
	case status == http.StatusRequestEntityTooLarge:
		typ = TypeRequestTooLarge
	case status == http.StatusTooManyRequests:
		typ = TypeRateLimit
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		status, typ = http.StatusGatewayTimeout, TypeTimeout
	case status == http.StatusServiceUnavailable || status == StatusOverloaded:
		status, typ = StatusOverloaded, TypeOverloaded
	case status >= 400 && status < 500:
		status, typ = http.StatusBadRequest, TypeInvalidRequest
	default:
		status = http.StatusInternalServerError
	}
	return status, ErrorBody{Type: "error", Error: ErrorDetail{Type: typ, Message: message}}
}
