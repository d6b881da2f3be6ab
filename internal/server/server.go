// Package server is Strata's HTTP surface: one handler per endpoint, the
// middleware around them, the single error writer and the SSE writer. It
// decodes and encodes; translation and Bedrock calls live elsewhere.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/strata-gateway/strata/internal/adminui"
	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/fetch"
	"github.com/strata-gateway/strata/internal/keys"
	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/metrics"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/spend"
	"github.com/strata-gateway/strata/internal/store"
)

// Options configures the HTTP surface.
type Options struct {
	Router          *router.Router
	Logger          *slog.Logger
	MaxRequestBytes int64 // body limit; 0 means 32 MiB
	Now             func() time.Time
	// Ready reports whether the gateway can serve; nil means always.
	Ready func(ctx context.Context) error
	// RedisUp says whether the Redis server the gateways share answers;
	// nil when none is configured. /health and /health/readiness show it;
	// neither fails for it, as the gateway serves on its own meanwhile.
	RedisUp func() bool
	// KeyListenerUp says whether the gateway listens on PostgreSQL for the
	// key changes other gateways make; nil when it does not (SQLite, no
	// keys). /health and /health/readiness show it; neither fails for it.
	KeyListenerUp func() bool
	// Fetcher downloads images named by URL; nil means the defaults (public
	// addresses only).
	Fetcher *fetch.Fetcher
	// Metrics counts requests; nil counts nothing.
	Metrics *metrics.Metrics
	// Gatherer is what GET /metrics exposes; nil leaves the route out.
	Gatherer prometheus.Gatherer
	// Responses keeps stored responses (POST /responses with store, GET
	// and DELETE /responses/{id}); nil keeps none.
	Responses store.Responses
	// HealthCheckUpstream makes GET /health send every deployment a
	// one-token request; otherwise it reports the router's view only.
	HealthCheckUpstream bool

	// Limiter admits model requests against their caller's limits and the
	// gateway's budget; nil admits everything.
	Limiter *limits.Limiter
	// CallerOf says who sent a request; nil: nobody in particular.
	CallerOf func(ctx context.Context) Caller
	// SpendLog takes every model request's spend row when it ends; it must
	// not block (the spend batcher's Add). nil logs no spend.
	SpendLog func(spend.Row)
	// SpendStore serves GET /spend/logs; nil leaves the route out.
	SpendStore store.SpendLogs
	// StorePrompts keeps each model request's body (up to 1 MiB) in its
	// spend log row (general_settings.store_prompts_in_spend_logs).
	StorePrompts bool
	// Auth checks every request's key; nil serves everyone (no master key).
	Auth *auth.Authenticator
	// MetricsNeedAuth makes GET /metrics need a key too.
	MetricsNeedAuth bool
	// Admin serves the key, team and user management routes; nil leaves them out.
	Admin *keys.Service
	// Reload serves POST /config/reload; nil leaves the route out.
	Reload ReloadFunc
	// MaxInFlight bounds the requests served at once (health and metrics
	// routes aside); above it, requests are answered 503 at once. 0 means
	// no bound.
	MaxInFlight int
	// MaxBodyBytesInFlight bounds the request body bytes held at once;
	// a body that does not fit is answered 503. 0 means no bound.
	MaxBodyBytesInFlight int64
	// RequestBodyTimeout is the time a whole request body may take to
	// arrive; a slower one is answered 408. 0 means no limit.
	RequestBodyTimeout time.Duration
	// StreamWriteTimeout is how long a write of an answer may wait for a
	// client that stopped reading before the connection is cut (and with
	// it the Bedrock call). 0 means no limit.
	StreamWriteTimeout time.Duration
	// Tracer starts a span per request (health probes and metrics
	// scrapes aside); nil traces nothing.
	Tracer trace.Tracer
	// TraceMessages records prompt and completion text on the spans.
	TraceMessages bool
}

// Server serves the OpenAI-compatible API.
type Server struct {
	router   *router.Router
	log      *slog.Logger
	settings atomic.Pointer[Settings]
	now      func() time.Time
	ready    func(ctx context.Context) error
	created  int64
	// responses keeps stored responses; nil when no database is configured.
	responses store.Responses
	mux       *http.ServeMux

	metrics  *metrics.Metrics
	gatherer prometheus.Gatherer
	redisUp  func() bool
	// keyListenerUp: see Options.KeyListenerUp.
	keyListenerUp func() bool

	limiter       *limits.Limiter
	callerOf      func(ctx context.Context) Caller
	spendLog      func(spend.Row)
	spendStore    store.SpendLogs
	auth          *auth.Authenticator
	admin         *keys.Service
	reload        ReloadFunc
	inFlight      inFlight
	active        atomic.Int64 // requests being served, health routes included
	cut           atomic.Int64 // requests cut by the shutdown deadline
	draining      atomic.Bool
	bodies        bodyBudget
	tracer        trace.Tracer
	traceMessages bool
}

// DefaultMaxRequestBytes is large enough for several inline images.
const DefaultMaxRequestBytes = 32 << 20

// New builds the server and its routes.
func New(opts Options) *Server {
	s := &Server{
		router:    opts.Router,
		log:       opts.Logger,
		now:       opts.Now,
		ready:     opts.Ready,
		responses: opts.Responses,

		metrics:  opts.Metrics,
		gatherer: opts.Gatherer,
		redisUp:  opts.RedisUp,

		keyListenerUp: opts.KeyListenerUp,

		limiter:       opts.Limiter,
		callerOf:      opts.CallerOf,
		spendLog:      opts.SpendLog,
		spendStore:    opts.SpendStore,
		auth:          opts.Auth,
		admin:         opts.Admin,
		reload:        opts.Reload,
		tracer:        opts.Tracer,
		traceMessages: opts.TraceMessages && opts.Tracer != nil,
	}
	s.inFlight.limit = int64(max(0, opts.MaxInFlight))
	s.bodies.limit = max(0, opts.MaxBodyBytesInFlight)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = lazyLogger(s.log)
	s.SetSettings(Settings{
		MaxRequestBytes:     opts.MaxRequestBytes,
		RequestBodyTimeout:  opts.RequestBodyTimeout,
		StreamWriteTimeout:  opts.StreamWriteTimeout,
		HealthCheckUpstream: opts.HealthCheckUpstream,
		StorePrompts:        opts.StorePrompts,
		MetricsNeedAuth:     opts.MetricsNeedAuth,
		Fetcher:             opts.Fetcher,
	})
	if s.now == nil {
		s.now = time.Now
	}
	s.created = s.now().Unix()
	s.routes()
	return s
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	for _, prefix := range []string{"", "/v1"} {
		mux.Handle("POST "+prefix+"/chat/completions", s.handle(s.chatCompletions))
		mux.Handle(prefix+"/chat/completions", s.handle(methodNotAllowed("POST")))
		mux.Handle("POST "+prefix+"/embeddings", s.handle(s.embeddings))
		mux.Handle(prefix+"/embeddings", s.handle(methodNotAllowed("POST")))
		mux.Handle("POST "+prefix+"/images/generations", s.handle(s.imageGenerations))
		mux.Handle(prefix+"/images/generations", s.handle(methodNotAllowed("POST")))
		mux.Handle("POST "+prefix+"/responses", s.handle(s.createResponse))
		mux.Handle(prefix+"/responses", s.handle(methodNotAllowed("POST")))
		mux.Handle("GET "+prefix+"/responses/{id}", s.handle(s.getResponse))
		mux.Handle("DELETE "+prefix+"/responses/{id}", s.handle(s.deleteResponse))
		mux.Handle("GET "+prefix+"/responses/{id}/input_items", s.handle(s.listInputItems))
		mux.Handle("GET "+prefix+"/models", s.handle(s.listModels))
		mux.Handle("GET "+prefix+"/models/{model...}", s.handle(s.getModel))
	}
	for _, path := range []string{"/rerank", "/v1/rerank", "/v2/rerank"} {
		mux.Handle("POST "+path, s.handle(s.rerank))
		mux.Handle(path, s.handle(methodNotAllowed("POST")))
	}
	mux.Handle("POST /v1/messages", s.handleAnthropic(s.messages))
	mux.Handle("POST /v1/messages/count_tokens", s.handleAnthropic(s.countTokens))
	mux.Handle("/v1/messages", s.handleAnthropic(methodNotAllowed("POST")))
	mux.Handle("/v1/messages/", s.handleAnthropic(s.anthropicNotFound))
	mux.Handle("POST /bedrock/model/", s.handleBedrock(s.passthrough))
	mux.Handle("/bedrock/", s.handleBedrock(s.bedrockNotFound))
	// Claude Code checks that its base URL answers before it starts.
	mux.Handle("HEAD /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	mux.Handle("GET /health/liveliness", s.handle(s.liveliness))
	mux.Handle("GET /health/liveness", s.handle(s.liveliness))
	mux.Handle("GET /health/readiness", s.handle(s.readiness))
	mux.Handle("GET /health", s.handle(s.health))
	if s.gatherer != nil {
		mux.Handle("GET /metrics", s.metricsHandler())
	}
	if s.spendStore != nil {
		mux.Handle("GET /spend/logs", s.handle(s.spendLogs))
		mux.Handle("/spend/logs", s.handle(methodNotAllowed("GET")))
		mux.Handle("GET /spend/logs/ui", s.handle(s.spendLogsUI))
		mux.Handle("/spend/logs/ui", s.handle(methodNotAllowed("GET")))
		mux.Handle("GET /global/spend/report", s.handle(s.spendReport))
		mux.Handle("/global/spend/report", s.handle(methodNotAllowed("GET")))
	}
	mux.Handle("GET /global/deployments", s.handle(s.deployments))
	mux.Handle("/global/deployments", s.handle(methodNotAllowed("GET")))
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	mux.Handle("GET /ui/", adminui.Handler("/ui/"))
	if s.admin != nil {
		s.adminRoutes(mux)
	}
	if s.reload != nil {
		mux.Handle("POST /config/reload", s.handle(s.reloadConfig))
		mux.Handle("/config/reload", s.handle(methodNotAllowed("POST")))
	}
	mux.Handle("/", s.handle(s.notFound))
	s.mux = mux
}

// ServeHTTP adds the request id and the access log around every route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 128 {
		// Sorting by time, it is stored at the end of the spend log's
		// request id index instead of at a random place in it.
		id = spend.NewID(s.now())
	}
	s.active.Add(1)
	defer s.active.Add(-1)
	start := s.now()
	settings := s.settings.Load()
	// One allocation and one context value carry what the request's
	// handlers and the access log share: its record, logger and settings.
	st := &requestState{sw: statusWriter{ResponseWriter: w, writeTimeout: settings.StreamWriteTimeout}}
	sw, rec := &st.sw, &st.rec
	setHeader(sw, "X-Request-Id", id)
	rec.log, rec.settings = s.log.With("request_id", id), settings
	log := rec.log
	ctx := context.WithValue(r.Context(), recordKey{}, rec)
	var span trace.Span
	if s.tracer != nil && traced(r.URL.Path) {
		ctx, span = s.startRequestSpan(ctx, r, start)
	}
	var principal *auth.Principal
	if ambiguousFraming(ctx) {
		r = r.WithContext(ctx)
		errorWriterFor(r.URL.Path)(sw, r, log, errAmbiguousFraming)
	} else if admitted, counted := s.inFlight.enter(r); !admitted {
		r = r.WithContext(ctx)
		errorWriterFor(r.URL.Path)(sw, r, log, errTooManyRequests)
	} else {
		var authCtx context.Context
		var err error
		authCtx, principal, err = s.authenticate(ctx, r)
		if err != nil {
			r = r.WithContext(ctx)
			errorWriterFor(r.URL.Path)(sw, r, log, err)
		} else {
			// The access log below reads the record and the span from ctx,
			// which the principal's context carries too.
			r = r.WithContext(authCtx)
			s.mux.ServeHTTP(sw, r)
		}
		s.bodies.release(rec)
		if counted {
			s.inFlight.leave()
		}
	}
	status := sw.status()
	end := s.now()
	if rec.refused != "" {
		s.metrics.Refused(rec.refused)
	}
	if rec.outcome == outcomeShutdownCut {
		s.cut.Add(1)
		s.metrics.ShutdownCut()
	}
	// The line names the request first, as the request's logger would,
	// without the copy of the record that logger makes.
	var attrsBuf [16]slog.Attr
	attrs := append(attrsBuf[:0],
		slog.String("request_id", id),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
		slog.Float64("duration_ms", float64(end.Sub(start).Microseconds())/1000),
	)
	if rec.outcome != "" {
		attrs = append(attrs, slog.String("outcome", rec.outcome))
	}
	if principal != nil {
		attrs = append(attrs, slog.String("key", principal.LogName()))
	}
	if rec.model != "" {
		s.metrics.Request(rec.model, rec.deployment, status)
		s.settle(r.Context(), id, rec, status, start, end)
		attrs = rec.appendAttrs(attrs)
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	if span != nil {
		s.endRequestSpan(span, rec, status, end)
	}
}

// errorWriterFor is the error writer of the surface a path belongs to:
// Anthropic's, Bedrock's (for the pass-through's AWS SDKs) or OpenAI's.
func errorWriterFor(path string) errorWriter {
	switch {
	case path == "/v1/messages" || strings.HasPrefix(path, "/v1/messages/"):
		return writeAnthropicError
	case strings.HasPrefix(path, "/bedrock/"):
		return writeBedrockError
	}
	return writeError
}

// requestRecord is what a model endpoint tells the access log and the
// request metrics about a request beyond its status.
type requestRecord struct {
	model      string // the model name asked for
	deployment string // the deployment that answered; "" if none did
	retries    int
	fallbacks  int
	usage      router.Usage

	// For accounting: who asked, what it cost.
	callType   string // "chat", "embeddings", "images", "rerank"
	stream     bool
	endUser    string
	caller     Caller
	lease      *limits.Lease
	admission  admission // counts the deployments the router picks, where the limiter does
	modelGroup string    // the model name that served
	modelID    string    // the Bedrock model id called
	spend      spend.Usage
	estimated  bool
	cost       float64
	bodyBytes  int64  // taken from the budget of body bytes in flight
	refused    string // why the request was refused unread, for the metrics
	prompt     string // the request body, when the spend log keeps it
	outcome    string // how the request ended, when not as its status says

	log      *slog.Logger // the request's logger
	settings *Settings    // the settings the request is served with

	// For the request's span.
	responseModel string      // the Bedrock model that answered
	err           error       // what the client was told went wrong, if anything
	gen           genAIRecord // parameters and answer, as the GenAI conventions name them
}

func (rec *requestRecord) appendAttrs(attrs []slog.Attr) []slog.Attr {
	attrs = append(attrs,
		slog.String("model", rec.model), slog.String("deployment", rec.deployment),
		slog.Int("retries", rec.retries), slog.Int("fallbacks", rec.fallbacks),
		slog.Int("prompt_tokens", rec.usage.InputTokens), slog.Int("completion_tokens", rec.usage.OutputTokens),
		slog.Float64("cost", rec.cost),
	)
	if rec.estimated {
		attrs = append(attrs, slog.Bool("cost_estimated", true))
	}
	if rec.caller.KeyAlias != "" {
		attrs = append(attrs, slog.String("key_alias", rec.caller.KeyAlias))
	}
	return attrs
}

// requestState is what ServeHTTP allocates for a request, in one piece.
type requestState struct {
	rec requestRecord
	sw  statusWriter
}

type recordKey struct{}

// recordFrom returns the request's record; a throwaway one outside ServeHTTP.
func recordFrom(ctx context.Context) *requestRecord {
	if rec, ok := ctx.Value(recordKey{}).(*requestRecord); ok {
		return rec
	}
	return &requestRecord{}
}

// errorWriter answers a request with an error, in its surface's shape.
type errorWriter func(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error)

// handlerFunc is an endpoint: it writes its answer, or returns an error
// for the one error writer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle serves an endpoint of the OpenAI routes.
func (s *Server) handle(h handlerFunc) http.Handler { return s.handleWith(writeError, h) }

// handleAnthropic serves an endpoint of the Anthropic surface.
func (s *Server) handleAnthropic(h handlerFunc) http.Handler {
	return s.handleWith(writeAnthropicError, h)
}

// handleBedrock serves an endpoint of the Bedrock pass-through.
func (s *Server) handleBedrock(h handlerFunc) http.Handler {
	return s.handleWith(writeBedrockError, h)
}

// handleWith serves h, its error written by the surface's error writer.
func (s *Server) handleWith(writeErr errorWriter, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeErr(w, r, loggerFrom(r.Context(), s.log), err)
		}
	})
}

// loggerFrom returns the request's logger; fallback outside ServeHTTP.
func loggerFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if rec, ok := ctx.Value(recordKey{}).(*requestRecord); ok && rec.log != nil {
		return rec.log
	}
	return fallback
}

// statusWriter remembers the status for the access log, and bounds each
// write: a client that stops reading for longer than writeTimeout makes
// the write fail, which ends the request (and cancels its Bedrock call)
// instead of holding it forever. Unwrap keeps http.ResponseController
// (flushing) working through it.
type statusWriter struct {
	http.ResponseWriter
	code         int
	writeTimeout time.Duration
	rc           *http.ResponseController
	values       headerValues
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.extendWriteDeadline()
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.extendWriteDeadline()
	return w.ResponseWriter.Write(b)
}

// extendWriteDeadline gives what is written now, and flushed right after,
// writeTimeout to reach the client. Between writes, while the answer waits
// for Bedrock, nothing is being written and no deadline can pass.
func (w *statusWriter) extendWriteDeadline() {
	if w.writeTimeout <= 0 {
		return
	}
	if w.rc == nil {
		w.rc = http.NewResponseController(w.ResponseWriter)
	}
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.writeTimeout))
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
