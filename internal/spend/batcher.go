package spend

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// BatcherOptions configures a Batcher. Zero values take the defaults.
type BatcherOptions struct {
	// BatchSize rows are written together; a full batch is written at once.
	BatchSize int // default 100
	// Interval is the longest a row waits to be written while the database answers.
	Interval time.Duration // default 1s
	// MaxPending bounds the rows held while the database cannot be written
	// to; rows beyond it are dropped and counted.
	MaxPending int // default 100,000
	// RetryMax caps the wait between attempts while writes fail.
	RetryMax time.Duration // default 30s
	// Dropped is told how many rows were dropped, each time some are.
	Dropped func(n int)
	Logger  *slog.Logger
}

// Batcher writes rows off the request path, in batches. Add never blocks;
// rows wait in a bounded queue and are written when a batch is full, when
// Interval has passed, and at Close. When a write fails the rows are kept
// (up to MaxPending) and written again, with backoff, until it succeeds.
type Batcher[T any] struct {
	write func(ctx context.Context, rows []T) error
	o     BatcherOptions

	mu     sync.RWMutex // held for reading by Add, for writing by Close
	closed bool
	in     chan T
	stop   chan struct{}
	done   chan struct{}

	closeCtx context.Context // Close's, for the last writes
	lost     int             // rows dropped at Close

	pending []T // owned by the loop
}

// NewBatcher starts a batcher that hands rows to write.
func NewBatcher[T any](write func(ctx context.Context, rows []T) error, o BatcherOptions) *Batcher[T] {
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 100_000
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Batcher[T]{
		write: write,
		o:     o,
		in:    make(chan T, 4*o.BatchSize),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go b.loop()
	return b
}

// Add queues a row. It never blocks while the batcher runs: if the queue
// is full, the row is dropped and counted. A row added after Close (a
// request that ended during shutdown, after the last batch) is written at
// once, by itself, and dropped and counted only if that fails.
func (b *Batcher[T]) Add(row T) {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		b.writeLate(row)
		return
	}
	defer b.mu.RUnlock()
	select {
	case b.in <- row:
	default:
		b.drop(1, "the spend log queue is full")
	}
}

// lateWriteTimeout bounds the write of a row added after Close.
const lateWriteTimeout = 5 * time.Second

func (b *Batcher[T]) writeLate(row T) {
	ctx, cancel := context.WithTimeout(context.Background(), lateWriteTimeout)
	defer cancel()
	if err := b.write(ctx, []T{row}); err != nil {
		b.drop(1, "a row came after shutdown and could not be written: "+err.Error())
		return
	}
	b.o.Logger.Info("spend log row written after shutdown began")
}

func (b *Batcher[T]) drop(n int, why string) {
	if b.o.Dropped != nil {
		b.o.Dropped(n)
	}
	b.o.Logger.Error("spend log rows dropped", "rows", n, "reason", why)
}

// Close writes every row queued so far and stops. It returns once they are
// written or, if the database cannot take them, when ctx ends; the rows
// still unwritten then are dropped and counted, and the error says how many.
func (b *Batcher[T]) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		b.closeCtx = ctx
		close(b.stop)
	}
	b.mu.Unlock()
	<-b.done
	if b.lost > 0 {
		return fmt.Errorf("spend logs: %d rows could not be written before shutdown", b.lost)
	}
	return nil
}

func (b *Batcher[T]) loop() {
	defer close(b.done)
	tick := time.NewTimer(b.o.Interval)
	defer tick.Stop()
	backoff := time.Duration(0)
	for {
		select {
		case row := <-b.in:
			b.hold(row)
			if len(b.pending) >= b.o.BatchSize && backoff == 0 {
				backoff = b.flush(context.Background(), backoff)
				resetTimer(tick, b.wait(backoff))
			}
		case <-tick.C:
			backoff = b.flush(context.Background(), backoff)
			tick.Reset(b.wait(backoff))
		case <-b.stop:
			b.finish()
			return
		}
	}
}

func (b *Batcher[T]) hold(row T) {
	if len(b.pending) >= b.o.MaxPending {
		b.drop(1, "too many spend log rows are waiting for the database")
		return
	}
	b.pending = append(b.pending, row)
}

func (b *Batcher[T]) wait(backoff time.Duration) time.Duration {
	if backoff > 0 {
		return backoff
	}
	return b.o.Interval
}

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	t.Reset(d)
}

// flush writes the pending rows, a batch at a time. It returns the wait
// before the next attempt: 0 when everything was written, else a backoff
// that doubles up to RetryMax.
func (b *Batcher[T]) flush(ctx context.Context, backoff time.Duration) time.Duration {
	for len(b.pending) > 0 {
		n := min(len(b.pending), b.o.BatchSize)
		if err := b.writeBatch(ctx, b.pending[:n]); err != nil {
			next := min(max(2*backoff, b.o.Interval), b.o.RetryMax)
			b.o.Logger.Warn("could not write spend logs; keeping them to try again", "rows_waiting", len(b.pending),
				"retry_in", next.String(), "error", err.Error())
			return next
		}
		if backoff > 0 {
			b.o.Logger.Info("spend logs written again after a failure", "rows", n)
			backoff = 0
		}
		clear(b.pending[:n])
		b.pending = b.pending[n:]
	}
	b.pending = nil // let the backing array go
	return 0
}

func (b *Batcher[T]) writeBatch(ctx context.Context, rows []T) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return b.write(ctx, rows)
}

// finish drains the queue and writes everything, trying again while the
// database fails until Close's context ends; what cannot be written then is
// dropped and counted.
func (b *Batcher[T]) finish() {
	for drained := false; !drained; {
		select {
		case row := <-b.in:
			b.hold(row)
		default:
			drained = true
		}
	}
	ctx := b.closeCtx
	backoff := time.Duration(0)
	for len(b.pending) > 0 {
		if backoff = b.flush(ctx, backoff); backoff == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(backoff, time.Second)):
			continue
		}
		break
	}
	if len(b.pending) > 0 {
		b.lost = len(b.pending)
		b.drop(b.lost, "the database could not be written to before shutdown")
		b.pending = nil
	}
}
