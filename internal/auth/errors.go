package auth

import "net/http"

// Reason says why a request was refused.
type Reason int

const (
	ReasonMissing     Reason = iota // no key in the request
	ReasonUnknown                   // no such key
	ReasonExpired                   // the key's expires has passed
	ReasonBlocked                   // the key, or its team, is blocked
	ReasonNotMaster                 // an admin route asked for by a virtual key
	ReasonKeyModel                  // the key may not call the model
	ReasonTeamModel                 // the key's team may not call the model
	ReasonUserModel                 // the key's user may not call the model
	ReasonUnavailable               // the key is not cached and the database cannot be read
)

// Error is a refusal. Each API surface shapes it its own way (OpenAI's
// error body, Anthropic's); Status and Code are the common ground.
type Error struct {
	Reason  Reason
	Message string // safe to show the client: never contains a key
	Model   string // for model refusals
	Key     string // the key's alias or short hash, for model refusals
	Err     error  // the cause, for logs (database errors)
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status for the refusal.
func (e *Error) Status() int {
	switch e.Reason {
	case ReasonNotMaster, ReasonKeyModel, ReasonTeamModel, ReasonUserModel:
		return http.StatusForbidden
	case ReasonUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// Code is a stable machine-readable name for the refusal, LiteLLM's where it has one.
func (e *Error) Code() string {
	switch e.Reason {
	case ReasonMissing:
		return "missing_api_key"
	case ReasonUnknown:
		return "invalid_api_key"
	case ReasonExpired:
		return "expired_key"
	case ReasonBlocked:
		return "blocked_key"
	case ReasonNotMaster:
		return "admin_only"
	case ReasonKeyModel:
		return "key_model_access_denied"
	case ReasonTeamModel:
		return "team_model_access_denied"
	case ReasonUserModel:
		return "user_model_access_denied"
	case ReasonUnavailable:
		return "auth_unavailable"
	}
	return "auth_error"
}
