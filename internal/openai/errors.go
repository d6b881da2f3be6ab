package openai

import "fmt"

// ErrorBody is the JSON every failed request answers with:
// {"error":{"message","type","param","code"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inner object of ErrorBody. Param and Code are null when
// unknown, as OpenAI's own API writes them.
type ErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// Error types OpenAI clients recognise.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeTimeout        = "timeout_error"
	TypeServer         = "server_error"
	TypeUnavailable    = "service_unavailable_error"
	TypeAPI            = "api_error"
)

// Error is an error that is meant for the client: it carries the HTTP status
// and the fields of the OpenAI error body. Layers below the server return it
// (wrapped or not) for problems the client can see and fix.
type Error struct {
	Status  int
	Type    string
	Param   string
	Code    string
	Message string
	Err     error // the cause, if any, for logs and errors.Is
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Body renders the error as the OpenAI error body.
func (e *Error) Body() ErrorBody {
	d := ErrorDetail{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		p := e.Param
		d.Param = &p
	}
	if e.Code != "" {
		c := e.Code
		d.Code = &c
	}
	return ErrorBody{Error: d}
}

// InvalidRequest returns a 400 invalid_request_error about param.
func InvalidRequest(param, format string, args ...any) *Error {
	return &Error{Status: 400, Type: TypeInvalidRequest, Param: param, Message: fmt.Sprintf(format, args...)}
}
