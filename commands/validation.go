package commands

import (
	"context"

	"orderflow/domain/customer"
	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/order"
	"orderflow/domain/stock"
	"orderflow/events"
)

// CheckFraud is the fraud validation of a placed order.
func (h *Handlers) CheckFraud(ctx context.Context, trigger events.Event, placed order.OrderPlaced) error {
	md := causedBy(trigger)
	stream := fraud.StreamID(placed.CustomerID)
	return retry(ctx, func() error {
		hist, version, err := h.frauds.load(ctx, h, stream)
		if err != nil {
			return err
		}
		evs := fraud.Check(hist, h.fraud, placed.CustomerID, placed.OrderID, placed.PlacedAt, placed.TotalCents)
		_, err = h.appendAll(ctx, md, pending{stream, version, payloads(evs)})
		return err
	})
}

// CheckCustomer is the customer validation of a placed order: was the
// customer registered before the order was placed? Deciding by position
// rather than by "now" gives the same answer however late the check runs.
func (h *Handlers) CheckCustomer(ctx context.Context, trigger events.Event, placed order.OrderPlaced) error {
	md := causedBy(trigger)
	stream := customercheck.StreamID(placed.OrderID)
	return retry(ctx, func() error {
		l, err := h.load(ctx, stream, func(events.Payload) {})
		if err != nil {
			return err
		}
		registered, err := h.registeredBefore(ctx, placed.CustomerID, trigger.Position)
		if err != nil {
			return err
		}
		evs := customercheck.Check(l.version > 0, placed.OrderID, placed.CustomerID, registered)
		_, err = h.appendAll(ctx, md, pending{stream, l.version, payloads(evs)})
		return err
	})
}

func (h *Handlers) registeredBefore(ctx context.Context, customerID string, position int64) (bool, error) {
	evs, err := h.store.ReadStream(ctx, customer.StreamID(customerID), 0)
	if err != nil {
		return false, err
	}
	return len(evs) > 0 && evs[0].Position < position, nil
}

// EvaluateOrder is the aggregation step of the validation process: it
// gathers every check result recorded for the order (all share its
// correlation id) and lets the order decide. Because it reads the results
// from the log instead of counting messages, it gives the same answer
// whatever order and however often the results arrive.
func (h *Handlers) EvaluateOrder(ctx context.Context, trigger events.Event, orderID string) error {
	return retry(ctx, func() error {
		o, l, err := h.loadOrder(ctx, orderID)
		if err != nil || o.Status != order.Pending {
			return err
		}
		related, err := h.store.ReadCorrelated(ctx, l.correlation)
		if err != nil {
			return err
		}
		var results []order.CheckResult
		for _, e := range related {
			p, err := h.reg.Decode(e)
			if err != nil {
				return err
			}
			if id, r, ok := validationResult(p); ok && id == orderID {
				results = append(results, r)
			}
		}
		evs := order.Evaluate(o, results)
		_, err = h.appendAll(ctx, causedBy(trigger), pending{order.StreamID(orderID), l.version, payloads(evs)})
		return err
	})
}

// validationResult reads a validation result out of an event: the order it
// is about and what it says. ok is false for any other event.
func validationResult(p events.Payload) (orderID string, r order.CheckResult, ok bool) {
	switch e := p.(type) {
	case stock.StockReserved:
		return e.OrderID, order.CheckResult{Check: order.CheckInventory, Passed: true}, true
	case stock.StockReservationRejected:
		return e.OrderID, order.CheckResult{Check: order.CheckInventory, Reason: e.Reason}, true
	case fraud.FraudCheckPassed:
		return e.OrderID, order.CheckResult{Check: order.CheckFraud, Passed: true}, true
	case fraud.FraudCheckFailed:
		return e.OrderID, order.CheckResult{Check: order.CheckFraud, Reason: e.Reason}, true
	case customercheck.CustomerCheckPassed:
		return e.OrderID, order.CheckResult{Check: order.CheckCustomer, Passed: true}, true
	case customercheck.CustomerCheckFailed:
		return e.OrderID, order.CheckResult{Check: order.CheckCustomer, Reason: e.Reason}, true
	}
	return "", order.CheckResult{}, false
}

// ApplyPayment turns a received payment into OrderPaid once the order is
// VALIDATED. It runs both when the payment arrives and when the order
// validates, and reads both from the log, so either may come first.
func (h *Handlers) ApplyPayment(ctx context.Context, trigger events.Event, orderID string) error {
	return retry(ctx, func() error {
		p, _, err := h.loadPayment(ctx, orderID)
		if err != nil || !p.Received {
			return err
		}
		o, l, err := h.loadOrder(ctx, orderID)
		if err != nil {
			return err
		}
		evs := order.ApplyPayment(o, p.PaymentID, p.AmountCents)
		_, err = h.appendAll(ctx, causedBy(trigger), pending{order.StreamID(orderID), l.version, payloads(evs)})
		return err
	})
}

func causedBy(trigger events.Event) events.Metadata {
	return events.Metadata{CorrelationID: trigger.CorrelationID, CausationID: trigger.ID}
}
