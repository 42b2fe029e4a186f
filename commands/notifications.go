package commands

import (
	"context"
	"time"

	"orderflow/domain/customer"
	"orderflow/domain/notification"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
)

// ConfirmOrder is the notifications context's reaction to OrderValidated
// and PaymentReceived: once an order has both, within the join window, it
// records ORDER_CONFIRMED to the customer's email and address as they stand
// now. It runs on both events and reads both from the log, so either may come
// first; the notification stream is written once.
func (h *Handlers) ConfirmOrder(ctx context.Context, trigger events.Event, orderID string) error {
	stream := notification.StreamID(orderID)
	return retry(ctx, func() error {
		sent, err := h.load(ctx, stream, func(events.Payload) {})
		if err != nil {
			return err
		}
		facts := notification.Facts{AlreadySent: sent.version > 0}
		var o order.Order
		orderEvents, err := h.store.ReadStream(ctx, order.StreamID(orderID), 0)
		if err != nil {
			return err
		}
		for _, e := range orderEvents {
			p, err := h.reg.Decode(e)
			if err != nil {
				return err
			}
			o = o.Evolve(p)
			if _, ok := p.(order.OrderValidated); ok {
				facts.ValidatedAt = timePtr(e.OccurredAt)
			}
		}
		paymentEvents, err := h.store.ReadStream(ctx, payment.StreamID(orderID), 0)
		if err != nil {
			return err
		}
		for _, e := range paymentEvents {
			p, err := h.reg.Decode(e)
			if err != nil {
				return err
			}
			if paid, ok := p.(payment.PaymentReceived); ok {
				facts.PaidAt = timePtr(e.OccurredAt)
				facts.PaymentMatches = paid.AmountCents == o.TotalCents
			}
		}
		var c customer.Customer
		if _, err := h.load(ctx, customer.StreamID(o.CustomerID), func(p events.Payload) { c = c.Evolve(p) }); err != nil {
			return err
		}
		if c.Registered() {
			facts.Recipient = &notification.Recipient{CustomerID: c.ID, Email: c.Email, Address: c.Address}
		}
		evs := notification.ConfirmOrder(orderID, facts, h.joinWindow, h.now())
		_, err = h.appendAll(ctx, causedBy(trigger), pending{stream, sent.version, payloads(evs)})
		return err
	})
}

func timePtr(t time.Time) *time.Time { return &t }
