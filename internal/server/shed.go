package server

import (
	"net/http"
	"strings"
	"sync/atomic"
)

// shedError refuses a request the gateway has no room for right now. It is
// answered 503 with Retry-After at once, instead of queueing without bound.
type shedError struct {
	reason  string // the metrics label
	message string
}

func (e *shedError) Error() string { return e.message }

var (
	errTooManyRequests = &shedError{reason: "in_flight",
		message: "the gateway is serving as many requests as it may at once (general_settings.global_max_parallel_requests); retry shortly"}
	errBodiesFull = &shedError{reason: "body_memory",
		message: "the gateway holds as many request bodies as its memory allows (general_settings.max_request_bodies_in_flight_mb); retry shortly"}
)

// shedRetryAfter is the Retry-After of a shed request, in seconds: load
// that is shed passes quickly, and a client told to wait longer would leave
// the gateway idle.
const shedRetryAfter = "1"

// inFlight bounds the requests served at once. Health and metrics routes
// are always answered, so that an overloaded gateway still tells its load
// balancer and its monitoring what is going on.
type inFlight struct {
	limit int64 // 0: no bound
	n     atomic.Int64
}

// enter admits r, or reports that the bound is reached. An admitted
// request must leave.
func (f *inFlight) enter(r *http.Request) (admitted, counted bool) {
	if alwaysAnswered(r.URL.Path) {
		return true, false
	}
	if n := f.n.Add(1); f.limit > 0 && n > f.limit {
		f.n.Add(-1)
		return false, false
	}
	return true, true
}

func (f *inFlight) leave() { f.n.Add(-1) }

func alwaysAnswered(path string) bool {
	return strings.HasPrefix(path, "/health") || path == "/metrics"
}
