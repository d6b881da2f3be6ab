package limits

import (
	"context"
	"fmt"
	"time"
)

// Deployment is the deployment a request is sent to, with its own limits
// (litellm_params rpm, tpm and max_parallel_requests). Where gateways share a counter, these are
// counted there with the request's own limits, so that a deployment's rpm
// holds across gateways.
type Deployment struct {
	ID                    string // the router's deployment id, the same in every gateway of one config
	RPM, TPM, MaxParallel int64
}

func (d *Deployment) limited() bool { return d != nil && (d.RPM > 0 || d.TPM > 0 || d.MaxParallel > 0) }

func deploymentKey(limit string, d *Deployment) Key {
	return Key{Limit: limit, Kind: "deployment", ID: d.ID}
}

// steps appends d's steps to steps: tpm checked, a request taken from rpm
// and a slot from max_parallel_requests.
func (d *Deployment) steps(steps []Step) []Step {
	if d == nil {
		return steps
	}
	if d.TPM > 0 {
		steps = append(steps, Step{Key: deploymentKey("tpm", d), Window: minute, Limit: d.TPM})
	}
	if d.RPM > 0 {
		steps = append(steps, Step{Key: deploymentKey("rpm", d), Window: minute, N: 1, Limit: d.RPM})
	}
	if d.MaxParallel > 0 {
		steps = append(steps, Step{Key: deploymentKey("parallel", d), N: 1, Limit: d.MaxParallel})
	}
	return steps
}

// full is the refusal of d's step st.
func (d *Deployment) full(st Step, now time.Time) *DeploymentFull {
	e := &DeploymentFull{ID: d.ID, Limit: "rpm", Value: d.RPM, RetryAfter: untilNextMinute(now)}
	switch st.Key.Limit {
	case "tpm":
		e.Limit, e.Value = "tpm", d.TPM
	case "parallel":
		e.Limit, e.Value, e.RetryAfter = "max_parallel_requests", d.MaxParallel, time.Second
	}
	return e
}

// DeploymentFull says a deployment reached its own rpm or tpm in this
// minute, or its max_parallel_requests, counted by every gateway sharing
// the counter. Nothing was taken:
// the router turns to another deployment, or answers 429 when none has
// room.
type DeploymentFull struct {
	ID         string
	Limit      string // "rpm", "tpm" or "max_parallel_requests"
	Value      int64
	RetryAfter time.Duration // until the minute's window ends; a second for a slot
}

func (e *DeploymentFull) Error() string {
	return fmt.Sprintf("deployment %s reached its %s of %d", e.ID, e.Limit, e.Value)
}

// tookDeployment notes that the request was sent to d: its tokens count
// against d's tpm when it ends (and no longer against a deployment tried
// before, which did not answer), and it gives back d's slot then.
func (le *Lease) tookDeployment(d *Deployment) {
	le.deployment, le.deploymentSlot = nil, nil
	if d == nil {
		return
	}
	if d.TPM > 0 {
		k := deploymentKey("tpm", d)
		le.deployment = &k
	}
	if d.MaxParallel > 0 {
		k := deploymentKey("parallel", d)
		le.deploymentSlot = &k
	}
}

// releaseDeployment gives back the slot of the deployment tried before,
// whose call has ended: with the ends of other requests, off the path.
func (le *Lease) releaseDeployment(ctx context.Context, now time.Time) {
	if le.deploymentSlot == nil || le.by == nil {
		return
	}
	slot := *le.deploymentSlot
	le.deploymentSlot = nil
	if err := le.by.Settle(context.WithoutCancel(ctx), []Step{{Key: slot, N: -1}}, nil, now); err != nil {
		le.l.log.Warn("rate limit counter failed", "error", err.Error())
	}
}

// TakeDeployment counts the request against d's limits when the router
// sends it to another deployment than the one it was admitted to (a retry
// or a fallback): one more call to the counter. A refusal is a
// *DeploymentFull and takes nothing. If the counter fails, the request
// goes on, as in Admit.
func (le *Lease) TakeDeployment(ctx context.Context, d *Deployment) error {
	now := le.l.now()
	le.releaseDeployment(ctx, now)
	if !d.limited() {
		le.tookDeployment(nil)
		return nil
	}
	counter := le.by
	if counter == nil {
		counter = le.l.counter
	}
	var buf [3]Step
	steps := d.steps(buf[:0])
	taken, err := counter.Take(ctx, steps, nil, now)
	if err != nil {
		le.l.log.Warn("rate limit counter failed; sending the request on", "deployment", d.ID, "error", err.Error())
		return nil
	}
	if taken.Refused >= 0 {
		return d.full(steps[taken.Refused], now)
	}
	if le.by == nil {
		le.by = taken.by
		if le.by == nil {
			le.by = counter
		}
	}
	le.tookDeployment(d)
	return nil
}
