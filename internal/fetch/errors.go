package fetch

import (
	"fmt"
	"net/http"
)

// Reasons an *Error carries: short, stable codes the gateway can hand to
// clients and tests can match on.
const (
	ReasonURLInvalid       = "url_invalid"        // 400: not a URL, no host, bad port, non-ASCII host
	ReasonURLScheme        = "url_scheme"         // 400: not http or https (also on a redirect)
	ReasonURLUserinfo      = "url_userinfo"       // 400: user:pass@ in the URL
	ReasonBlockedAddress   = "blocked_address"    // 400: the host is, or resolves to, a non-public address
	ReasonDNS              = "dns"                // 400: the host did not resolve
	ReasonUnreachable      = "unreachable"        // 400: connection, TLS or read failure
	ReasonTimeout          = "timeout"            // 504: the whole download took longer than Options.Timeout
	ReasonTooManyRedirects = "too_many_redirects" // 400: more than Options.MaxRedirects redirects
	ReasonBadRedirect      = "bad_redirect"       // 400: a redirect whose Location is not a URL
	ReasonUpstreamStatus   = "upstream_status"    // 400: the final answer was not 2xx
	ReasonTooLarge         = "too_large"          // 400: the image is larger than Options.MaxBytes
)

// Error is a refused or failed download. Status is what the gateway answers
// its client with: 400 for anything about the URL or what it points at (the
// client can fix it), an image over the limit included — the request itself
// was not too large, so 413 would tell OpenAI clients the wrong thing — and
// 504 for a timeout —
// the gateway waited on an upstream that did not answer in time, the same
// status the server gives a slow Bedrock (408 would blame the client).
type Error struct {
	Status int
	Reason string // one of the Reason constants
	Msg    string // safe to show the client: names the host, never an internal address
	Err    error  // the cause with internal details, for the gateway's log; may be nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func badRequest(reason string, cause error, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Reason: reason, Msg: fmt.Sprintf(format, args...), Err: cause}
}

func formatBytes(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
