package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/spend"
)

// Caller is who sent a request, as authentication found it.
type Caller struct {
	KeyHash, KeyAlias, TeamID, UserID string
	// Scopes are the limits and budgets the request counts against: the
	// key's, its team's, its user's.
	Scopes []limits.Scope
}

// costHeader is LiteLLM's header for what an answer cost, in US dollars.
const costHeader = "X-Litellm-Response-Cost"

// admit checks the caller's limits and the gateway's budget before a
// model request is routed. The lease it takes ends in settle. Where the
// limiter counts deployments' limits too (gateways sharing Redis), route
// gets the admission that counts each deployment the router picks, and a
// request for a model with deployment limits is admitted with the first
// one, in the same call to the counter.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, endUser string, route *router.Request) error {
	rec := recordFrom(r.Context())
	rec.endUser = endUser
	if s.callerOf != nil {
		rec.caller = s.callerOf(r.Context())
	}
	if s.limiter == nil {
		return nil
	}
	if s.limiter.CountsDeployments() {
		rec.admission = admission{limiter: s.limiter, rec: rec, header: w.Header()}
		route.Admission = &rec.admission
		if s.deploymentsLimited(route.Model) {
			rec.admission.pending = true
			return nil
		}
	}
	lease, err := s.limiter.Admit(r.Context(), rec.caller.Scopes, rec.model)
	if err != nil {
		return err
	}
	rec.lease = lease
	lease.SetHeaders(w.Header())
	return nil
}

// priced notes what a served request used and what it cost, and says so
// in the answer's cost header (a trailer, for a stream whose headers are
// already out).
func (s *Server) priced(w http.ResponseWriter, rec *requestRecord, call *router.Call, u spend.Usage) {
	rec.spend = u
	rec.cost = call.Deployment.Price.Cost(u)
	rec.modelGroup, rec.modelID, rec.responseModel = call.Model, call.Deployment.ModelID, call.Deployment.BaseModel
	setHeader(w, costHeader, strconv.FormatFloat(rec.cost, 'g', -1, 64))
}

// settle ends a model request's lease with its tokens and cost and hands
// its spend row to the spend log, off the request path.
func (s *Server) settle(ctx context.Context, id string, rec *requestRecord, status int, start, end time.Time) {
	rec.lease.End(ctx, int64(rec.spend.InputTokens+rec.spend.OutputTokens), rec.cost)
	s.metrics.Spend(rec.model, rec.cost)
	if s.spendLog == nil {
		return
	}
	s.spendLog(spend.Row{
		ID: spend.NewID(end), RequestID: id, CallType: rec.callType, Stream: rec.stream,
		KeyHash: rec.caller.KeyHash, KeyAlias: rec.caller.KeyAlias, TeamID: rec.caller.TeamID, UserID: rec.caller.UserID,
		EndUser: rec.endUser,
		Model:   rec.model, ModelGroup: rec.modelGroup, Deployment: rec.deployment, ModelID: rec.modelID,
		Usage: rec.spend, Estimated: rec.estimated, Cost: rec.cost, Prompt: rec.prompt,
		Start: start, End: end, Status: status,
	})
}

// completionSpend is what a whole chat answer used, on the tier it was served.
func completionSpend(c *openai.ChatCompletion) spend.Usage {
	u := spendUsageOf(c.Usage)
	u.ServiceTier = c.ServiceTier
	return u
}

// spendUsageOf reads a chat answer's usage, cache tokens included.
func spendUsageOf(u *openai.Usage) spend.Usage {
	if u == nil {
		return spend.Usage{}
	}
	return spend.Usage{
		InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens,
		CacheReadTokens: u.CacheReadInputTokens, CacheWriteTokens: u.CacheCreationInputTokens,
	}
}

// charsPerToken is the rule of thumb used to estimate tokens from text when
// Bedrock never said how many there were.
const charsPerToken = 4

func estimatedTokens(chars int) int { return (chars + charsPerToken - 1) / charsPerToken }

// promptChars is the length of a chat request's text, for estimates.
func promptChars(req *openai.ChatRequest) int {
	n := 0
	for i := range req.Messages {
		m := &req.Messages[i]
		n += len(m.Content.String())
		for _, tc := range m.ToolCalls {
			n += len(tc.Function.Arguments)
		}
	}
	return n
}

// streamTally follows a stream's chunks for its cost: Bedrock's usage when
// it reports it, else the text produced so far for an estimate.
type streamTally struct {
	usage       spend.Usage
	gotUsage    bool
	tier        string // the service tier Bedrock said it served
	outputChars int
	promptChars int
	// finishReason is the answer's, once a chunk gave it.
	finishReason string
	// text collects the answer's text for the request's span; nil unless
	// message logging is on.
	text *strings.Builder
}

func (t *streamTally) note(c *openai.ChatChunk) {
	if len(c.Choices) > 0 {
		d := &c.Choices[0].Delta
		if d.Content != nil {
			t.outputChars += len(*d.Content)
			if t.text != nil {
				t.text.WriteString(*d.Content)
			}
		}
		if fr := c.Choices[0].FinishReason; fr != nil {
			t.finishReason = *fr
		}
		if d.ReasoningContent != nil {
			t.outputChars += len(*d.ReasoningContent)
		}
		for _, tc := range d.ToolCalls {
			t.outputChars += len(tc.Function.Name) + len(tc.Function.Arguments)
		}
	}
	if c.ServiceTier != "" {
		t.tier = c.ServiceTier
	}
	if c.Usage != nil {
		t.usage, t.gotUsage = spendUsageOf(c.Usage), true
	}
}

// final is what the stream used: Bedrock's count, or an estimate from the
// text when the stream ended before Bedrock gave one.
func (t *streamTally) final() (u spend.Usage, estimated bool) {
	if t.gotUsage {
		u = t.usage
		u.ServiceTier = t.tier
		return u, false
	}
	return spend.Usage{InputTokens: estimatedTokens(t.promptChars), OutputTokens: estimatedTokens(t.outputChars), ServiceTier: t.tier}, true
}

// deploymentsLimited says whether a deployment of model sets its own rpm,
// tpm or max_parallel_requests.
func (s *Server) deploymentsLimited(model string) bool {
	for _, d := range s.router.Deployments(model) {
		if d.Policy.RPM > 0 || d.Policy.TPM > 0 || d.Policy.MaxParallel > 0 {
			return true
		}
	}
	return false
}

// admission is a request's router.Admission: it counts each deployment
// the router picks against the deployment's own limits in the limiter,
// shared by the gateways. While pending, the request's own limits are
// still to be taken: the first deployment's counts ride with them.
type admission struct {
	limiter *limits.Limiter
	rec     *requestRecord
	header  http.Header // the answer's, for the x-ratelimit-* headers
	pending bool
}

// AdmitTo implements router.Admission.
func (a *admission) AdmitTo(ctx context.Context, d *router.Deployment) error {
	dep := limits.Deployment{ID: d.ID, RPM: int64(d.Policy.RPM), TPM: int64(d.Policy.TPM), MaxParallel: int64(d.Policy.MaxParallel)}
	rec := a.rec
	if a.pending || rec.lease == nil {
		scopes := rec.caller.Scopes
		if !a.pending {
			scopes = nil // taken already: there was nothing to take
		}
		lease, err := a.limiter.AdmitTo(ctx, scopes, rec.model, &dep)
		if err != nil {
			return err
		}
		a.pending = false
		rec.lease = lease
		lease.SetHeaders(a.header)
		return nil
	}
	return rec.lease.TakeDeployment(ctx, &dep)
}
