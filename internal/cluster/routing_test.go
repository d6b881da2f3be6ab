package cluster

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/router"
)

// newGatewayRouter is one gateway's router over deployments a and b of
// model "m", with strategy; now is its clock.
func newGatewayRouter(t *testing.T, strategy, a, b string, now func() time.Time) *router.Router {
	t.Helper()
	rt, err := router.New([]*router.Deployment{{Name: "m", ID: a}, {Name: "m", ID: b}}, router.Options{Strategy: strategy, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// serve runs one request through rt; the attempt lasts took on rt's clock
// (when clock is set) and uses tokens.
func serve(t *testing.T, rt *router.Router, clock *atomic.Int64, took time.Duration, tokens int) string {
	t.Helper()
	c, _, err := rt.Do(context.Background(), router.Request{Model: "m"}, func(ctx context.Context, c *router.Call) error {
		if clock != nil {
			clock.Add(int64(took))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Finish(router.Usage{InputTokens: tokens}, nil)
	return c.Deployment.ID
}

// Usage-based routing on one gateway steers away from the deployment
// another gateway loaded: the tokens each uses reach the other through
// Redis, and picking reads them without a call.
func TestUsageSharedBetweenGateways(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x, y := fmt.Sprint("m#x-", time.Now().UnixNano()), fmt.Sprint("m#y-", time.Now().UnixNano())
	ra := newGatewayRouter(t, router.UsageBased, x, y, nil)
	rb := newGatewayRouter(t, router.UsageBased, x, y, nil)
	open(t, Options{}).ShareRouting(ctx, ra, 10*time.Millisecond)
	open(t, Options{}).ShareRouting(ctx, rb, 10*time.Millisecond)

	loaded := serve(t, ra, nil, 0, 5000)
	other := map[string]string{x: y, y: x}[loaded]
	d := deploymentOf(rb, loaded)
	eventually(t, "a's tokens in b's figures", func() bool {
		st := rb.Stats(d)
		// Past a minute's end, the minute before counts for its share.
		return st.Shared != nil && st.Shared.Tokens >= 2500
	})
	if st := rb.Stats(d); st.Tokens != 0 {
		t.Errorf("b's own count of %s is %d tokens, want 0: b never called it", loaded, st.Tokens)
	}
	for i := range 4 {
		if got := serve(t, rb, nil, 0, 100); got != other {
			t.Fatalf("request %d on b went to %s, which a loaded with 5000 tokens", i, got)
		}
	}
}

// Latency-based routing on one gateway prefers the deployment another
// gateway measured faster, before measuring anything itself.
func TestLatencySharedBetweenGateways(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x, y := fmt.Sprint("m#x-", time.Now().UnixNano()), fmt.Sprint("m#y-", time.Now().UnixNano())
	// a's clock moves on by what each attempt takes.
	var skew atomic.Int64
	ra := newGatewayRouter(t, router.LatencyBased, x, y, func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	rb := newGatewayRouter(t, router.LatencyBased, x, y, nil)
	open(t, Options{}).ShareRouting(ctx, ra, 10*time.Millisecond)
	open(t, Options{}).ShareRouting(ctx, rb, 10*time.Millisecond)

	took := map[string]time.Duration{x: 800 * time.Millisecond, y: 100 * time.Millisecond}
	measured := map[string]bool{}
	for len(measured) < 2 {
		c, _, err := ra.Do(context.Background(), router.Request{Model: "m"}, func(ctx context.Context, c *router.Call) error {
			skew.Add(int64(took[c.Deployment.ID]))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Finish(router.Usage{}, nil)
		measured[c.Deployment.ID] = true
	}
	eventually(t, "a's latencies in b's figures", func() bool {
		sx, sy := rb.Stats(deploymentOf(rb, x)).Shared, rb.Stats(deploymentOf(rb, y)).Shared
		return sx != nil && sy != nil && sx.Latency >= 700*time.Millisecond && sy.Latency > 0 && sy.Latency <= 150*time.Millisecond
	})
	for i := range 4 {
		if got := serve(t, rb, nil, 0, 0); got != y {
			t.Fatalf("request %d on b went to %s, which a measured at 800ms against 100ms", i, got)
		}
	}
}

// A gateway whose Redis does not answer routes on its own figures: it
// has no shared ones, and shares none.
func TestRoutingOnOwnFiguresWithoutRedis(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	x, y := fmt.Sprint("m#x-", time.Now().UnixNano()), fmt.Sprint("m#y-", time.Now().UnixNano())
	rt := newGatewayRouter(t, router.UsageBased, x, y, nil)
	r := open(t, Options{URL: "redis://" + addr, CallTimeout: 100 * time.Millisecond})
	r.ShareRouting(ctx, rt, 10*time.Millisecond)
	first := serve(t, rt, nil, 0, 5000)
	// Its own 5000 tokens steer it to the other deployment.
	if got := serve(t, rt, nil, 0, 10); got == first {
		t.Errorf("went back to %s, loaded with 5000 tokens", got)
	}
	if st := rt.Stats(deploymentOf(rt, first)); st.Shared != nil || st.Tokens != 5000 {
		t.Errorf("stats %+v, want own figures only", st)
	}
}

// Figures stop being read once their freshness passed: the gateway falls
// back on its own, and takes shared ones again when they come.
func TestStaleFiguresGiveWayToOwn(t *testing.T) {
	x, y := "m#1", "m#2"
	rt := newGatewayRouter(t, router.UsageBased, x, y, nil)
	now := time.Now()
	rt.ShareFigures([]router.Figures{{ID: x, Window: now.Truncate(time.Minute), Tokens: 9000}}, now.Add(time.Hour))
	if got := serve(t, rt, nil, 0, 10); got != y {
		t.Fatalf("went to %s, loaded with 9000 tokens by other gateways", got)
	}
	rt.ShareFigures([]router.Figures{{ID: x, Window: now.Truncate(time.Minute), Tokens: 9000}}, now.Add(-time.Second))
	// Stale: y's 10 tokens of its own outweigh x's none.
	if got := serve(t, rt, nil, 0, 10); got != x {
		t.Errorf("went to %s on stale figures", got)
	}
}

func deploymentOf(rt *router.Router, id string) *router.Deployment {
	for _, d := range rt.Deployments("m") {
		if d.ID == id {
			return d
		}
	}
	return nil
}
