package commands

import (
	"context"

	"orderflow/domain/fraud"
	"orderflow/domain/order"
	"orderflow/events"
)

// fraudConsumer is the fraud context's reaction to placed orders. Orders are
// keyed by customer, so one lane owns each customer's fraud stream and keeps
// the customer's window of order totals in memory.
func (h *Handlers) fraudConsumer() events.ConsumerSpec {
	return events.ConsumerSpec{
		Name:  "fraud",
		Types: eventTypes(order.OrderPlaced{}),
		Route: func(_ events.Event, p events.Payload) []events.Routed {
			placed, ok := p.(order.OrderPlaced)
			if !ok {
				return nil
			}
			return []events.Routed{{Key: placed.CustomerID}}
		},
		NewLane: func(int, int64) events.BatchHandler {
			return &fraudLane{h: h, histories: map[string]*fraudState{}}
		},
	}
}

// fraudLane owns the fraud streams of its customers.
type fraudLane struct {
	h         *Handlers
	histories map[string]*fraudState // by customer id
}

type fraudState struct {
	history fraud.History
	version int64
}

func (l *fraudLane) HandleBatch(ctx context.Context, batch []events.Delivery) (int, error) {
	b := l.h.newBatch()
	touched := map[string]bool{}
	redelivered := 0
	err := func() error {
		for _, d := range batch {
			placed, ok := d.Payload.(order.OrderPlaced)
			if !ok {
				continue
			}
			s, err := l.load(ctx, placed.CustomerID)
			if err != nil {
				return err
			}
			// A history remembers every order it checked, so a redelivered
			// placement is recognised by its order id.
			if s.history.Checked(placed.OrderID) {
				redelivered++
				continue
			}
			touched[placed.CustomerID] = true
			evs := fraud.Check(s.history, l.h.fraud, placed.CustomerID, placed.OrderID, placed.PlacedAt, placed.TotalCents)
			if err := b.add(fraud.StreamID(placed.CustomerID), s.version, d.Event, payloads(evs)); err != nil {
				return err
			}
			for _, e := range evs {
				s.history = s.history.Evolve(e)
			}
			s.version += int64(len(evs))
		}
		return b.commit(ctx)
	}()
	if err != nil {
		for id := range touched {
			delete(l.histories, id)
		}
		return 0, err
	}
	return redelivered, nil
}

func (l *fraudLane) load(ctx context.Context, customerID string) (*fraudState, error) {
	if s, ok := l.histories[customerID]; ok {
		return s, nil
	}
	hist, version, err := l.h.frauds.load(ctx, l.h, fraud.StreamID(customerID))
	if err != nil {
		return nil, err
	}
	s := &fraudState{history: hist, version: version}
	l.histories[customerID] = s
	return s, nil
}
