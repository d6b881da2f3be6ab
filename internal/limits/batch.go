package limits

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Defaults for BatchOptions.
const (
	DefaultSettleEvery = 2 * time.Millisecond
	DefaultSettleMax   = 256
)

// BatchOptions configures a Batched counter.
type BatchOptions struct {
	// Every is how long the first settle queued waits for others to join
	// it; Max settles waiting are sent at once.
	Every time.Duration
	Max   int
	// Failed is told of each batch Redis did not take. Its tokens are then
	// counted in Fallback (the counter used while Redis is down); the
	// slots it gave back were taken in Redis and expire there.
	Failed   func(error)
	Fallback Counter
	Logger   *slog.Logger
}

// Batched is a Counter on Redis that keeps a request's end off its path:
// Take is one round trip, as a request must wait for its admission, but
// Settle only queues. One goroutine sends what queued as one script call,
// Every after the first settle waiting or as soon as Max wait, so a
// parallel slot is back in Redis at most Every and a round trip after its
// request ended, and a busy gateway makes one call for many requests.
type Batched struct {
	r   *Redis
	o   BatchOptions
	log *slog.Logger

	mu      sync.Mutex
	pending []settlement
	closed  bool

	wake, full, stop chan struct{}
	done             chan struct{}
}

// NewBatched starts the goroutine that settles in r; Close stops it.
func NewBatched(r *Redis, o BatchOptions) *Batched {
	if o.Every <= 0 {
		o.Every = DefaultSettleEvery
	}
	if o.Max <= 0 {
		o.Max = DefaultSettleMax
	}
	b := &Batched{r: r, o: o, log: o.Logger,
		wake: make(chan struct{}, 1), full: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	go b.run()
	return b
}

// Take implements Counter: it is Redis's.
func (b *Batched) Take(ctx context.Context, steps []Step, spend []SpendKey, now time.Time) (Taken, error) {
	return b.r.Take(ctx, steps, spend, now)
}

// Settle implements Counter: it queues steps and spend and returns; a
// settle after Close goes to Redis at once.
func (b *Batched) Settle(ctx context.Context, steps []Step, spend []SpendAdd, now time.Time) error {
	s := settlement{steps: slices.Clone(steps), spend: slices.Clone(spend), now: now}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.send(ctx, []settlement{s})
		return nil
	}
	b.pending = append(b.pending, s)
	n := len(b.pending)
	b.mu.Unlock()
	if n == 1 {
		signal(b.wake)
	}
	if n >= b.o.Max {
		signal(b.full)
	}
	return nil
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Close sends what is queued and stops the goroutine; ctx bounds the wait.
func (b *Batched) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	b.mu.Unlock()
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Batched) run() {
	defer close(b.done)
	t := time.NewTimer(b.o.Every)
	t.Stop()
	for {
		select {
		case <-b.wake:
		case <-b.stop:
			b.flush()
			return
		}
		t.Reset(b.o.Every)
		select {
		case <-t.C:
		case <-b.full:
		case <-b.stop:
		}
		t.Stop()
		b.flush()
	}
}

// flush sends everything queued, Max settles a call.
func (b *Batched) flush() {
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()
	for len(batch) > 0 {
		n := min(len(batch), b.o.Max)
		b.send(context.Background(), batch[:n])
		batch = batch[n:]
	}
}

// send settles batch in Redis, or what it added in the fallback.
func (b *Batched) send(ctx context.Context, batch []settlement) {
	err := b.r.settle(context.WithoutCancel(ctx), batch)
	if err == nil {
		return
	}
	b.log.Warn("rate limit counter failed; counting the ended requests' tokens in this gateway", "requests", len(batch), "error", err.Error())
	if b.o.Failed != nil {
		b.o.Failed(err)
	}
	if b.o.Fallback == nil {
		return
	}
	for _, s := range batch {
		var added []Step
		for _, st := range s.steps {
			if st.N > 0 {
				added = append(added, st)
			}
		}
		if len(added) > 0 {
			_ = b.o.Fallback.Settle(ctx, added, nil, s.now)
		}
	}
}
