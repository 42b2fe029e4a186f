package graph

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"orderflow/graph/model"
	"orderflow/projections"
)

// OrderFeed feeds the orderUpdated subscriptions: it learns from the
// projections which orders each applied batch changed, reads each changed
// order that somebody watches once, and hands that one state to every
// subscriber of the order. The cost of a change is one read per order,
// however many watch it, and a subscriber costs a channel and a small
// record, not a goroutine and a read of its own.
//
// Guarantees: a subscriber sees the order as it stands when it subscribes
// (if it exists), then every state the read model shows after a change,
// in order, skipping states it has already seen; one that does not keep up
// gets the newest state, not a queue of stale ones. When Run ends (the
// server shuts down) every subscriber's channel is closed, so that its
// subscription completes instead of waiting for changes that will not come.
type OrderFeed struct {
	read func(ctx context.Context, id string) (*projections.Order, error)
	log  *slog.Logger

	mu     sync.Mutex
	topics map[string]*orderTopic
	// pending holds the watched orders changed since the last read.
	pending map[string]struct{}
	wake    chan struct{}
	// stopped is set when Run has ended: nothing is delivered any more.
	stopped bool
}

type orderTopic struct {
	subs map[*orderSub]struct{}
}

type orderSub struct {
	ch   chan *model.Order
	last *model.Order
}

// NewOrderFeed returns a feed reading orders with read (the orders read
// model's Views.Order); tell it about changes with Changed and run it with
// Run.
func NewOrderFeed(read func(ctx context.Context, id string) (*projections.Order, error), log *slog.Logger) *OrderFeed {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &OrderFeed{read: read, log: log, topics: map[string]*orderTopic{},
		pending: map[string]struct{}{}, wake: make(chan struct{}, 1)}
}

// Changed is told the ids of orders whose read model changed. It never
// blocks: ids nobody watches are dropped, the others wait for the next read.
func (f *OrderFeed) Changed(ids []string) {
	f.mu.Lock()
	n := 0
	for _, id := range ids {
		if _, ok := f.topics[id]; ok {
			f.pending[id] = struct{}{}
			n++
		}
	}
	f.mu.Unlock()
	if n > 0 {
		f.signal()
	}
}

func (f *OrderFeed) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Subscribe returns a channel with the order's states, closed when ctx
// ends or the feed stops.
func (f *OrderFeed) Subscribe(ctx context.Context, id string) <-chan *model.Order {
	s := &orderSub{ch: make(chan *model.Order, 1)}
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		close(s.ch)
		return s.ch
	}
	t := f.topics[id]
	if t == nil {
		t = &orderTopic{subs: map[*orderSub]struct{}{}}
		f.topics[id] = t
	}
	t.subs[s] = struct{}{}
	// The first state is read like any change, so it cannot overtake one.
	f.pending[id] = struct{}{}
	f.mu.Unlock()
	f.signal()
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := t.subs[s]; !ok {
			return // closed when the feed stopped
		}
		delete(t.subs, s)
		if len(t.subs) == 0 && f.topics[id] == t {
			delete(f.topics, id)
		}
		// Under f.mu, as every send is: nothing is sent to it afterwards.
		close(s.ch)
	})
	return s.ch
}

// Run reads and delivers changed orders until ctx ends, then closes every
// subscriber's channel.
func (f *OrderFeed) Run(ctx context.Context) {
	defer f.stop()
	for {
		select {
		case <-f.wake:
		case <-ctx.Done():
			return
		}
		f.mu.Lock()
		ids := make([]string, 0, len(f.pending))
		for id := range f.pending {
			ids = append(ids, id)
		}
		clear(f.pending)
		f.mu.Unlock()
		for _, id := range ids {
			o, err := f.read(ctx, id)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				// Read again after a pause: the subscribers keep their
				// last state meanwhile.
				f.log.Error("order subscription: reading the order failed, retrying", "order", id, "err", err)
				f.Changed([]string{id})
				select {
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
					return
				}
				continue
			}
			if cur := toOrder(o); cur != nil {
				f.deliver(id, cur)
			}
		}
	}
}

// stop closes every subscriber's channel and refuses new subscribers.
func (f *OrderFeed) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	for id, t := range f.topics {
		for s := range t.subs {
			delete(t.subs, s)
			close(s.ch)
		}
		delete(f.topics, id)
	}
	clear(f.pending)
}

// deliver hands cur to each subscriber of id that has not seen it. A send
// never blocks: a subscriber that has not taken the previous state gets
// this one in its place.
func (f *OrderFeed) deliver(id string, cur *model.Order) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.topics[id]
	if t == nil {
		return
	}
	for s := range t.subs {
		if !orderChanged(s.last, cur) {
			continue
		}
		select {
		case <-s.ch:
		default:
		}
		s.ch <- cur
		s.last = cur
	}
}

func orderChanged(before, now *model.Order) bool {
	return before == nil || before.Version != now.Version || before.Status != now.Status ||
		!slices.Equal(before.FailureReasons, now.FailureReasons)
}
