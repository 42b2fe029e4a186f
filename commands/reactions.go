package commands

import (
	"context"
	"fmt"

	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/domain/stock"
	"orderflow/events"
)

// React handles one event.
type React func(ctx context.Context, e events.Event, p events.Payload) error

// Reaction is one bounded context's answer to events of other contexts: it
// consumes the named event families and turns the event types it lists into
// commands. Every reaction is idempotent, because the bus delivers at least
// once.
type Reaction struct {
	Name     string
	Families []string         // stream kinds consumed: "order", "stock", ...
	On       map[string]React // by event type; other types are acknowledged untouched
}

// Handles reports whether the reaction does anything with an event type,
// so the bus can skip decoding the others.
func (r Reaction) Handles(eventType string) bool {
	_, ok := r.On[eventType]
	return ok
}

// React runs the reaction to one event; types it does not list do nothing.
func (r Reaction) React(ctx context.Context, e events.Event, p events.Payload) error {
	if fn, ok := r.On[e.Type]; ok {
		return fn(ctx, e, p)
	}
	return nil
}

// typed is one entry of a reaction's table.
type typed struct {
	eventType string
	react     React
}

// on adapts a handler of one payload type to the reaction table.
func on[P events.Payload](fn func(context.Context, events.Event, P) error) typed {
	var zero P
	return typed{zero.EventType(), func(ctx context.Context, e events.Event, p events.Payload) error {
		typedP, ok := p.(P)
		if !ok {
			return fmt.Errorf("event %d: %s payload is %T", e.Position, e.Type, p)
		}
		return fn(ctx, e, typedP)
	}}
}

func table(entries ...typed) map[string]React {
	m := make(map[string]React, len(entries))
	for _, t := range entries {
		m[t.eventType] = t.react
	}
	return m
}

// Reactions lists the asynchronous parts of the order flow.
func (h *Handlers) Reactions() []Reaction {
	return []Reaction{
		// Inventory reserves for placed orders, releases for failed or
		// cancelled ones and commits for shipped ones.
		{Name: "inventory", Families: []string{"order"}, On: table(
			on(h.ReserveStock),
			on(func(ctx context.Context, e events.Event, p order.OrderFailed) error {
				return h.ReleaseStock(ctx, e, p.OrderID, p.Lines)
			}),
			on(func(ctx context.Context, e events.Event, p order.OrderCancelled) error {
				return h.ReleaseStock(ctx, e, p.OrderID, p.Lines)
			}),
			on(func(ctx context.Context, e events.Event, p order.OrderShipped) error {
				return h.CommitStock(ctx, e, p.OrderID, p.Lines)
			}),
		)},
		{Name: "fraud", Families: []string{"order"}, On: table(on(h.CheckFraud))},
		{Name: "customercheck", Families: []string{"order"}, On: table(on(h.CheckCustomer))},
		// Notifications confirm an order once it is validated and paid.
		{Name: "notifications", Families: []string{"order", "payment"}, On: table(
			on(func(ctx context.Context, e events.Event, p order.OrderValidated) error {
				return h.ConfirmOrder(ctx, e, p.OrderID)
			}),
			on(func(ctx context.Context, e events.Event, p payment.PaymentReceived) error {
				return h.ConfirmOrder(ctx, e, p.OrderID)
			}),
		)},
		// The process manager of an order aggregates the validation results
		// and applies payments.
		{Name: "order-process", Families: []string{"order", "stock", "fraud", "customercheck", "payment"}, On: table(
			on(evaluate[stock.StockReserved](h)),
			on(evaluate[stock.StockReservationRejected](h)),
			on(evaluate[fraud.FraudCheckPassed](h)),
			on(evaluate[fraud.FraudCheckFailed](h)),
			on(evaluate[customercheck.CustomerCheckPassed](h)),
			on(evaluate[customercheck.CustomerCheckFailed](h)),
			on(func(ctx context.Context, e events.Event, p payment.PaymentReceived) error {
				return h.ApplyPayment(ctx, e, p.OrderID)
			}),
			on(func(ctx context.Context, e events.Event, p order.OrderValidated) error {
				return h.ApplyPayment(ctx, e, p.OrderID)
			}),
		)},
	}
}

// evaluate reacts to a validation result by letting the order decide.
func evaluate[P events.Payload](h *Handlers) func(context.Context, events.Event, P) error {
	return func(ctx context.Context, e events.Event, p P) error {
		orderID, _, ok := validationResult(p)
		if !ok {
			return fmt.Errorf("%s is not a validation result", e.Type)
		}
		return h.EvaluateOrder(ctx, e, orderID)
	}
}
