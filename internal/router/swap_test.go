package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/openai"
)

// next builds the router a reloaded config would give f: fresh
// deployments, with the fixture's clock.
func (f *fixture) next(t *testing.T, opts Options, specs ...spec) *Router {
	t.Helper()
	opts.Now, opts.Sleep = f.clock.Now, f.sleeps.Sleep
	seen := map[string]int{}
	var ds []*Deployment
	for _, s := range specs {
		seen[s.name]++
		ds = append(ds, &Deployment{Name: s.name, ID: fmt.Sprintf("%s#%d", s.name, seen[s.name]), ModelID: "model-of-" + s.name, Policy: s.policy})
	}
	r, err := New(ds, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSwapServesTheNewTableAndLetsOpenCallsFinishOnTheOld(t *testing.T) {
	f := newFixture(t, Options{}, dep("a", Policy{}))
	open, _, err := f.r.Do(context.Background(), Request{Model: "a", Stream: true}, func(ctx context.Context, c *Call) error { return nil })
	if err != nil {
		t.Fatal(err)
	}

	f.r.Swap(f.next(t, Options{}, dep("b", Policy{})))

	if got := f.r.Names(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("Names() = %v after the swap, want [b]", got)
	}
	var oe *openai.Error
	if err := f.r.Has("a"); !errors.As(err, &oe) || oe.Code != "model_not_found" {
		t.Errorf("Has(a) = %v after the swap, want model_not_found", err)
	}
	if _, _, err := f.r.Do(context.Background(), Request{Model: "a"}, func(context.Context, *Call) error { return nil }); !errors.As(err, &oe) || oe.Code != "model_not_found" {
		t.Errorf("Do(a) = %v after the swap, want model_not_found", err)
	}
	var served string
	c, _, err := f.r.Do(context.Background(), Request{Model: "b"}, func(ctx context.Context, c *Call) error {
		served = c.Deployment.ID
		return nil
	})
	if err != nil || served != "b#1" {
		t.Fatalf("Do(b) served by %q, err %v; want b#1", served, err)
	}
	c.Finish(Usage{}, nil)

	// The call opened before the swap is still the old deployment's, and
	// ends there.
	if open.Deployment.ID != "a#1" || open.ctx.Err() != nil {
		t.Fatalf("the open call is on %s, ctx %v", open.Deployment.ID, open.ctx.Err())
	}
	open.FirstToken()
	open.Finish(Usage{InputTokens: 3, OutputTokens: 5}, nil)
	if n := open.Deployment.state.inFlight.Load(); n != 0 {
		t.Errorf("a#1 has %d calls in flight after the open call finished", n)
	}
}

func TestSwapKeepsTheStateOfDeploymentsThatStay(t *testing.T) {
	cooldown := time.Minute
	opts := Options{CooldownTime: &cooldown}
	f := newFixture(t, opts, dep("m", Policy{}), dep("m", Policy{}))
	for _, d := range f.byID {
		d.ModelID = "model-of-m"
	}
	// m#1 is throttled into a cooldown; m#2 holds a call in flight.
	m1 := f.byID["m#1"]
	tbl := f.r.live.Load()
	tbl.start(context.Background(), m1, tbl.groups["m"], &Request{Model: "m"}, tbl.log, 1).fail(throttled)
	busy := tbl.start(context.Background(), f.byID["m#2"], tbl.groups["m"], &Request{Model: "m"}, tbl.log, 1)

	next := f.next(t, opts, dep("m", Policy{}), dep("m", Policy{}), dep("n", Policy{}))
	f.r.Swap(next)

	ds := f.r.Deployments("m")
	if ds[0] == m1 {
		t.Fatal("the swap kept the old deployment object")
	}
	if cooling, _ := f.r.CoolingDown(ds[0]); !cooling {
		t.Error("m#1 lost its cooldown in the swap")
	}
	if n := ds[1].state.inFlight.Load(); n != 1 {
		t.Errorf("m#2 has %d calls in flight after the swap, want the 1 it had", n)
	}
	busy.Finish(Usage{}, nil)
	if n := ds[1].state.inFlight.Load(); n != 0 {
		t.Errorf("m#2 has %d calls in flight once its call ended, want 0", n)
	}
	// Traffic keeps away from the deployment cooling down.
	for range 20 {
		served, _, _, err := f.call(t, Request{Model: "m"}, nil, Usage{})
		if err != nil || served != "m#2" {
			t.Fatalf("served by %s (err %v) while m#1 cools down", served, err)
		}
	}
	if cooling, _ := f.r.CoolingDown(f.r.Deployments("n")[0]); cooling {
		t.Error("a new deployment starts cooling down")
	}
}

func TestSwapStartsAfreshWhenTheUpstreamChanged(t *testing.T) {
	cooldown := time.Minute
	opts := Options{CooldownTime: &cooldown}
	f := newFixture(t, opts, dep("m", Policy{}))
	f.byID["m#1"].ModelID = "model-of-m"
	tbl := f.r.live.Load()
	tbl.start(context.Background(), f.byID["m#1"], tbl.groups["m"], &Request{Model: "m"}, tbl.log, 1).fail(throttled)

	next := f.next(t, opts, dep("m", Policy{}))
	next.Deployments("m")[0].ModelID = "another-model"
	f.r.Swap(next)
	if cooling, _ := f.r.CoolingDown(f.r.Deployments("m")[0]); cooling {
		t.Error("m#1 now calls another Bedrock model but kept the old one's cooldown")
	}
}

// Calls and swaps at once: run with -race.
func TestSwapWhileServing(t *testing.T) {
	f := newFixture(t, Options{}, dep("m", Policy{}))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, _, err := f.r.Do(context.Background(), Request{Model: "m"}, func(context.Context, *Call) error { return nil })
				if err != nil {
					t.Error(err)
					return
				}
				c.Finish(Usage{InputTokens: 1}, nil)
				_ = f.r.Names()
			}
		})
	}
	for range 50 {
		f.r.Swap(f.next(t, Options{}, dep("m", Policy{}), dep("m", Policy{})))
	}
	close(stop)
	wg.Wait()
}
