package projections

import (
	"context"
	"errors"
	"fmt"

	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
)

// ErrNoSuchVersion is returned for a version past an order's last one.
var ErrNoSuchVersion = errors.New("the order has no such version")

// History answers questions about the past straight from the log: an
// order's own events, everything its placement caused, and the order as it
// stood at any version.
type History struct {
	store *events.Store
	reg   *events.Registry
}

// NewHistory returns the history queries over the store.
func NewHistory(store *events.Store, reg *events.Registry) *History {
	return &History{store: store, reg: reg}
}

// OrderEvents is the order's own stream, oldest first.
func (h *History) OrderEvents(ctx context.Context, orderID string) ([]events.Event, error) {
	return h.store.ReadStream(ctx, order.StreamID(orderID), 0)
}

// OrderCustomer is the customer who placed an order, from the order's
// first event in the log (found is false for an order nobody placed). It
// reads the log rather than a read model, so an order placed a moment ago
// is known however far the read models lag; an order's customer never
// changes.
func (h *History) OrderCustomer(ctx context.Context, orderID string) (customerID string, found bool, err error) {
	first, err := h.store.ReadStreamAfter(ctx, order.StreamID(orderID), 0, 1)
	if err != nil || len(first) == 0 {
		return "", false, err
	}
	p, err := h.reg.Decode(first[0])
	if err != nil {
		return "", false, err
	}
	placed, ok := p.(order.OrderPlaced)
	if !ok {
		return "", false, fmt.Errorf("order %q starts with %s, not OrderPlaced", orderID, first[0].Type)
	}
	return placed.CustomerID, true, nil
}

// Timeline is every event sharing the order's correlation id, in position
// order: what the placement caused in every context.
func (h *History) Timeline(ctx context.Context, orderID string) ([]events.Event, error) {
	own, err := h.store.ReadStreamAfter(ctx, order.StreamID(orderID), 0, 1)
	if err != nil || len(own) == 0 || own[0].CorrelationID == "" {
		return own, err
	}
	return h.store.ReadCorrelated(ctx, own[0].CorrelationID)
}

// OrderAt rebuilds the order as it stood right after the given version of
// its stream: nil for an unknown order, ErrNoSuchVersion past its last
// version. Failure reasons reported by validations up to that moment are
// included, as in the orders read model.
func (h *History) OrderAt(ctx context.Context, orderID string, version int64) (*Order, error) {
	own, err := h.OrderEvents(ctx, orderID)
	if err != nil || len(own) == 0 {
		return nil, err
	}
	if version < 1 || version > int64(len(own)) {
		return nil, ErrNoSuchVersion
	}
	upTo := own[version-1].Position
	related, err := h.store.ReadCorrelated(ctx, own[0].CorrelationID)
	if err != nil {
		return nil, err
	}
	var o Order
	for _, e := range related {
		if e.Position > upTo {
			break
		}
		p, err := h.reg.Decode(e)
		if err != nil {
			return nil, err
		}
		foldOrder(&o, orderID, e, p)
	}
	return &o, nil
}

// foldOrder applies one event to an order row in memory: what the orders
// projection decides for the event (changeOf), when it is about this
// order, the payments projection's amounts and the cancellations
// projection's reason.
func foldOrder(o *Order, orderID string, e events.Event, p events.Payload) {
	if c, ok := changeOf(p); ok && c.orderID == orderID {
		c.applyTo(o, e)
	}
	switch p := p.(type) {
	case payment.PaymentReceived:
		if p.OrderID == orderID {
			o.PaidCents = p.AmountCents
		}
	case payment.PaymentRefunded:
		if p.OrderID == orderID {
			o.RefundedCents = p.AmountCents
		}
	case order.OrderCancelled:
		if p.OrderID == orderID {
			o.CancellationReason = p.Reason
		}
	}
}
