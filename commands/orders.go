package commands

import (
	"context"

	"orderflow/domain/order"
	"orderflow/events"
)

// PlaceOrder asks for a new order.
type PlaceOrder struct {
	ID         string // made when empty
	CustomerID string
	Lines      []order.RequestedLine
}

// PlaceOrder checks the order against the rules, prices it from the catalog
// copy and records OrderPlaced. The validations follow asynchronously.
func (h *Handlers) PlaceOrder(ctx context.Context, cmd PlaceOrder, md events.Metadata) (Result, error) {
	id := newID(cmd.ID)
	ids := make([]string, len(cmd.Lines))
	for i, l := range cmd.Lines {
		ids[i] = l.ProductID
	}
	prices, err := h.catalog.Prices(ctx, ids)
	if err != nil {
		return Result{}, err
	}
	md = newMetadata(md)
	var res Result
	err = retry(ctx, func() error {
		o, l, err := h.loadOrder(ctx, id)
		if err != nil {
			return err
		}
		evs, err := order.Place(o, id, cmd.CustomerID, cmd.Lines, prices, h.now())
		if err != nil {
			return err
		}
		pos, err := h.appendAll(ctx, md, pending{order.StreamID(id), l.version, payloads(evs)})
		res = Result{ID: id, Position: positionOr(pos, l.position)}
		return err
	})
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

// updateOrder is load-decide-append for an existing order. Events caused by
// a command on an order carry the order's correlation id, so the order's
// whole story can be followed by it.
func (h *Handlers) updateOrder(ctx context.Context, orderID string, md events.Metadata,
	decide func(order.Order) ([]order.Event, error)) (Result, error) {
	var res Result
	err := retry(ctx, func() error {
		o, l, err := h.loadOrder(ctx, orderID)
		if err != nil {
			return err
		}
		if !o.Exists() {
			return order.ErrNotFound
		}
		evs, err := decide(o)
		if err != nil {
			return err
		}
		pos, err := h.appendAll(ctx, withCorrelation(md, l.correlation), pending{order.StreamID(orderID), l.version, payloads(evs)})
		res = Result{ID: orderID, Position: positionOr(pos, l.position)}
		return err
	})
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
