package commands

import (
	"context"

	"orderflow/domain/customer"
	"orderflow/domain/customercheck"
	"orderflow/domain/order"
	"orderflow/events"
)

// customerCheckContext declares the customer check: was the customer of an
// order registered before it was placed?
var customerCheckContext = Context{
	Name:      ContextCustomerCheck,
	Streams:   customercheck.StreamID(""),
	Events:    current(customercheck.CustomerCheckPassed{}, customercheck.CustomerCheckFailed{}),
	Copies:    []string{ContextCustomers},
	ScalesOut: true,
	Reaction:  &customerCheckReaction,
	Check:     order.CheckCustomer,
}

// customerCheckReaction is the customer validation of placed orders: was
// the customer registered before the order was placed? Placements are keyed
// by order, whose check stream the lane writes once.
var customerCheckReaction = Reaction{
	Name:      "customercheck",
	Input:     []events.Payload{order.OrderPlaced{}},
	Route:     byOrder,
	Validates: true,
	Lane: func(h *Handlers, startHead int64) events.BatchHandler {
		return &customerCheckLane{h: h, startHead: startHead, registeredAt: newLRU[int64](laneCacheLimit)}
	},
}

// customerCheckLane writes the check streams of its orders.
type customerCheckLane struct {
	h         *Handlers
	startHead int64
	// registeredAt caches the position of each customer's registration
	// (it never changes once made); unknown customers are asked again.
	registeredAt *lru[int64]
}

func (l *customerCheckLane) HandleBatch(ctx context.Context, batch []events.Delivery) (int, error) {
	b := l.h.newBatch()
	redelivered := 0
	for _, d := range batch {
		placed, ok := d.Payload.(order.OrderPlaced)
		if !ok {
			continue
		}
		stream := customercheck.StreamID(placed.OrderID)
		// A placement after the start of this run cannot have been checked
		// by an earlier one, and this lane checks each order once; only one
		// from before may have been, and the log says.
		if d.Event.Position <= l.startHead {
			done, err := l.h.readStream(ctx, stream, 0)
			if err != nil {
				return 0, err
			}
			if len(done) > 0 {
				redelivered++
				continue
			}
		}
		registered, err := l.registeredBefore(ctx, placed.CustomerID, d.Event)
		if err != nil {
			return 0, err
		}
		evs := customercheck.Check(false, placed.OrderID, placed.CustomerID, registered)
		if err := b.add(stream, 0, d.Event, payloads(evs)); err != nil {
			return 0, err
		}
	}
	return redelivered, b.commit(ctx)
}

// registeredBefore says whether the customer was registered before the
// order was placed. Deciding by position rather than by "now" gives the
// same answer however late the check runs. Split into services, the
// customers are a copy fed from their topic, in its own order: there a
// customer registered in the copy, once it caught up with what was
// published before the order, was registered before it.
//
// A forgotten customer is not registered for any order checked after they
// were forgotten: the keyring says so at once, whatever the lane cached.
func (l *customerCheckLane) registeredBefore(ctx context.Context, customerID string, placed events.Event) (bool, error) {
	if gone, err := l.h.forgotten(customerID); err != nil || gone {
		return false, err
	}
	at, ok := l.registeredAt.get(customerID)
	if !ok {
		evs, err := l.h.store.ReadStreamAfter(ctx, customer.StreamID(customerID), 0, 1)
		if err != nil {
			return false, err
		}
		if len(evs) == 0 && l.h.catchUp != nil {
			if err := l.h.catchUp(ctx, ContextCustomers); err != nil {
				return false, err
			}
			if evs, err = l.h.store.ReadStreamAfter(ctx, customer.StreamID(customerID), 0, 1); err != nil {
				return false, err
			}
		}
		if len(evs) == 0 {
			return false, nil
		}
		at = evs[0].Position
		l.registeredAt.put(customerID, at)
		l.registeredAt.trim()
	}
	if l.h.catchUp != nil {
		return true, nil
	}
	return at < placed.Position, nil
}

// byOrder keys an event by the order it is about.
func byOrder(_ events.Event, p events.Payload) []events.Routed {
	if id, ok := order.IDOf(p); ok {
		return []events.Routed{{Key: id}}
	}
	return nil
}
