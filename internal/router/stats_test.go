package router

import (
	"context"
	"testing"
	"time"
)

func TestStatsCountTheLastMinuteAndLeaveTheClientsMistakesOut(t *testing.T) {
	allowed := 1
	f := newFixture(t, Options{AllowedFails: &allowed}, dep("m", Policy{}))
	d := f.byID["m#1"]
	if st := f.r.Stats(d); st != (Stats{}) {
		t.Fatalf("a deployment never called: %+v", st)
	}
	// A whole answer that took 2s, then one the client got wrong.
	c, _, err := f.r.Do(context.Background(), Request{Model: "m"}, func(ctx context.Context, c *Call) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st := f.r.Stats(d); st.InFlight != 1 {
		t.Fatalf("in flight while answering: %+v", st)
	}
	f.clock.Advance(2 * time.Second)
	c.Finish(Usage{InputTokens: 7, OutputTokens: 3}, nil)
	f.call(t, Request{Model: "m"}, outcome{"m#1": invalid}, Usage{})
	st := f.r.Stats(d)
	want := Stats{Latency: 2 * time.Second, Requests: 2, Tokens: 10, Succeeded: 1}
	if st != want {
		t.Fatalf("after one answer and one bad request:\n got %+v\nwant %+v", st, want)
	}
	// Two failures of Bedrock's: the second starts a cooldown.
	f.call(t, Request{Model: "m"}, outcome{"m#1": unavailable}, Usage{})
	f.call(t, Request{Model: "m"}, outcome{"m#1": unavailable}, Usage{})
	st = f.r.Stats(d)
	if st.Failed != 2 || st.Succeeded != 1 || !st.LastFailure.Equal(f.clock.Now()) ||
		!st.CoolingDownUntil.Equal(f.clock.Now().Add(DefaultCooldownTime)) {
		t.Fatalf("after two failures: %+v", st)
	}
	// A minute later the counts are empty and the cooldown is over; the
	// moving average and the last failure stay.
	f.clock.Advance(61 * time.Second)
	st = f.r.Stats(d)
	if st.Failed != 0 || st.Succeeded != 0 || st.Requests != 0 || st.Tokens != 0 || !st.CoolingDownUntil.IsZero() ||
		st.Latency != 2*time.Second || st.LastFailure.IsZero() {
		t.Fatalf("a minute later: %+v", st)
	}
}
