package spend

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sink is a database stand-in that can be taken down.
type sink struct {
	mu      sync.Mutex
	rows    []int
	batches []int
	down    bool
	wrote   chan struct{}
}

func newSink() *sink { return &sink{wrote: make(chan struct{}, 1000)} }

func (s *sink) write(_ context.Context, rows []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		s.wrote <- struct{}{}
		return errors.New("connection refused")
	}
	s.rows = append(s.rows, rows...)
	s.batches = append(s.batches, len(rows))
	s.wrote <- struct{}{}
	return nil
}

func (s *sink) setDown(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

func (s *sink) written() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rows)
}

func TestBatcherWritesFullBatchesAtOnce(t *testing.T) {
	s := newSink()
	b := NewBatcher(s.write, BatcherOptions{BatchSize: 3, Interval: time.Hour})
	for i := range 3 {
		b.Add(i)
	}
	<-s.wrote // the full batch went without waiting for the hour
	if got := s.written(); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("written %v", got)
	}
	b.Add(3)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.written(); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("Close did not write the rest: %v", got)
	}
}

func TestBatcherWritesOnTimer(t *testing.T) {
	s := newSink()
	b := NewBatcher(s.write, BatcherOptions{BatchSize: 100, Interval: time.Millisecond})
	defer b.Close(context.Background())
	b.Add(7)
	for len(s.written()) == 0 {
		<-s.wrote
	}
	if got := s.written(); !slices.Equal(got, []int{7}) {
		t.Errorf("written %v", got)
	}
}

func TestBatcherKeepsRowsWhileDatabaseIsDown(t *testing.T) {
	s := newSink()
	s.setDown(true)
	var dropped atomic.Int64
	b := NewBatcher(s.write, BatcherOptions{BatchSize: 2, Interval: time.Millisecond, RetryMax: time.Millisecond, MaxPending: 5,
		Dropped: func(n int) { dropped.Add(int64(n)) }})
	for i := range 5 {
		b.Add(i)
	}
	<-s.wrote // a failed attempt
	<-s.wrote // and another
	s.setDown(false)
	for len(s.written()) < 5 {
		<-s.wrote
	}
	if got := s.written(); !slices.Equal(got, []int{0, 1, 2, 3, 4}) || dropped.Load() != 0 {
		t.Errorf("after the database came back: written %v, dropped %d", got, dropped.Load())
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestBatcherBoundsAndCountsDrops(t *testing.T) {
	s := newSink()
	s.setDown(true)
	var dropped atomic.Int64
	b := NewBatcher(s.write, BatcherOptions{BatchSize: 1, Interval: time.Hour, RetryMax: time.Hour, MaxPending: 3,
		Dropped: func(n int) { dropped.Add(int64(n)) }})
	for i := range 1000 { // never blocks, whatever the database does
		b.Add(i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // shutdown with the database still down
	err := b.Close(ctx)
	if err == nil {
		t.Fatal("Close reported nothing lost")
	}
	if dropped.Load() != 1000 {
		t.Errorf("dropped %d of 1000 rows that were never written", dropped.Load())
	}
	b.Add(1) // after Close, the database still down: dropped and counted, no panic
	if dropped.Load() != 1001 {
		t.Errorf("a row added after Close was not counted")
	}
}

func TestBatcherConcurrentAddAndClose(t *testing.T) {
	s := newSink()
	var dropped atomic.Int64
	b := NewBatcher(s.write, BatcherOptions{BatchSize: 10, Interval: time.Millisecond, Dropped: func(n int) { dropped.Add(int64(n)) }})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				b.Add(g*1000 + i)
			}
		}()
	}
	go func() { wg.Wait() }()
	wg.Wait()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(s.written()) + int(dropped.Load()); got != 1600 {
		t.Errorf("written+dropped = %d, want 1600 (every row accounted for)", got)
	}
}

// A request that ends after the last batch (a stream cut at the shutdown
// deadline) still gets its row written.
func TestBatcherWritesRowsAddedAfterClose(t *testing.T) {
	s := newSink()
	var dropped atomic.Int64
	b := NewBatcher(s.write, BatcherOptions{Interval: time.Hour, Dropped: func(n int) { dropped.Add(int64(n)) }})
	b.Add(1)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Add(2)
	if got := s.written(); !slices.Equal(got, []int{1, 2}) || dropped.Load() != 0 {
		t.Errorf("written %v, dropped %d; want the late row written too", got, dropped.Load())
	}
}
