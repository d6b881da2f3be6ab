package limits

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// A deployment's rpm holds across two gateways on one Redis: its counts
// ride in the same call as the key's, a refusal names the deployment and
// takes nothing, not even the key's request.
func TestDeploymentRPMAcrossGateways(t *testing.T) {
	c, calls := countedClient(t)
	prefix := fmt.Sprintf("strata-test:%s:%d:", t.Name(), time.Now().UnixNano())
	clk := newClock()
	if err := c.ScriptLoad(context.Background(), takeLua).Err(); err != nil {
		t.Fatal(err)
	}
	a := New(Options{Counter: NewRedis(c, prefix, 2*time.Second), Now: clk.now, CountDeployments: true})
	b := New(Options{Counter: NewRedis(c, prefix, 2*time.Second), Now: clk.now, CountDeployments: true})
	key := []Scope{{Kind: "key", ID: "k", RPM: 100}}
	d := &Deployment{ID: "claude#0", RPM: 10}
	passed, full := 0, 0
	for i := range 16 {
		l := a
		if i%2 == 1 {
			l = b
		}
		ctx := context.WithValue(context.Background(), requestID{}, fmt.Sprint("request ", i))
		lease, err := l.AdmitTo(ctx, key, "m", d)
		var df *DeploymentFull
		switch {
		case err == nil:
			passed++
			lease.End(ctx, 1, 0)
		case errors.As(err, &df):
			full++
			if df.ID != d.ID || df.Limit != "rpm" || df.Value != 10 || df.RetryAfter != 30*time.Second {
				t.Errorf("refusal %+v", df)
			}
		default:
			t.Fatalf("request %d: %v", i, err)
		}
		if n := calls.get(fmt.Sprint("request ", i)); n != 1 {
			t.Errorf("request %d made %d Redis round trips, want 1", i, n)
		}
	}
	if passed != 10 || full != 6 {
		t.Errorf("%d passed and %d found the deployment full, want 10 and 6", passed, full)
	}
	r := NewRedis(c, prefix, time.Second)
	if v, _ := c.Get(context.Background(), r.counterKey(Key{"rpm", "key", "k"}, minute, clk.now())).Int64(); v != 10 {
		t.Errorf("the key counted %d requests, want the 10 that reached the deployment", v)
	}
	// The next minute has room again.
	clk.advance(time.Minute)
	lease, err := a.AdmitTo(context.Background(), key, "m", d)
	if err != nil {
		t.Fatalf("next minute: %v", err)
	}
	lease.End(context.Background(), 0, 0)
}

// A request sent on to another deployment counts against that one, in one
// more call; its tokens count against the tpm of the deployment that
// answered only. A deployment whose tpm is spent refuses until the minute ends.
func TestDeploymentTPMFollowsTheRequest(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t)
	prefix := fmt.Sprintf("strata-test:%s:%d:", t.Name(), time.Now().UnixNano())
	clk := newClock()
	l := New(Options{Counter: NewRedis(c, prefix, 2*time.Second), Now: clk.now, CountDeployments: true})
	first := &Deployment{ID: "m#0", TPM: 100}
	second := &Deployment{ID: "m#1", TPM: 100, RPM: 5}
	lease, err := l.AdmitTo(ctx, nil, "m", first)
	if err != nil || lease == nil {
		t.Fatalf("lease %v, %v", lease, err)
	}
	if err := lease.TakeDeployment(ctx, second); err != nil {
		t.Fatal(err)
	}
	lease.End(ctx, 100, 0)
	r := NewRedis(c, prefix, time.Second)
	tokens := func(d *Deployment) int64 {
		v, _ := c.Get(ctx, r.counterKey(deploymentKey("tpm", d), minute, clk.now())).Int64()
		return v
	}
	if tokens(first) != 0 || tokens(second) != 100 {
		t.Errorf("tokens counted: %s %d, %s %d; want 0 and 100", first.ID, tokens(first), second.ID, tokens(second))
	}
	var df *DeploymentFull
	if _, err := l.AdmitTo(ctx, nil, "m", second); !errors.As(err, &df) || df.Limit != "tpm" {
		t.Fatalf("a deployment at its tpm admitted: %v", err)
	}
	lease, err = l.AdmitTo(ctx, nil, "m", first)
	if err != nil {
		t.Fatal(err)
	}
	if err := lease.TakeDeployment(ctx, second); !errors.As(err, &df) {
		t.Errorf("sent on to a deployment at its tpm: %v", err)
	}
	clk.advance(time.Minute)
	if err := lease.TakeDeployment(ctx, second); err != nil {
		t.Errorf("next minute: %v", err)
	}
	lease.End(ctx, 0, 0)
}

// A deployment's max_parallel_requests holds across two gateways: a slot
// held through one is refused through the other until the request ends;
// a request sent on to another deployment gives back the first one's.
func TestDeploymentParallelAcrossGateways(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t)
	prefix := fmt.Sprintf("strata-test:%s:%d:", t.Name(), time.Now().UnixNano())
	clk := newClock()
	a := New(Options{Counter: NewRedis(c, prefix, 2*time.Second), Now: clk.now, CountDeployments: true})
	b := New(Options{Counter: NewRedis(c, prefix, 2*time.Second), Now: clk.now, CountDeployments: true})
	first := &Deployment{ID: "m#0", MaxParallel: 1}
	second := &Deployment{ID: "m#1", MaxParallel: 1}
	lease, err := a.AdmitTo(ctx, nil, "m", first)
	if err != nil {
		t.Fatal(err)
	}
	var df *DeploymentFull
	if _, err := b.AdmitTo(ctx, nil, "m", first); !errors.As(err, &df) || df.Limit != "max_parallel_requests" || df.RetryAfter != time.Second {
		t.Fatalf("the other gateway took the deployment's only slot too: %v", err)
	}
	if err := lease.TakeDeployment(ctx, second); err != nil {
		t.Fatal(err)
	}
	held, err := b.AdmitTo(ctx, nil, "m", first)
	if err != nil {
		t.Fatalf("the first deployment's slot was not given back when the request went on: %v", err)
	}
	if _, err := b.AdmitTo(ctx, nil, "m", second); !errors.As(err, &df) {
		t.Fatalf("the second deployment's slot taken twice: %v", err)
	}
	lease.End(ctx, 0, 0)
	held.End(ctx, 0, 0)
	for _, d := range []*Deployment{first, second} {
		lease, err := b.AdmitTo(ctx, nil, "m", d)
		if err != nil {
			t.Fatalf("%s after the requests ended: %v", d.ID, err)
		}
		lease.End(ctx, 0, 0)
	}
}
