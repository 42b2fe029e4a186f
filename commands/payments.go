package commands

import (
	"context"

	"orderflow/domain/bounds"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
)

// PayOrder records a payment for an order. The order must exist and may be
// PENDING (the payment is held until it validates) or VALIDATED; the amount
// must equal its total. The orders context turns it into OrderPaid.
func (h *Handlers) PayOrder(ctx context.Context, orderID string, amountCents int64, md events.Metadata) (Result, error) {
	if err := bounds.CheckID("orderId", orderID); err != nil {
		return Result{}, err
	}
	var res Result
	err := retry(ctx, func() error {
		o, ol, err := h.loadOrder(ctx, orderID)
		if err != nil {
			return err
		}
		if err := order.CanBePaid(o); err != nil {
			return err
		}
		p, pl, err := h.loadPayment(ctx, orderID)
		if err != nil {
			return err
		}
		evs, err := payment.Receive(p, events.NewID(), orderID, o.TotalCents, amountCents)
		if err != nil {
			return err
		}
		pos, err := h.appendAll(ctx, withCorrelation(md, ol.correlation), pending{payment.StreamID(orderID), pl.version, payloads(evs)})
		res = Result{ID: orderID, Position: pos}
		return err
	})
	return res, err
}

func (h *Handlers) loadPayment(ctx context.Context, orderID string) (payment.Payment, loaded, error) {
	var p payment.Payment
	l, err := h.load(ctx, payment.StreamID(orderID), func(e events.Payload) { p = p.Evolve(e) })
	return p, l, err
}
