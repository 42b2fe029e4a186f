package commands

import (
	"context"
	"errors"

	"orderflow/domain/bounds"
	"orderflow/domain/order"
	"orderflow/events"
)

// ordersContext declares the orders context: the order streams, the
// commands that place and change orders, and the order process that
// validates them (orderprocess.go).
var ordersContext = Context{
	Name:    ContextOrders,
	Streams: order.StreamID(""),
	Events: append(current(order.OrderPlaced{}, order.OrderFailed{}, order.OrderPaid{},
		order.OrderShipped{}, order.OrderCancelled{}), events.Registration{
		Payload:   order.OrderValidated{},
		Version:   order.OrderValidatedVersion,
		Upcasters: map[int]events.Upcaster{1: events.UpcastObject(order.UpcastOrderValidatedV1)},
	}),
	Commands:  []CommandName{CmdPlaceOrder, CmdShipOrder, CmdCancelOrder, CmdExpireOrder},
	Copies:    []string{ContextCatalog},
	ScalesOut: true,
	Reaction:  &orderProcessReaction,
	// The deadlines read model lists the orders a deadline runs for: the
	// deadline timer (deadlines.go) finds the orders due there.
	ReadModels: []string{"products", "deadlines"},
}

// PlaceOrder asks for a new order.
type PlaceOrder struct {
	ID         string // made when empty
	CustomerID string
	Lines      []order.RequestedLine
}

// PlaceOrder checks the order against the rules, prices it from the catalog
// copy and records OrderPlaced. The validations follow asynchronously.
func (h *Handlers) PlaceOrder(ctx context.Context, cmd PlaceOrder, md events.Metadata) (Result, error) {
	// Ids are checked before they become stream ids and are read; Place
	// checks them again, as the rule it owns.
	if err := bounds.CheckID("customerId", cmd.CustomerID); err != nil {
		return Result{}, err
	}
	id := newID(cmd.ID)
	if err := bounds.CheckID("order id", id); err != nil {
		return Result{}, err
	}
	ids := make([]string, len(cmd.Lines))
	for i, l := range cmd.Lines {
		ids[i] = l.ProductID
	}
	prices, err := h.catalog.Prices(ctx, ids)
	if err != nil {
		return Result{}, err
	}
	md = newMetadata(md)
	decide := func(o order.Order) ([]order.Event, error) {
		return order.Place(o, id, cmd.CustomerID, cmd.Lines, prices, h.now())
	}
	// Almost every placement is of a new order: decide against an empty
	// stream without reading it. The append expects version 0, so an id in
	// use fails as a conflict, and a refusal may depend on what the id
	// holds; either way the full load-decide-append below answers (it also
	// recognises a safe retry).
	if evs, err := decide(order.Order{}); err == nil {
		last, err := h.appendAll(ctx, md, pending{order.StreamID(id), 0, payloads(evs)})
		if !errors.Is(err, events.ErrVersionConflict) {
			return Result{ID: id, Position: last.Position, EventID: last.ID}, err
		}
	}
	res, err := decideOne(ctx, h, order.StreamID(id), order.Order.Evolve, same(md), decide)
	res.ID = id
	return res, err
}

// ShipOrder records that a PAID order shipped.
func (h *Handlers) ShipOrder(ctx context.Context, orderID string, md events.Metadata) (Result, error) {
	return h.updateOrder(ctx, orderID, md, order.Ship)
}

// CancelOrder stops an order that has not shipped, failed or been cancelled.
func (h *Handlers) CancelOrder(ctx context.Context, orderID, reason string, md events.Metadata) (Result, error) {
	return h.updateOrder(ctx, orderID, md, func(o order.Order) ([]order.Event, error) {
		return order.Cancel(o, reason)
	})
}

// ExpireOrder ends an order whose deadline has passed (order.Expire): a
// PENDING order fails with VALIDATION_TIMEOUT, a VALIDATED one is
// cancelled with PAYMENT_TIMEOUT. It is asked by the deadline timer and
// is decided against the order's stream like any command on it, so that an
// expiry racing a validation or a payment gives one outcome: an order whose
// deadline has not passed, or that moved on, records nothing.
func (h *Handlers) ExpireOrder(ctx context.Context, orderID string, md events.Metadata) (Result, error) {
	var expired []order.Event
	res, err := h.updateOrder(ctx, orderID, md, func(o order.Order) ([]order.Event, error) {
		expired = order.Expire(o, h.deadlines, h.now())
		return expired, nil
	})
	if err == nil && h.observeExpired != nil {
		for _, e := range expired {
			h.observeExpired(reasonOf(e))
		}
	}
	return res, err
}

// reasonOf is the reason an expiry gives.
func reasonOf(e order.Event) string {
	switch e := e.(type) {
	case order.OrderFailed:
		return e.Reason
	case order.OrderCancelled:
		return e.Reason
	}
	return ""
}

// updateOrder is load-decide-append for an existing order. Events caused by
// a command on an order carry the order's correlation id, so the order's
// whole story can be followed by it.
func (h *Handlers) updateOrder(ctx context.Context, orderID string, md events.Metadata,
	decide func(order.Order) ([]order.Event, error)) (Result, error) {
	if err := bounds.CheckID("orderId", orderID); err != nil {
		return Result{}, err
	}
	res, err := decideOne(ctx, h, order.StreamID(orderID), order.Order.Evolve,
		func(l loaded) events.Metadata { return withCorrelation(md, l.correlation) },
		func(o order.Order) ([]order.Event, error) {
			if !o.Exists() {
				return nil, order.ErrNotFound
			}
			return decide(o)
		})
	res.ID = orderID
	return res, err
}

func (h *Handlers) loadOrder(ctx context.Context, id string) (order.Order, loaded, error) {
	var o order.Order
	l, err := h.load(ctx, order.StreamID(id), func(e events.Payload) { o = o.Evolve(e) })
	return o, l, err
}

func withCorrelation(md events.Metadata, correlationID string) events.Metadata {
	if correlationID != "" {
		md.CorrelationID = correlationID
	}
	return newMetadata(md)
}
