package router

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/openai"
)

// tried is the set of a group's deployments one request already tried, by
// position in the group. Positions past 63 are never marked: a retry may
// then land on a deployment it tried, which only costs a preference.
type tried uint64

func (t tried) has(i int) bool { return i < 64 && t&(1<<i) != 0 }

func (t *tried) add(i int) {
	if i < 64 {
		*t |= 1 << i
	}
}

// stackCandidates is how many deployments a pick filters without allocating.
const stackCandidates = 16

// pick chooses the deployment of g for the next attempt and counts it
// against its rpm and max_parallel_requests (a slot the call gives back
// when it ends). Deployments at their rpm, tpm or parallel limit are
// skipped, and an error says when to come back if all are. Among the
// rest, those cooling down are skipped (unless all are: then the least
// recently failed is tried), those this request already tried are
// avoided where possible, and the strategy picks.
//
// With an admission (gateways sharing the deployments' limits), the
// deployments' limits are counted by it, not here: a deployment is
// skipped while it is known to be full, and one the admission finds at
// its rpm or tpm is known so until its window ends, and another is
// picked. An error of the admission's own (the request's limits) ends the
// request.
func (r *table) pick(ctx context.Context, g *group, req *Request, skip tried, now time.Time) (*Deployment, failure, error) {
	var roomBuf, warmBuf, freshBuf [stackCandidates]*Deployment
	room := roomBuf[:0]
	wait := time.Duration(math.MaxInt64)
	usable := false
	shared := req.Admission != nil
	for _, d := range g.deployments {
		if d.Broken != nil {
			continue
		}
		usable = true
		w := d.state.fullWait(now)
		if !shared {
			w = max(d.state.limitWait(d.Policy, now), d.state.slotWait(d.Policy))
		}
		if w > 0 {
			wait = min(wait, w)
			continue
		}
		room = append(room, d)
	}
	for len(room) > 0 {
		warm := warmOf(room, warmBuf[:0], now)
		fresh := untried(warm, freshBuf[:0], skip)
		d := r.choose(fresh, req.Stream, now)
		if !shared {
			if !d.state.takeSlot(d.Policy) {
				// A concurrent pick took its last slot.
				wait = min(wait, time.Second)
				room = without(room, d)
				continue
			}
			if d.state.reserve(d.Policy, now) {
				return d, 0, nil
			}
			// A concurrent pick took its last room.
			d.state.releaseSlot(d.Policy)
			wait = min(wait, max(d.state.limitWait(d.Policy, now), time.Nanosecond))
			room = without(room, d)
			continue
		}
		err := req.Admission.AdmitTo(ctx, d)
		var full *limits.DeploymentFull
		if errors.As(err, &full) {
			if full.Limit != "max_parallel_requests" {
				// A slot may be back any moment; a minute's window is not.
				d.state.fullUntil(now.Add(full.RetryAfter))
			}
			wait = min(wait, max(full.RetryAfter, time.Nanosecond))
			room = without(room, d)
			continue
		}
		if err != nil {
			return nil, failClient, err
		}
		d.state.started(now)
		return d, 0, nil
	}
	if !usable {
		return nil, failTransient, g.brokenError()
	}
	return nil, failTransient, (&LimitError{Model: g.name, Wait: wait}).clientError()
}

// brokenError is the answer of a model name none of whose deployments
// could be built: it names what is wrong with each, so that whoever reads
// it can fix the config.
func (g *group) brokenError() error {
	problems := make([]string, 0, len(g.deployments))
	var errs []error
	for _, d := range g.deployments {
		problems = append(problems, d.ID+": "+strings.ReplaceAll(d.Broken.Error(), "\n", "; "))
		errs = append(errs, d.Broken)
	}
	return &openai.Error{Status: http.StatusServiceUnavailable, Type: openai.TypeUnavailable, Param: "model", Code: "deployment_misconfigured",
		Message: "model " + g.name + " cannot be called: the gateway's config for it has problems; fix them and restart Strata: " + strings.Join(problems, " | "),
		Err:     errors.Join(errs...)}
}

// warmOf keeps the deployments not cooling down; if every one is, the one
// that failed longest ago, rather than failing outright.
func warmOf(ds, out []*Deployment, now time.Time) []*Deployment {
	var oldest *Deployment
	var oldestFail time.Time
	for _, d := range ds {
		if !d.state.cooling(now) {
			out = append(out, d)
			continue
		}
		if f := d.state.lastFailure(); oldest == nil || f.Before(oldestFail) {
			oldest, oldestFail = d, f
		}
	}
	if len(out) == 0 {
		out = append(out, oldest)
	}
	return out
}

// untried keeps the deployments this request has not tried, if any.
func untried(ds, out []*Deployment, skip tried) []*Deployment {
	for _, d := range ds {
		if !skip.has(d.index) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return ds
	}
	return out
}

func without(ds []*Deployment, d *Deployment) []*Deployment {
	out := ds[:0]
	for _, e := range ds {
		if e != d {
			out = append(out, e)
		}
	}
	return out
}

// choose applies the routing strategy to candidates (never empty).
func (r *table) choose(ds []*Deployment, stream bool, now time.Time) *Deployment {
	if len(ds) == 1 {
		return ds[0]
	}
	switch r.strategy {
	case LeastBusy:
		return r.lowest(ds, func(d *Deployment) float64 { return float64(d.state.inFlight.Load()) })
	case LatencyBased:
		return r.lowest(ds, func(d *Deployment) float64 { return d.state.latencyScore(stream, now) })
	case UsageBased:
		capacity := usageCapacity(ds)
		return r.lowest(ds, func(d *Deployment) float64 { return d.state.tokensUsed(now) / capacity(d) })
	}
	return r.shuffle(ds)
}

// shuffle picks at random, weighted as LiteLLM's simple-shuffle does: by
// weight if any candidate sets one, else by rpm, else by tpm, else evenly.
// A candidate without the chosen setting weighs nothing.
func (r *table) shuffle(ds []*Deployment) *Deployment {
	by := weightSource(ds)
	total := 0.0
	for _, d := range ds {
		total += by.of(d)
	}
	if total <= 0 {
		return ds[int(r.rand()*float64(len(ds)))]
	}
	x := r.rand() * total
	for _, d := range ds {
		if x -= by.of(d); x < 0 {
			return d
		}
	}
	return ds[len(ds)-1]
}

type weightBy int

const (
	byNothing weightBy = iota
	byWeight
	byRPM
	byTPM
)

func weightSource(ds []*Deployment) weightBy {
	var rpm, tpm bool
	for _, d := range ds {
		if d.Policy.Weight > 0 {
			return byWeight
		}
		rpm = rpm || d.Policy.RPM > 0
		tpm = tpm || d.Policy.TPM > 0
	}
	switch {
	case rpm:
		return byRPM
	case tpm:
		return byTPM
	}
	return byNothing
}

func (w weightBy) of(d *Deployment) float64 {
	switch w {
	case byWeight:
		return d.Policy.Weight
	case byRPM:
		return float64(d.Policy.RPM)
	case byTPM:
		return float64(d.Policy.TPM)
	}
	return 0
}

// lowest returns the candidate with the lowest score, ties broken at random.
func (r *table) lowest(ds []*Deployment, score func(*Deployment) float64) *Deployment {
	var best *Deployment
	bestScore, ties := math.Inf(1), 0
	for _, d := range ds {
		s := score(d)
		switch {
		case s < bestScore:
			best, bestScore, ties = d, s, 1
		case s == bestScore:
			// Reservoir sampling: each tied candidate ends up chosen with
			// equal chance.
			ties++
			if r.rand()*float64(ties) < 1 {
				best = d
			}
		}
	}
	return best
}

// usageCapacity is what usage-based routing divides a deployment's tokens
// of the last minute by: its tpm, or for one without a limit the largest
// tpm among the candidates (or 1, comparing raw tokens, when none has one).
func usageCapacity(ds []*Deployment) func(*Deployment) float64 {
	largest := 0
	for _, d := range ds {
		largest = max(largest, d.Policy.TPM)
	}
	return func(d *Deployment) float64 {
		switch {
		case d.Policy.TPM > 0:
			return float64(d.Policy.TPM)
		case largest > 0:
			return float64(largest)
		}
		return 1
	}
}
