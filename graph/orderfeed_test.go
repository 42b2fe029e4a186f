package graph

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"orderflow/graph/model"
	"orderflow/projections"
)

// fakeOrders is a read model of orders that counts its reads.
type fakeOrders struct {
	mu     sync.Mutex
	orders map[string]projections.Order
	reads  atomic.Int64
	// lastRead is the status of the last order read.
	lastRead atomic.Value
}

func (f *fakeOrders) set(id, status string, version int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.orders[id] = projections.Order{ID: id, Status: status, Version: version}
}

func (f *fakeOrders) read(_ context.Context, id string) (*projections.Order, error) {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[id]
	f.lastRead.Store(o.Status)
	if !ok {
		return nil, nil
	}
	return &o, nil
}

// startFeed runs a feed over fake orders until the test ends, or until
// stop (which waits for its Run to return).
func startFeed(t *testing.T) (feed *OrderFeed, orders *fakeOrders, stop func()) {
	t.Helper()
	orders = &fakeOrders{orders: map[string]projections.Order{}}
	feed = NewOrderFeed(orders.read, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); feed.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return feed, orders, stop
}

func receive(t *testing.T, ch <-chan *model.Order) *model.Order {
	t.Helper()
	select {
	case o, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("no update within 5s")
		return nil
	}
}

// A change of a watched order is read once, however many watch it, and
// every subscriber gets it; a change of an order nobody watches is not read.
func TestOrderFeedReadsOnceForAllSubscribers(t *testing.T) {
	feed, orders, _ := startFeed(t)
	orders.set("o1", "PENDING", 1)
	ctx := t.Context()
	const n = 500
	subs := make([]<-chan *model.Order, n)
	for i := range subs {
		subs[i] = feed.Subscribe(ctx, "o1")
	}
	for _, ch := range subs {
		if o := receive(t, ch); o.Status != "PENDING" {
			t.Fatalf("first state %+v, want PENDING", o)
		}
	}

	orders.reads.Store(0)
	orders.set("o1", "VALIDATED", 2)
	orders.set("o2", "VALIDATED", 2)
	feed.Changed([]string{"o1", "o2", "o1"})
	for _, ch := range subs {
		if o := receive(t, ch); o.Status != "VALIDATED" || o.Version != 2 {
			t.Fatalf("after the change %+v, want VALIDATED v2", o)
		}
	}
	if got := orders.reads.Load(); got != 1 {
		t.Fatalf("%d reads for one change of one order watched by %d, want 1", got, n)
	}
}

// A subscriber that does not take its updates gets the newest state, not a
// queue; one that does not exist yet is skipped; ending the context closes
// the channel and forgets the subscriber.
func TestOrderFeedNewestStateAndEnd(t *testing.T) {
	feed, orders, _ := startFeed(t)
	ctx, cancel := context.WithCancel(t.Context())
	ch := feed.Subscribe(ctx, "o1") // not placed yet: nothing is sent
	orders.set("o1", "PENDING", 1)
	feed.Changed([]string{"o1"})
	if o := receive(t, ch); o.Status != "PENDING" {
		t.Fatalf("got %+v, want PENDING", o)
	}
	for v, s := range []string{"VALIDATED", "PAID", "SHIPPED"} {
		orders.set("o1", s, int64(v+2))
		feed.Changed([]string{"o1"})
	}
	// Wait until the feed has read the last change.
	deadline := time.Now().Add(5 * time.Second)
	for orders.lastRead.Load() != "SHIPPED" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	if o := receive(t, ch); o.Status != "SHIPPED" {
		t.Fatalf("a slow subscriber got %+v, want the newest state SHIPPED", o)
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("an update after the end")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after the context ended")
	}
	feed.mu.Lock()
	left := len(feed.topics)
	feed.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d topics left after the only subscriber went", left)
	}
}

// When Run ends, every subscriber's channel is closed, and a subscriber
// that comes later gets a closed channel.
func TestOrderFeedStopClosesSubscribers(t *testing.T) {
	orders := &fakeOrders{orders: map[string]projections.Order{}}
	orders.set("o1", "PENDING", 1)
	feed := NewOrderFeed(orders.read, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); feed.Run(ctx) }()
	ch := feed.Subscribe(t.Context(), "o1")
	receive(t, ch)
	cancel()
	<-done
	if _, ok := <-ch; ok {
		t.Fatal("an update after the feed stopped")
	}
	if _, ok := <-feed.Subscribe(t.Context(), "o1"); ok {
		t.Fatal("a subscriber after the feed stopped got an update")
	}
}
