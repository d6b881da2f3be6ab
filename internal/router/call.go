package router

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/strata-gateway/strata/internal/openai"
)

// Request is one client request as the router sees it. The per-request
// fields are LiteLLM's request body keys; zero values leave the config's.
type Request struct {
	Model  string
	Stream bool

	NumRetries    *int
	Timeout       time.Duration // the whole call
	StreamTimeout time.Duration // a stream's first token
	// Fallbacks, when not nil, replace the configured fallbacks of Model.
	Fallbacks []string

	Logger *slog.Logger // the request's logger; nil: the router's
	// Operation is the GenAI operation (gen_ai.operation.name) named on
	// the attempts' spans; "" takes it from the deployment's API.
	Operation string
	// Admission, when set, counts each attempt against its deployment's
	// rpm, tpm and max_parallel_requests, shared with the other gateways;
	// nil: this router counts them itself.
	Admission Admission
}

// Admission counts a request against the deployment the router picked for
// it, where gateways share the deployments' limits. The first call may
// take the request's own limits in the same trip to the shared counter.
type Admission interface {
	// AdmitTo takes d's own limits for the request. A
	// *limits.DeploymentFull says d has no room: the router picks another.
	// Any other error refuses the request.
	AdmitTo(ctx context.Context, d *Deployment) error
}

// Tally is what a request went through before it was answered or failed.
type Tally struct {
	Retries   int // attempts after the first, within a model name
	Fallbacks int // fallback model names tried
}

// Usage is the tokens a call used, as Bedrock reported them.
type Usage struct {
	InputTokens, OutputTokens int
}

// AttemptFunc makes one attempt on c.Deployment. It must write nothing to
// the client before it returns nil: an error means the router may try
// again elsewhere. ctx carries the attempt's timeouts.
type AttemptFunc func(ctx context.Context, c *Call) error

// Do routes req: it picks a deployment, runs try on it, and on failure
// retries (transient failures only, preferring another deployment, backing
// off before trying one again) and falls back to other model names. On
// success the returned Call is still open, its in-flight count held and
// its timeouts running: the caller relays the answer and calls Finish.
func (r *Router) Do(ctx context.Context, req Request, try AttemptFunc) (*Call, Tally, error) {
	return r.live.Load().do(ctx, req, try)
}

func (r *table) do(ctx context.Context, req Request, try AttemptFunc) (*Call, Tally, error) {
	var tally Tally
	g := r.groups[req.Model]
	if g == nil {
		return nil, tally, r.unknownModel(req.Model)
	}
	general := g.fallbacks
	if req.Fallbacks != nil {
		var err error
		if general, err = r.requestFallbacks(g, req.Fallbacks); err != nil {
			return nil, tally, err
		}
	}
	log := req.Logger
	if log == nil {
		log = r.log
	}
	call, kind, err := r.tryGroup(ctx, g, &req, try, &tally, log)
	if err == nil {
		return call, tally, nil
	}
	firstErr := err
	reason, chain := fallbackReason(kind), g.fallbacksFor(kind, general)
	for _, fb := range chain {
		if kind == failCanceled {
			return nil, tally, err
		}
		if r.mayServe != nil {
			if refused := r.mayServe(ctx, fb.name); refused != nil {
				log.Warn("fallback skipped: the caller may not use its model", "model", g.name, "fallback", fb.name, "reason", refused.Error())
				continue
			}
		}
		tally.Fallbacks++
		r.metrics.Fallback(g.name, fb.name, reason)
		log.Warn("falling back to another model", "model", g.name, "fallback", fb.name, "reason", reason, "error", err.Error())
		call, kind, err = r.tryGroup(ctx, fb, &req, try, &tally, log)
		if err == nil {
			return call, tally, nil
		}
	}
	if kind == failCanceled {
		return nil, tally, err
	}
	// As LiteLLM does: what went wrong with the model asked for is what
	// the client needs to hear, not what a fallback said last.
	return nil, tally, firstErr
}

// tryGroup makes up to 1+num_retries attempts on the deployments of g.
func (r *table) tryGroup(ctx context.Context, g *group, req *Request, try AttemptFunc, tally *Tally, log *slog.Logger) (*Call, failure, error) {
	retries := g.numRetries
	if req.NumRetries != nil {
		retries = min(*req.NumRetries, MaxRequestRetries)
	}
	var skip tried
	backoffs := 0
	for attempt := 0; ; attempt++ {
		now := r.now()
		d, kind, err := r.pick(ctx, g, req, skip, now)
		if err != nil {
			return nil, kind, err
		}
		if skip.has(d.index) {
			// No other deployment to turn to: give this one a moment.
			wait := r.backoff(backoffs)
			backoffs++
			if err := r.sleep(ctx, wait); err != nil {
				if req.Admission == nil {
					d.state.releaseSlot(d.Policy)
				}
				return nil, failCanceled, err
			}
		}
		skip.add(d.index)
		c := r.start(ctx, d, g, req, log, tally.Retries+tally.Fallbacks+1)
		err = try(c.ctx, c)
		if err == nil {
			return c, 0, nil
		}
		err = c.fail(err)
		kind = classify(err)
		if kind != failTransient || attempt >= retries {
			return nil, kind, err
		}
		tally.Retries++
		r.metrics.Retry(g.name)
		log.Info("retrying", "model", g.name, "failed_deployment", d.ID, "retry", attempt+1, "num_retries", retries, "error", err.Error())
	}
}

// backoff is the wait before trying a deployment again: exponential from
// retry_after, capped, with jitter so that clients throttled together do
// not come back together.
func (r *table) backoff(n int) time.Duration {
	limit := max(MaxBackoff, r.retryAfter)
	d := limit
	if n < 16 {
		d = min(r.retryAfter<<n, limit)
	}
	return time.Duration(float64(d) * (0.5 + 0.5*r.rand()))
}

// fallbacksFor is where a request goes after g failed this way.
func (g *group) fallbacksFor(kind failure, general []*group) []*group {
	switch kind {
	case failTransient, failDeployment:
		return general
	case failContextWindow:
		return g.contextWindow
	case failContentPolicy:
		return g.contentPolicy
	}
	return nil
}

func fallbackReason(kind failure) string {
	switch kind {
	case failContextWindow:
		return "context_window"
	case failContentPolicy:
		return "content_policy"
	}
	return "error"
}

// requestFallbacks resolves a request's own fallbacks list.
func (r *table) requestFallbacks(g *group, names []string) ([]*group, error) {
	out := make([]*group, 0, len(names))
	for i, n := range names {
		fb := r.groups[n]
		if fb == nil {
			return nil, openai.InvalidRequest("fallbacks", "fallbacks[%d]: model %q is not served here", i, n)
		}
		if fb != g {
			out = append(out, fb)
		}
	}
	return out, nil
}

// Call is one attempt on one deployment. Do hands it to the AttemptFunc and,
// if that succeeds, to its own caller, who relays the answer and calls Finish.
type Call struct {
	Deployment *Deployment
	Model      string // the model name it serves: the one asked for, or a fallback

	router *table
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelCauseFunc
	stream bool
	start  time.Time

	span trace.Span // the attempt's span; nil when tracing is off

	callTimer, firstTokenTimer, idleTimer *time.Timer
	idle                                  time.Duration
	idleSource                            string
	gotFirstToken                         bool
	ttft                                  time.Duration
	done                                  bool
	slot                                  bool // holds one of the deployment's max_parallel_requests
}

// start opens an attempt on d: in flight, with its timeouts running, and
// its span started when tracing is on.
func (r *table) start(parent context.Context, d *Deployment, g *group, req *Request, log *slog.Logger, attempt int) *Call {
	var span trace.Span
	if r.tracer != nil {
		parent, span = r.startSpan(parent, d, g, req, attempt)
	}
	ctx, cancel := context.WithCancelCause(parent)
	c := &Call{Deployment: d, Model: g.name, router: r, log: log, ctx: ctx, cancel: cancel, stream: req.Stream, start: r.now(), span: span,
		slot: req.Admission == nil && d.Policy.MaxParallel > 0}
	limit, source, fromRequest := r.callTimeout(d, req)
	c.callTimer = c.expireAfter(&TimeoutError{Kind: TimeoutCall, Limit: limit, Source: source, FromRequest: fromRequest})
	if req.Stream {
		if limit, source, fromRequest := r.firstTokenTimeout(d, req); limit > 0 {
			c.firstTokenTimer = c.expireAfter(&TimeoutError{Kind: TimeoutFirstToken, Limit: limit, Source: source, FromRequest: fromRequest})
		}
		c.idle, c.idleSource = r.streamIdleTimeout, "router_settings.stream_idle_timeout"
	}
	d.state.inFlight.Add(1)
	d.metrics.Started()
	return c
}

func (c *Call) expireAfter(te *TimeoutError) *time.Timer {
	return time.AfterFunc(te.Limit, func() { c.cancel(te) })
}

func (r *table) callTimeout(d *Deployment, req *Request) (time.Duration, string, bool) {
	switch {
	case req.Timeout > 0:
		return req.Timeout, "the request's timeout", true
	case d.Policy.Timeout > 0:
		return d.Policy.Timeout, "litellm_params.timeout", false
	}
	return r.timeout, "router_settings.timeout", false
}

func (r *table) firstTokenTimeout(d *Deployment, req *Request) (time.Duration, string, bool) {
	switch {
	case req.StreamTimeout > 0:
		return req.StreamTimeout, "the request's stream_timeout", true
	case d.Policy.StreamTimeout > 0:
		return d.Policy.StreamTimeout, "litellm_params.stream_timeout", false
	}
	return r.streamTimeout, "router_settings.stream_timeout", false
}

// FirstToken marks a stream's first token ready for the client: the wait
// for it is recorded, stream_timeout stops and the idle timeout starts.
func (c *Call) FirstToken() {
	if c.gotFirstToken {
		return
	}
	c.gotFirstToken = true
	if c.firstTokenTimer != nil {
		c.firstTokenTimer.Stop()
	}
	c.ttft = c.router.now().Sub(c.start)
	c.Deployment.metrics.FirstToken(c.ttft)
	if c.stream && c.idle > 0 {
		c.idleTimer = c.expireAfter(&TimeoutError{Kind: TimeoutIdle, Limit: c.idle, Source: c.idleSource})
	}
}

// Touch marks a stream event: the idle timeout starts over.
func (c *Call) Touch() {
	if c.idleTimer != nil {
		c.idleTimer.Reset(c.idle)
	}
}

// Err explains an error the call's answer broke off with: if one of the
// call's timeouts cut it, the timeout is the error the client must see,
// whatever shape the cut took on the way (a transport error, a truncated
// stream).
func (c *Call) Err(err error) error {
	if err == nil {
		return nil
	}
	var te *TimeoutError
	if errors.As(err, &te) && te.Err != nil {
		return err // explained already
	}
	if !errors.As(context.Cause(c.ctx), &te) {
		return err
	}
	explained := *te
	explained.Err = err
	return explained.clientError()
}

// Finish ends a call Do returned: err is how the answer ended (nil, or
// the error it broke off with), usage what Bedrock reported.
func (c *Call) Finish(usage Usage, err error) {
	c.end(usage, c.Err(err))
}

// fail ends a failed attempt and returns the error explained.
func (c *Call) fail(err error) error {
	err = c.Err(err)
	c.end(Usage{}, err)
	switch classify(err) {
	case failCanceled:
	case failClient:
		c.log.Info("bedrock call refused", "deployment", c.Deployment.ID, "error", err.Error())
	default:
		c.log.Warn("bedrock call failed", "deployment", c.Deployment.ID, "error", err.Error())
	}
	return err
}

func (c *Call) end(usage Usage, err error) {
	if c.done {
		return
	}
	c.done = true
	for _, t := range []*time.Timer{c.callTimer, c.firstTokenTimer, c.idleTimer} {
		if t != nil {
			t.Stop()
		}
	}
	c.cancel(context.Canceled)
	r, d := c.router, c.Deployment
	d.state.inFlight.Add(-1)
	if c.slot {
		d.state.releaseSlot(d.Policy)
	}
	d.metrics.Ended()
	now := r.now()
	d.state.used(now, usage.InputTokens+usage.OutputTokens)
	d.metrics.Tokens(usage.InputTokens, usage.OutputTokens)
	elapsed := now.Sub(c.start)
	if c.span != nil {
		endSpan(c.span, d, usage, err)
	}
	if err == nil {
		d.metrics.Served(elapsed)
		d.state.answered(now)
		if !c.stream {
			d.state.observeLatency(elapsed, false)
		} else if c.gotFirstToken {
			d.state.observeLatency(c.ttft, true)
		}
		return
	}
	r.blame(c, err, now)
}

// blame records a failed call against its deployment, when it is the
// deployment's doing, and cools the deployment down if it earned it.
func (r *table) blame(c *Call, err error, now time.Time) {
	d := c.Deployment
	kind := classify(err)
	if kind == failCanceled {
		return // the client left: nothing went wrong upstream
	}
	if name := upstreamErrorName(err); name != "" {
		d.metrics.UpstreamError(name)
	}
	switch kind {
	case failClient, failContextWindow, failContentPolicy:
		return
	}
	var te *TimeoutError
	if errors.As(err, &te) {
		if te.FromRequest {
			return // the caller's impatience says nothing about the deployment
		}
		d.state.observeLatency(te.Limit, c.stream) // steer latency-based routing away
	}
	cooldown := r.cooldownTime
	if r.disableCooldowns {
		cooldown = 0
	}
	if d.state.fail(now, rateLimited(err), r.allowedFails, cooldown) {
		d.metrics.Cooldown()
		c.log.Warn("deployment cooling down", "model", d.Name, "deployment", d.ID, "cooldown_s", cooldown.Seconds(), "error", err.Error())
		if r.owner != nil {
			if share := r.owner.onCooldown.Load(); share != nil {
				(*share)(d.ID, d.state.cooldownEnd())
			}
		}
	}
}
