package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/strata-gateway/strata/internal/openai"
)

// ErrShuttingDown is the cause with which a stopping gateway cancels the
// requests still in flight at its shutdown deadline. A request that ends
// for it was cut by the gateway, not by its client: a stream gets an error
// event saying so, a request waiting for Bedrock a 503.
//
// It is a cancellation: the router does not count it against the
// deployment that was answering.
var ErrShuttingDown = fmt.Errorf("the gateway is shutting down: %w", context.Canceled)

// Drain makes /health/readiness answer 503 from now on, so that load
// balancers stop sending requests; everything else is still served.
func (s *Server) Drain() { s.draining.Store(true) }

// WaitIdle waits until no request is being served, or ctx ends.
func (s *Server) WaitIdle(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.active.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Active is the number of requests being served.
func (s *Server) Active() int64 { return s.active.Load() }

// CutRequests is the number of requests cut by the shutdown deadline.
func (s *Server) CutRequests() int64 { return s.cut.Load() }

// outcomeShutdownCut is the access log's outcome of a request cut by the
// shutdown deadline.
const outcomeShutdownCut = "cut_by_shutdown"

// shuttingDown reports whether ctx ended because the gateway cut its
// requests at the shutdown deadline.
func shuttingDown(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrShuttingDown)
}

// asShutdownCut turns the error of a request that ctx's end interrupted
// into one that says the gateway cut it, and notes the outcome. Other
// errors are returned as they are.
func asShutdownCut(r *http.Request, err error) error {
	if err == nil || !shuttingDown(r.Context()) {
		return err
	}
	recordFrom(r.Context()).outcome = outcomeShutdownCut
	if errors.Is(err, ErrShuttingDown) {
		return err
	}
	return errors.Join(ErrShuttingDown, err)
}

func shutdownError(err error) *openai.Error {
	return &openai.Error{Status: http.StatusServiceUnavailable, Type: openai.TypeUnavailable, Code: "gateway_shutting_down",
		Message: "the gateway is shutting down: this answer was cut before it was complete; retry it", Err: err}
}

// logStreamFailed logs a stream that failed after it started; one cut by
// the shutdown deadline is counted and logged at WARN once, by the app.
func logStreamFailed(log *slog.Logger, status int, err error) {
	if errors.Is(err, ErrShuttingDown) {
		log.Info("stream cut: the gateway is shutting down", "status", status)
		return
	}
	log.Warn("stream failed after it started", "status", status, "error", err.Error())
}
