package commands

import (
	"context"

	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
)

// Reaction is one bounded context's answer to events of other contexts: it
// consumes the named event families and turns events into commands. Every
// reaction is idempotent, because the bus delivers at least once.
type Reaction struct {
	Name     string
	Families []string // stream kinds consumed: "order", "stock", ...
	React    func(ctx context.Context, e events.Event, p events.Payload) error
}

// Reactions lists the asynchronous parts of the order flow.
func (h *Handlers) Reactions() []Reaction {
	return []Reaction{
		{Name: "inventory", Families: []string{"order"}, React: h.reactInventory},
		{Name: "fraud", Families: []string{"order"}, React: h.reactFraud},
		{Name: "customercheck", Families: []string{"order"}, React: h.reactCustomerCheck},
		{Name: "order-process", Families: []string{"order", "stock", "fraud", "customercheck", "payment"}, React: h.reactOrderProcess},
	}
}

// reactInventory reserves for placed orders, releases for failed or
// cancelled ones and commits for shipped ones.
func (h *Handlers) reactInventory(ctx context.Context, e events.Event, p events.Payload) error {
	switch p := p.(type) {
	case order.OrderPlaced:
		return h.ReserveStock(ctx, e, p)
	case order.OrderFailed:
		return h.ReleaseStock(ctx, e, p.OrderID, p.Lines)
	case order.OrderCancelled:
		return h.ReleaseStock(ctx, e, p.OrderID, p.Lines)
	case order.OrderShipped:
		return h.CommitStock(ctx, e, p.OrderID, p.Lines)
	}
	return nil
}

func (h *Handlers) reactFraud(ctx context.Context, e events.Event, p events.Payload) error {
	if p, ok := p.(order.OrderPlaced); ok {
		return h.CheckFraud(ctx, e, p)
	}
	return nil
}

func (h *Handlers) reactCustomerCheck(ctx context.Context, e events.Event, p events.Payload) error {
	if p, ok := p.(order.OrderPlaced); ok {
		return h.CheckCustomer(ctx, e, p)
	}
	return nil
}

// reactOrderProcess is the process manager of an order: it aggregates the
// validation results and applies payments.
func (h *Handlers) reactOrderProcess(ctx context.Context, e events.Event, p events.Payload) error {
	if orderID, _, ok := validationResult(p); ok {
		return h.EvaluateOrder(ctx, e, orderID)
	}
	switch p := p.(type) {
	case payment.PaymentReceived:
		return h.ApplyPayment(ctx, e, p.OrderID)
	case order.OrderValidated:
		return h.ApplyPayment(ctx, e, p.OrderID)
	}
	return nil
}
