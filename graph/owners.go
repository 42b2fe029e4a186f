package graph

import (
	"context"
	"fmt"
	"strings"

	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/graph/access"
	"orderflow/projections"
)

// This file looks up whose data an operation touches; graph/access decides
// what the caller may do with it.

// orderOwner looks up the customer of an order in the log. An order nobody
// placed is NOT_FOUND: a customer may act only on an order that exists and
// is its own, and an order's customer never changes once placed, so the
// answer cannot go stale between the check and the command.
func (r *Resolver) orderOwner(orderID string) func(context.Context) (access.Owner, error) {
	return func(ctx context.Context) (access.Owner, error) {
		customerID, found, err := r.Log.OrderCustomer(ctx, orderID)
		if err != nil {
			return access.Owner{}, err
		}
		if !found {
			return access.Owner{}, notFound(fmt.Sprintf("order %q not found", orderID))
		}
		return access.OwnedBy(customerID), nil
	}
}

// streamOwner is the owner of an event stream a customer may read: the
// streams of an order (its own and its payment's) belong to the order's
// customer; every other stream is part of the whole log.
func (r *Resolver) streamOwner(streamID string) func(context.Context) (access.Owner, error) {
	for _, prefix := range []string{order.StreamID(""), payment.StreamID("")} {
		if orderID, ok := strings.CutPrefix(streamID, prefix); ok && orderID != "" {
			return r.orderOwner(orderID)
		}
	}
	return func(context.Context) (access.Owner, error) { return access.Everyone(), nil }
}

// ownerOf is the owner of an order already read: nobody's when there is
// none, so the caller learns only that it is not there.
func ownerOf(o *projections.Order) access.Owner {
	if o == nil {
		return access.Nobody()
	}
	return access.OwnedBy(o.CustomerID)
}
