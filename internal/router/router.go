// Package router maps a client's model name to the deployments that serve
// it, picks the one each call goes to, and rides out failures: rpm/tpm
// limits, cooldowns, retries with backoff, fallbacks and timeouts. It does
// not translate or speak HTTP to clients; the caller makes each attempt.
package router

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/metrics"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/spend"
	"github.com/strata-gateway/strata/internal/translate"
)

// Deployment is one model_list entry, ready to serve: its Bedrock client
// and translation target are built once, at startup.
type Deployment struct {
	Name      string // model_name clients ask for
	ID        string // stable id for logs and metrics: "<model_name>#<n>"
	BaseModel string // Bedrock base model id: decides translation family
	ModelID   string // id in the Bedrock URL: base model, profile or ARN
	Client    *bedrock.Client
	Chat      *translate.ChatTarget
	API       translate.API           // the endpoint the model serves
	Route     string                  // translate.RouteConverse or translate.RouteInvoke
	Invoke    *translate.InvokeTarget // chat through InvokeModel; nil on Converse
	Embed     *translate.EmbedTarget  // set for embedding models
	Image     *translate.ImageTarget  // set for image-generation models
	Rerank    *translate.RerankTarget // set for rerank models
	Policy    Policy
	Price     spend.Price // what a call costs; zero for a model without a known price
	// DropParams (additional_drop_params) are request parameters never
	// sent to this deployment, whatever the client asks.
	DropParams []string
	// Broken says why the deployment could not be built (an unset
	// environment variable, a placeholder role ARN ...). The router skips
	// it while its model name has deployments that work, and answers with
	// this error when none does; the other fields may be unset.
	Broken error

	index   int // position among its model name's deployments
	state   *state
	metrics *metrics.Deployment
}

// Policy is how the router treats one deployment (litellm_params rpm, tpm,
// weight, timeout, stream_timeout, num_retries). Zero values mean unset.
type Policy struct {
	RPM, TPM      int     // limits per minute: this gateway's, or with Redis all gateways' together
	MaxParallel   int     // max_parallel_requests: calls in flight at once, counted as rpm and tpm are
	Weight        float64 // relative share under simple-shuffle
	Timeout       time.Duration
	StreamTimeout time.Duration
	NumRetries    *int
}

// Strategies, by their LiteLLM names.
const (
	SimpleShuffle = "simple-shuffle"
	LeastBusy     = "least-busy"
	LatencyBased  = "latency-based-routing"
	UsageBased    = "usage-based-routing"
)

// Defaults follow LiteLLM's where it has one.
const (
	DefaultAllowedFails      = 3
	DefaultCooldownTime      = 5 * time.Second
	DefaultRetryAfter        = 500 * time.Millisecond // first backoff; doubles per retry
	MaxBackoff               = 8 * time.Second
	DefaultTimeout           = 10 * time.Minute
	DefaultStreamIdleTimeout = 2 * time.Minute
	// MaxRequestRetries caps a request's own num_retries, so that a client
	// cannot keep the gateway retrying for hours.
	MaxRequestRetries = 10
)

// Options configures a Router. Zero values take the defaults above.
type Options struct {
	Strategy string
	// NumRetries is how many times a failed call is tried again within a
	// model name. Zero by default: the OpenAI SDKs retry on their own, and
	// two layers of retries multiply.
	NumRetries       int
	AllowedFails     *int           // failures within a minute before a cooldown
	CooldownTime     *time.Duration // how long a failing deployment sits out
	DisableCooldowns bool
	RetryAfter       *time.Duration // first backoff before trying a deployment again

	Timeout           time.Duration // one call, a whole stream included
	StreamTimeout     time.Duration // a stream's first token; 0: only Timeout
	StreamIdleTimeout time.Duration // silence between stream events

	// Fallbacks map a model name (or "*" for any) to the names tried after it.
	Fallbacks              map[string][]string
	ContextWindowFallbacks map[string][]string
	ContentPolicyFallbacks map[string][]string
	// Aliases map other names clients send (model_group_alias) to model names.
	Aliases map[string]string
	// Unserved describes the model names the config gives to other
	// providers, e.g. "gpt-4o" -> `an openai model ("openai/gpt-4o")`: a
	// request for one gets a 400 that says so.
	Unserved map[string]string

	// MayServe says whether the request of ctx may be served by a model
	// name; a fallback it refuses is skipped and logged, never called. nil:
	// any. The model asked for is the caller's to check before Do.
	MayServe func(ctx context.Context, model string) error

	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Tracer starts a span per attempt; nil traces nothing.
	Tracer trace.Tracer
	Now    func() time.Time
	Rand   func() float64 // uniform in [0, 1); must be safe for concurrent use
	// Sleep waits d or until ctx ends; tests replace it to see backoffs.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Router serves the model table it was built with until Swap replaces it.
// A call keeps the table it started on to its end, retries and fallbacks
// included, so that a config reload never changes a request halfway.
type Router struct {
	live atomic.Pointer[table]
	// onCooldown, when set, is told of every cooldown this gateway starts,
	// so that other gateways skip the deployment too.
	onCooldown atomic.Pointer[func(deploymentID string, until time.Time)]
}

// table is one config's deployments by model name, with router_settings.
// It is never changed once built; the deployments' runtime state is.
type table struct {
	groups   map[string]*group
	names    []string // in config order, each once
	unserved map[string]string

	strategy          string
	allowedFails      int
	cooldownTime      time.Duration
	disableCooldowns  bool
	retryAfter        time.Duration
	timeout           time.Duration
	streamTimeout     time.Duration
	streamIdleTimeout time.Duration

	mayServe func(ctx context.Context, model string) error

	owner   *Router // set before the table is served
	log     *slog.Logger
	metrics *metrics.Metrics
	tracer  trace.Tracer
	now     func() time.Time
	rand    func() float64
	sleep   func(ctx context.Context, d time.Duration) error
}

// group is the deployments of one model name.
type group struct {
	name          string
	deployments   []*Deployment
	numRetries    int
	fallbacks     []*group
	contextWindow []*group
	contentPolicy []*group
}

// New builds a router over deployments, kept in the order given.
func New(deployments []*Deployment, opts Options) (*Router, error) {
	t, err := newTable(deployments, opts)
	if err != nil {
		return nil, err
	}
	r := &Router{}
	t.owner = r
	r.live.Store(t)
	return r, nil
}

// ShareCooldowns makes every cooldown this gateway starts known to f
// (which publishes it to the other gateways); nil stops it.
func (r *Router) ShareCooldowns(f func(deploymentID string, until time.Time)) {
	if f == nil {
		r.onCooldown.Store(nil)
		return
	}
	r.onCooldown.Store(&f)
}

// CoolDown takes the deployment with that id out of rotation until the
// given time, as another gateway decided; a later cooldown already
// running is kept. It reports whether the id is served here.
func (r *Router) CoolDown(deploymentID string, until time.Time) bool {
	t := r.live.Load()
	for _, g := range t.groups {
		for _, d := range g.deployments {
			if d.ID == deploymentID {
				d.state.coolTo(until)
				return true
			}
		}
	}
	return false
}

// Cooldowns lists the deployments cooling down now, with their ends.
func (r *Router) Cooldowns() map[string]time.Time {
	t := r.live.Load()
	now := t.now()
	out := map[string]time.Time{}
	for _, g := range t.groups {
		for _, d := range g.deployments {
			if until := d.state.cooldownEnd(); until.After(now) {
				out[d.ID] = until
			}
		}
	}
	return out
}

// Swap makes r serve next's model table from now on; calls already
// started finish on the table they started on. A deployment of next that
// is also in r's table (same id, Bedrock model, region and endpoint) takes
// over its runtime state: its cooldown, its usage against rpm and tpm, its
// calls in flight and its latency. next is not to be used after.
func (r *Router) Swap(next *Router) {
	old, t := r.live.Load(), next.live.Load()
	kept := make(map[string]*Deployment)
	for _, g := range old.groups {
		for _, d := range g.deployments {
			kept[d.ID] = d
		}
	}
	for _, g := range t.groups {
		for _, d := range g.deployments {
			if prev := kept[d.ID]; prev != nil && sameUpstream(prev, d) {
				d.state = prev.state
			}
		}
	}
	t.owner = r
	r.live.Store(t)
}

// sameUpstream reports whether a and b call the same Bedrock model at the
// same place, so that what was learnt about one holds for the other.
func sameUpstream(a, b *Deployment) bool {
	if a.Broken != nil || b.Broken != nil || a.ModelID != b.ModelID || (a.Client == nil) != (b.Client == nil) {
		return false
	}
	return a.Client == nil || a.Client.Region() == b.Client.Region() && a.Client.Endpoint() == b.Client.Endpoint()
}

func newTable(deployments []*Deployment, opts Options) (*table, error) {
	r := &table{
		groups:            make(map[string]*group),
		unserved:          opts.Unserved,
		strategy:          opts.Strategy,
		allowedFails:      valueOr(opts.AllowedFails, DefaultAllowedFails),
		cooldownTime:      valueOr(opts.CooldownTime, DefaultCooldownTime),
		disableCooldowns:  opts.DisableCooldowns,
		retryAfter:        valueOr(opts.RetryAfter, DefaultRetryAfter),
		timeout:           cmpOr(opts.Timeout, DefaultTimeout),
		streamTimeout:     opts.StreamTimeout,
		streamIdleTimeout: cmpOr(opts.StreamIdleTimeout, DefaultStreamIdleTimeout),
		mayServe:          opts.MayServe,
		log:               opts.Logger,
		metrics:           opts.Metrics,
		tracer:            opts.Tracer,
		now:               opts.Now,
		rand:              opts.Rand,
		sleep:             opts.Sleep,
	}
	switch r.strategy {
	case "":
		r.strategy = SimpleShuffle
	case SimpleShuffle, LeastBusy, LatencyBased, UsageBased:
	default:
		return nil, fmt.Errorf("router: unknown routing strategy %q", opts.Strategy)
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.rand == nil {
		r.rand = rand.Float64
	}
	if r.sleep == nil {
		r.sleep = sleepContext
	}
	for _, d := range deployments {
		g := r.groups[d.Name]
		if g == nil {
			g = &group{name: d.Name, numRetries: opts.NumRetries}
			r.groups[d.Name] = g
			r.names = append(r.names, d.Name)
		}
		if d.Policy.NumRetries != nil && *d.Policy.NumRetries > g.numRetries {
			g.numRetries = *d.Policy.NumRetries
		}
		d.index = len(g.deployments)
		if d.state == nil {
			d.state = &state{}
		}
		d.metrics = opts.Metrics.Deployment(d.Name, d.ID)
		g.deployments = append(g.deployments, d)
	}
	var err error
	groups := maps.Clone(r.groups)
	for alias, name := range opts.Aliases {
		if r.groups[alias] != nil {
			continue // a model name of its own wins over an alias
		}
		g := groups[name]
		if g == nil {
			return nil, fmt.Errorf("router: model_group_alias %s: model %q is not served", alias, name)
		}
		r.groups[alias] = g
	}
	for _, g := range groups {
		if g.fallbacks, err = r.fallbackGroups(g.name, "fallbacks", opts.Fallbacks); err != nil {
			return nil, err
		}
		if g.contextWindow, err = r.fallbackGroups(g.name, "context_window_fallbacks", opts.ContextWindowFallbacks); err != nil {
			return nil, err
		}
		if g.contentPolicy, err = r.fallbackGroups(g.name, "content_policy_fallbacks", opts.ContentPolicyFallbacks); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// fallbackGroups resolves the fallbacks of model name, its own entry or
// else the "*" one.
func (r *table) fallbackGroups(name, setting string, fallbacks map[string][]string) ([]*group, error) {
	to, ok := fallbacks[name]
	if !ok {
		to = fallbacks["*"]
	}
	var out []*group
	for _, n := range to {
		if n == name {
			continue // a model is not its own fallback, notably under "*"
		}
		g := r.groups[n]
		if g == nil {
			return nil, fmt.Errorf("router: %s of %s: model %q is not served", setting, name, n)
		}
		out = append(out, g)
	}
	return out, nil
}

// Names lists the model names served, in config order.
func (r *Router) Names() []string { return slices.Clone(r.live.Load().names) }

// Deployments lists the deployments of a model name, those that could not
// be built included: check Broken before using one's client.
func (r *Router) Deployments(name string) []*Deployment {
	if g := r.live.Load().groups[name]; g != nil {
		return g.deployments
	}
	return nil
}

// Has reports whether model name is served, as an error for the client if not.
func (r *Router) Has(name string) error {
	t := r.live.Load()
	if t.groups[name] == nil {
		return t.unknownModel(name)
	}
	return nil
}

// CoolingDown reports whether d is out of rotation until the returned time.
func (r *Router) CoolingDown(d *Deployment) (bool, time.Time) {
	until := d.state.cooldownEnd()
	return until.After(r.live.Load().now()), until
}

func (r *table) unknownModel(name string) error {
	if name == "" {
		return openai.InvalidRequest("model", "model is required; available models: %s", strings.Join(r.names, ", "))
	}
	if what, ok := r.unserved[name]; ok {
		e := openai.InvalidRequest("model", "model %q is %s in this gateway's config: this gateway serves AWS Bedrock models only, and does not call that provider; available models: %s",
			name, what, strings.Join(r.names, ", "))
		e.Code = "model_provider_not_served"
		return e
	}
	e := openai.InvalidRequest("model", "model %q is not served here; available models: %s", name, strings.Join(r.names, ", "))
	e.Code = "model_not_found"
	return e
}

// String describes the router for startup logs.
func (r *Router) String() string {
	t := r.live.Load()
	var b strings.Builder
	for _, n := range t.names {
		fmt.Fprintf(&b, "%s(%d) ", n, len(t.groups[n].deployments))
	}
	return strings.TrimSpace(b.String())
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func valueOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
