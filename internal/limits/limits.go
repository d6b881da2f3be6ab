// Package limits admits requests: it checks the rpm, tpm, parallel-request
// and budget limits of the key, team, user and gateway a request runs
// under, and hands back a lease that the request ends with its tokens and
// cost. It keeps counts, never spend rows; it makes no policy of its own.
package limits

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/strata-gateway/strata/internal/openai"
)

// Scope is one entity whose limits a request counts against: its key, the
// key's team and user, the end user, the gateway as a whole. Zero limits
// are no limits.
type Scope struct {
	Kind string // "key", "team", "user", "end_user" or "global"
	ID   string // the key's hash, the team's id, ...
	Name string // how messages name it: the key's alias, the team's alias, ...

	RPM, TPM, MaxParallel int64

	MaxBudget  *float64 // US dollars per BudgetDuration; nil is no budget
	SoftBudget *float64 // crossing it is logged, never refused
	// BudgetDuration is how often the budget resets (0: never); periods
	// run from BudgetAnchor (the entity's creation), else from the epoch.
	BudgetDuration time.Duration
	// BudgetMonths, when > 0, makes the periods calendar months instead
	// (budget_duration "1mo"): see periodOf.
	BudgetMonths int
	BudgetAnchor time.Time
	// ModelMaxBudget caps spend per model name.
	ModelMaxBudget map[string]ModelBudget
}

// ModelBudget is one entry of model_max_budget.
type ModelBudget struct {
	MaxBudget float64
	Duration  time.Duration // time_period; 0 never resets
	Months    int           // time_period in calendar months, instead of Duration
}

// Options configures a Limiter.
type Options struct {
	Counter Counter // nil: an in-memory counter
	// Spend reads the spend logs when a budget period is first seen; nil
	// starts every budget at 0.
	Spend SpendSource
	// Global is the gateway's own scope (litellm_settings.max_budget),
	// counted by every request after the caller's; nil: none.
	Global *Scope
	// CountDeployments makes the limiter count the deployments' own rpm
	// and tpm (AdmitTo), as gateways sharing a counter must; otherwise the
	// router counts them in this process.
	CountDeployments bool
	Logger           *slog.Logger
	Now              func() time.Time
}

// Limiter admits requests.
type Limiter struct {
	global      atomic.Pointer[Scope]
	deployments bool
	counter     Counter
	budgets     *budgets
	log         *slog.Logger
	now         func() time.Time
}

// New returns a Limiter.
func New(o Options) *Limiter {
	l := &Limiter{counter: o.Counter, deployments: o.CountDeployments, log: o.Logger, now: o.Now}
	l.global.Store(o.Global)
	if l.counter == nil {
		l.counter = NewMemory()
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.budgets = &budgets{source: o.Spend, log: l.log, spent: map[BudgetRef]*period{}}
	return l
}

const minute = time.Minute

// Exceeded is a refusal because a rate or parallel-request limit was
// reached: a 429 with Retry-After and the x-ratelimit-* headers.
type Exceeded struct {
	Scope      string // "key team-a-bot", ...
	Limit      string // "rpm_limit", "tpm_limit", "max_parallel_requests"
	Value      int64
	RetryAfter time.Duration
	headers    rateHeaders
}

func (e *Exceeded) Error() string {
	return fmt.Sprintf("Rate limit exceeded for %s: %s %d reached; try again in %s", e.Scope, e.Limit, e.Value, retryAfterSeconds(e.RetryAfter)+"s")
}

// ClientError is the 429 the client gets.
func (e *Exceeded) ClientError() *openai.Error {
	return &openai.Error{Status: http.StatusTooManyRequests, Type: openai.TypeRateLimit, Code: "rate_limit_exceeded",
		Param: e.Limit, Message: e.Error(), Err: e}
}

// SetHeaders writes Retry-After and the x-ratelimit-* headers.
func (e *Exceeded) SetHeaders(h http.Header) {
	h.Set("Retry-After", retryAfterSeconds(e.RetryAfter))
	e.headers.set(h)
}

// BudgetExceeded is a refusal because spend reached a max_budget; the
// client gets LiteLLM's budget_exceeded error.
type BudgetExceeded struct {
	Scope   string
	Model   string // set for a model_max_budget
	Spent   float64
	Max     float64
	ResetAt time.Time // zero: the budget never resets
}

func (e *BudgetExceeded) Error() string {
	msg := fmt.Sprintf("Budget has been exceeded! %s Current cost: %s, Max budget: %s", e.Scope,
		strconv.FormatFloat(e.Spent, 'g', -1, 64), strconv.FormatFloat(e.Max, 'g', -1, 64))
	if e.Model != "" {
		msg = fmt.Sprintf("Budget has been exceeded for model=%s! %s Current cost: %s, Max budget: %s", e.Model, e.Scope,
			strconv.FormatFloat(e.Spent, 'g', -1, 64), strconv.FormatFloat(e.Max, 'g', -1, 64))
	}
	if !e.ResetAt.IsZero() {
		msg += ". Budget resets at " + e.ResetAt.UTC().Format(time.RFC3339)
	}
	return msg
}

// ClientError is LiteLLM's answer to a spent budget: a 400 of type
// budget_exceeded.
func (e *BudgetExceeded) ClientError() *openai.Error {
	return &openai.Error{Status: http.StatusBadRequest, Type: "budget_exceeded", Code: "400", Message: e.Error(), Err: e}
}

// rateHeaders are the x-ratelimit-* values of the scope closest to its
// limits; -1 when no scope sets that limit.
type rateHeaders struct {
	limitRequests, remainingRequests int64
	limitTokens, remainingTokens     int64
}

func (r rateHeaders) set(h http.Header) {
	if r.limitRequests >= 0 {
		h.Set("X-Ratelimit-Limit-Requests", strconv.FormatInt(r.limitRequests, 10))
		h.Set("X-Ratelimit-Remaining-Requests", strconv.FormatInt(max(r.remainingRequests, 0), 10))
	}
	if r.limitTokens >= 0 {
		h.Set("X-Ratelimit-Limit-Tokens", strconv.FormatInt(r.limitTokens, 10))
		h.Set("X-Ratelimit-Remaining-Tokens", strconv.FormatInt(max(r.remainingTokens, 0), 10))
	}
}

func (r *rateHeaders) requests(limit, used int64) {
	if r.limitRequests < 0 || limit-used < r.remainingRequests {
		r.limitRequests, r.remainingRequests = limit, limit-used
	}
}

func (r *rateHeaders) tokens(limit, used int64) {
	if r.limitTokens < 0 || limit-used < r.remainingTokens {
		r.limitTokens, r.remainingTokens = limit, limit-used
	}
}

func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10)
}

func scopeName(s *Scope) string {
	name := s.Name
	if name == "" {
		name = s.ID
	}
	switch s.Kind {
	case "global":
		return "Gateway (litellm_settings.max_budget)"
	case "key":
		return "Key=" + name
	case "team":
		return "Team=" + name
	case "user":
		return "User=" + name
	case "end_user":
		return "EndUser=" + name
	}
	return s.Kind + "=" + name
}

func counterKey(limit string, s *Scope) Key { return Key{Limit: limit, Kind: s.Kind, ID: s.ID} }

// stepInfo says which scope and limit a step counts, to name a refusal.
type stepInfo struct {
	scope *Scope
	limit string // "tpm", "rpm" or "parallel"
}

// CountsDeployments says whether deployments' own limits are counted
// here (AdmitTo) rather than by the router.
func (l *Limiter) CountsDeployments() bool { return l.deployments }

// SetGlobal replaces the gateway's own scope (nil: none) for the requests
// admitted from now on; what it counted so far stays counted.
func (l *Limiter) SetGlobal(s *Scope) { l.global.Store(s) }

// Admit checks every scope's limits for a request for model and, if none
// is reached, takes a request and a parallel slot from each and returns
// the lease the request must End. The counts of all scopes are checked and
// taken in one call to the counter. A refusal is an *Exceeded or a
// *BudgetExceeded. If the counter backend fails, the request is admitted
// and the failure logged: an outage of the limits' store must not stop
// the gateway.
func (l *Limiter) Admit(ctx context.Context, scopes []Scope, model string) (*Lease, error) {
	return l.admit(ctx, scopes, model, nil)
}

// AdmitTo is Admit for a request the router sends to deployment d: d's
// own limits (rpm, tpm, max_parallel_requests) are checked and taken in
// the same call to the counter as the scopes' counts. A refusal by d's limits is a *DeploymentFull, and
// takes nothing: the router may pick another deployment.
func (l *Limiter) AdmitTo(ctx context.Context, scopes []Scope, model string, d *Deployment) (*Lease, error) {
	return l.admit(ctx, scopes, model, d)
}

func (l *Limiter) admit(ctx context.Context, scopes []Scope, model string, d *Deployment) (*Lease, error) {
	global := l.global.Load()
	if len(scopes) == 0 && global == nil && !d.limited() {
		return nil, nil
	}
	now := l.now()
	lease := &Lease{l: l, model: model, headers: rateHeaders{-1, -1, -1, -1}}
	lease.parallel, lease.tpm, lease.budgets = lease.parallelBuf[:0], lease.tpmBuf[:0], lease.budgetBuf[:0]
	n := len(scopes)
	if global != nil {
		n++
	}
	scope := func(i int) *Scope {
		if i == len(scopes) {
			return global
		}
		return &scopes[i]
	}
	for i := range n {
		if err := l.checkBudgets(ctx, scope(i), model, now, lease); err != nil {
			return nil, err
		}
	}
	var stepBuf [12]Step
	var infoBuf [12]stepInfo
	steps, infos := stepBuf[:0], infoBuf[:0]
	for i := range n {
		s := scope(i)
		if s.TPM > 0 {
			steps = append(steps, Step{Key: counterKey("tpm", s), Window: minute, Limit: s.TPM})
			infos = append(infos, stepInfo{s, "tpm"})
		}
		if s.RPM > 0 {
			steps = append(steps, Step{Key: counterKey("rpm", s), Window: minute, N: 1, Limit: s.RPM})
			infos = append(infos, stepInfo{s, "rpm"})
		}
		if s.MaxParallel > 0 {
			steps = append(steps, Step{Key: counterKey("parallel", s), N: 1, Limit: s.MaxParallel})
			infos = append(infos, stepInfo{s, "parallel"})
		}
	}
	steps = d.steps(steps)
	if len(steps) == 0 && len(lease.spendKeys) == 0 {
		return lease, nil
	}
	taken, err := l.counter.Take(ctx, steps, lease.spendKeys, now)
	if err != nil {
		l.log.Warn("rate limit counter failed; admitting the request", "error", err.Error())
		return lease, nil
	}
	lease.by = taken.by
	if lease.by == nil {
		lease.by = l.counter
	}
	if taken.Refused >= len(infos) {
		return nil, d.full(steps[taken.Refused], now)
	}
	if taken.Refused >= 0 {
		return nil, l.exceeded(steps, infos, taken, now, lease)
	}
	lease.tookDeployment(d)
	for i, st := range steps[:len(infos)] {
		s := infos[i].scope
		switch infos[i].limit {
		case "tpm":
			lease.headers.tokens(s.TPM, taken.Counts[i])
			lease.tpm = append(lease.tpm, st.Key)
		case "rpm":
			lease.headers.requests(s.RPM, taken.Counts[i])
		case "parallel":
			lease.parallel = append(lease.parallel, st.Key)
		}
	}
	if err := l.sharedBudgets(lease, taken.Spent, now); err != nil {
		// Another gateway spent the budget: give back what was taken.
		lease.giveBack(context.WithoutCancel(ctx), steps)
		return nil, err
	}
	return lease, nil
}

// exceeded is the refusal of the step Take refused, with the headers of
// the steps before it.
func (l *Limiter) exceeded(steps []Step, infos []stepInfo, taken Taken, now time.Time, lease *Lease) error {
	for i := range taken.Refused {
		s := infos[i].scope
		switch infos[i].limit {
		case "tpm":
			lease.headers.tokens(s.TPM, taken.Counts[i])
		case "rpm":
			lease.headers.requests(s.RPM, taken.Counts[i]+1)
		}
	}
	i := taken.Refused
	s := infos[i].scope
	switch infos[i].limit {
	case "tpm":
		lease.headers.tokens(s.TPM, taken.Counts[i])
		return &Exceeded{Scope: scopeName(s), Limit: "tpm_limit", Value: s.TPM, RetryAfter: untilNextMinute(now), headers: lease.headers}
	case "rpm":
		lease.headers.requests(s.RPM, s.RPM)
		return &Exceeded{Scope: scopeName(s), Limit: "rpm_limit", Value: s.RPM, RetryAfter: untilNextMinute(now), headers: lease.headers}
	}
	return &Exceeded{Scope: scopeName(s), Limit: "max_parallel_requests", Value: s.MaxParallel, RetryAfter: time.Second, headers: lease.headers}
}

func (l *Limiter) checkBudgets(ctx context.Context, s *Scope, model string, now time.Time, lease *Lease) error {
	if s.MaxBudget != nil || s.SoftBudget != nil {
		ref := BudgetRef{Kind: s.Kind, ID: s.ID}
		p := l.budgets.current(ctx, ref, s.BudgetAnchor, s.BudgetDuration, s.BudgetMonths, now)
		spent := l.budgets.spentIn(p)
		if s.MaxBudget != nil && spent >= *s.MaxBudget {
			return &BudgetExceeded{Scope: scopeName(s), Spent: spent, Max: *s.MaxBudget, ResetAt: p.end}
		}
		l.softBudget(s, p, spent)
		lease.budgets = append(lease.budgets, ref)
		lease.spendKeys = append(lease.spendKeys, SpendKey{Ref: ref, Start: p.start, End: p.end, Seed: spent})
		lease.budgetLimits = append(lease.budgetLimits, budgetLimit{scope: s, max: s.MaxBudget, p: p})
	}
	if mb, ok := s.ModelMaxBudget[model]; ok {
		ref := BudgetRef{Kind: s.Kind, ID: s.ID, Model: model}
		p := l.budgets.current(ctx, ref, s.BudgetAnchor, mb.Duration, mb.Months, now)
		spent := l.budgets.spentIn(p)
		if spent >= mb.MaxBudget {
			return &BudgetExceeded{Scope: scopeName(s), Model: model, Spent: spent, Max: mb.MaxBudget, ResetAt: p.end}
		}
		lease.budgets = append(lease.budgets, ref)
		lease.spendKeys = append(lease.spendKeys, SpendKey{Ref: ref, Start: p.start, End: p.end, Seed: spent})
		maxBudget := mb.MaxBudget
		lease.budgetLimits = append(lease.budgetLimits, budgetLimit{scope: s, model: model, max: &maxBudget, p: p})
	}
	return nil
}

func (l *Limiter) softBudget(s *Scope, p *period, spent float64) {
	if s.SoftBudget == nil || spent < *s.SoftBudget {
		return
	}
	l.budgets.mu.Lock()
	warn := !p.softWarned
	p.softWarned = true
	l.budgets.mu.Unlock()
	if warn {
		l.log.Warn("soft budget reached", "scope", scopeName(s), "spend", spent, "soft_budget", *s.SoftBudget)
	}
}

// sharedBudgets checks the budgets again with the spend other gateways
// counted, as the counter read it with the request's counts.
func (l *Limiter) sharedBudgets(lease *Lease, spent []float64, now time.Time) error {
	for i, v := range spent {
		if i >= len(lease.budgetLimits) || v < 0 {
			continue
		}
		b := lease.budgetLimits[i]
		total := l.budgets.share(b.p, v)
		if b.max != nil && total >= *b.max {
			return &BudgetExceeded{Scope: scopeName(b.scope), Model: b.model, Spent: total, Max: *b.max, ResetAt: b.p.end}
		}
		if b.model == "" {
			l.softBudget(b.scope, b.p, total)
		}
	}
	return nil
}

func untilNextMinute(now time.Time) time.Duration {
	return windowStart(now, minute).Add(minute).Sub(now)
}

// Lease is an admitted request's hold on its limits.
type Lease struct {
	l        *Limiter
	model    string
	parallel []Key       // parallel counters to give back
	tpm      []Key       // tpm counters to add the tokens to
	budgets  []BudgetRef // budgets to add the cost to
	// spendKeys are the budgets' periods, as the counter shares them;
	// budgetLimits, in the same order, what each is checked against.
	spendKeys    []SpendKey
	budgetLimits []budgetLimit
	// deployment is the tpm counter of the deployment the request was
	// last sent to, where deployments' limits are counted here.
	deployment     *Key
	deploymentSlot *Key    // its parallel counter, to give back
	by             Counter // the counter that took the counts; nil: none taken
	headers        rateHeaders
	ended          bool

	// Room for the usual key, team, user and gateway without allocating.
	parallelBuf, tpmBuf [4]Key
	budgetBuf           [4]BudgetRef
}

// budgetLimit is one budget a lease was checked against.
type budgetLimit struct {
	scope *Scope
	model string
	max   *float64
	p     *period
}

// SetHeaders writes the x-ratelimit-* headers of an admitted request.
func (le *Lease) SetHeaders(h http.Header) {
	if le != nil {
		le.headers.set(h)
	}
}

// End gives back the request's parallel slots and counts its tokens and
// cost, in one call to the counter. It may be called more than once; only
// the first counts.
func (le *Lease) End(ctx context.Context, tokens int64, cost float64) {
	if le == nil || le.ended {
		return
	}
	le.ended = true
	ctx = context.WithoutCancel(ctx)
	now := le.l.now()
	for _, ref := range le.budgets {
		le.l.budgets.add(ref, cost, now)
	}
	if le.by == nil {
		return
	}
	var stepBuf [8]Step
	steps := stepBuf[:0]
	for _, key := range le.parallel {
		steps = append(steps, Step{Key: key, N: -1})
	}
	if le.deploymentSlot != nil {
		steps = append(steps, Step{Key: *le.deploymentSlot, N: -1})
	}
	if tokens > 0 {
		for _, key := range le.tpm {
			steps = append(steps, Step{Key: key, Window: minute, N: tokens})
		}
		if le.deployment != nil {
			steps = append(steps, Step{Key: *le.deployment, Window: minute, N: tokens})
		}
	}
	var adds []SpendAdd
	if cost > 0 {
		adds = make([]SpendAdd, len(le.spendKeys))
		for i, k := range le.spendKeys {
			adds[i] = SpendAdd{Key: k, Cost: cost}
		}
	}
	if len(steps) == 0 && len(adds) == 0 {
		return
	}
	if err := le.by.Settle(ctx, steps, adds, now); err != nil {
		le.l.log.Warn("rate limit counter failed", "error", err.Error())
	}
}

// giveBack undoes what Admit took for a request it then refused.
func (le *Lease) giveBack(ctx context.Context, taken []Step) {
	if le.by == nil {
		return
	}
	var steps []Step
	for _, s := range taken {
		if s.N != 0 {
			steps = append(steps, Step{Key: s.Key, Window: s.Window, N: -s.N})
		}
	}
	if len(steps) == 0 {
		return
	}
	if err := le.by.Settle(ctx, steps, nil, le.l.now()); err != nil {
		le.l.log.Warn("rate limit counter failed", "error", err.Error())
	}
}
