package commands

import (
	"context"

	"orderflow/domain/fraud"
	"orderflow/domain/order"
	"orderflow/events"
)

// fraudContext declares the fraud context: a window on each customer's
// recent orders.
var fraudContext = Context{
	Name:      ContextFraud,
	Streams:   fraud.StreamID(""),
	Events:    current(fraud.FraudCheckPassed{}, fraud.FraudCheckFailed{}),
	ScalesOut: true,
	Reaction:  &fraudReaction,
	Check:     order.CheckFraud,
	Snapshot: func(ctx context.Context, h *Handlers, stream string) ([]byte, int64, error) {
		return h.frauds.encoded(ctx, h, stream)
	},
}

// fraudReaction is the fraud context's reaction to placed orders. Orders are
// keyed by customer, so one lane owns each customer's fraud stream and keeps
// the customer's recent orders in memory: only those within the retention
// (fraud.Rule.Retention), for at most laneCacheLimit customers per lane.
var fraudReaction = Reaction{
	Name:      "fraud",
	Input:     []events.Payload{order.OrderPlaced{}},
	Route:     byCustomer,
	Rekey:     &Rekey{Topic: "orders-by-customer", Families: []string{ContextOrders}},
	Validates: true,
	Lane: func(h *Handlers, _ int64) events.BatchHandler {
		return &fraudLane{h: h, histories: newLRU[*fraudState](laneCacheLimit)}
	},
}

// fraudLane owns the fraud streams of its customers.
// byCustomer keys a placed order by its customer, whose fraud history
// decides it.
func byCustomer(_ events.Event, p events.Payload) []events.Routed {
	placed, ok := p.(order.OrderPlaced)
	if !ok {
		return nil
	}
	return []events.Routed{{Key: placed.CustomerID}}
}

type fraudLane struct {
	h         *Handlers
	histories *lru[*fraudState] // by customer id
}

type fraudState struct {
	history fraud.History
	version int64
	// answered is the position of the placement the stream last answered:
	// placements reach the lane in log order, so one at or below it was
	// checked already, even if the history has forgotten it since.
	answered int64
}

func (l *fraudLane) HandleBatch(ctx context.Context, batch []events.Delivery) (int, error) {
	b := l.h.newBatch()
	staged := map[string][]fraud.Event{} // by customer: decided in this batch, not committed yet
	redelivered, err := b.decideEach(ctx, batch, l.histories.remove, func(d events.Delivery) (decision, error) {
		return l.decide(ctx, b, d, staged)
	})
	if err == nil {
		l.histories.trim()
	}
	return redelivered, err
}

// decide checks one placement against its customer's window.
func (l *fraudLane) decide(ctx context.Context, b *batch, d events.Delivery, staged map[string][]fraud.Event) (decision, error) {
	placed, ok := d.Payload.(order.OrderPlaced)
	if !ok {
		return decision{}, nil
	}
	s, err := l.load(ctx, placed.CustomerID)
	if err != nil {
		return decision{}, err
	}
	// A retried dead letter was never answered, however old it is.
	if l.h.answeredBefore(ContextFraud, d, s.answered) {
		return decision{redelivered: true}, nil
	}
	touched := decision{key: placed.CustomerID}
	h := s.history
	if !h.Covers(l.h.fraud, placed.PlacedAt) {
		// Placed long before the newest order checked: the part of its
		// window the lane forgot is read from the log again.
		if h, err = l.whole(ctx, placed.CustomerID, staged[placed.CustomerID]); err != nil {
			return touched, err
		}
	}
	evs := fraud.Check(h, l.h.fraud, placed.CustomerID, placed.OrderID, placed.PlacedAt, placed.TotalCents)
	if err := b.add(fraud.StreamID(placed.CustomerID), s.version, d.Event, payloads(evs)); err != nil {
		return touched, err
	}
	for _, e := range evs {
		s.history = s.history.Evolve(e).Forget(l.h.fraud.Retention())
	}
	staged[placed.CustomerID] = append(staged[placed.CustomerID], evs...)
	s.version += int64(len(evs))
	s.answered = max(s.answered, d.Event.Origin())
	return touched, nil
}

func (l *fraudLane) load(ctx context.Context, customerID string) (*fraudState, error) {
	if s, ok := l.histories.get(customerID); ok {
		return s, nil
	}
	stream := fraud.StreamID(customerID)
	hist, version, err := l.h.frauds.load(ctx, l.h, stream)
	if err != nil {
		return nil, err
	}
	answered, err := l.h.store.CausedThrough(ctx, stream)
	if err != nil {
		return nil, err
	}
	s := &fraudState{history: hist, version: version, answered: answered}
	l.histories.put(customerID, s)
	return s, nil
}

// whole is a customer's complete history, forgetting nothing: the stream as
// stored and what this batch decided for the customer so far. A log
// restored from the fraud changelog holds the stream from its snapshot on,
// which kept the retention: a placement older than that is checked against
// what the snapshot kept.
func (l *fraudLane) whole(ctx context.Context, customerID string, staged []fraud.Event) (fraud.History, error) {
	stream := fraud.StreamID(customerID)
	snap, err := restored[fraud.History](ctx, l.h, stream)
	if err != nil {
		return fraud.History{}, err
	}
	h := snap.state
	evs, err := l.h.readStream(ctx, stream, snap.version)
	if err != nil {
		return h, err
	}
	for _, e := range evs {
		p, err := l.h.reg.Decode(e)
		if err != nil {
			return h, err
		}
		h = h.Evolve(p)
	}
	for _, e := range staged {
		h = h.Evolve(e)
	}
	return h, nil
}
