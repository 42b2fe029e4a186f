package commands

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"orderflow/events"
)

// Traced is api with a span around each command it carries out (in one
// process) or sends to its context and waits for (split into services):
// the events the command writes, here or in the process that owns its key,
// continue the span's trace. app wraps the API in it only when tracing is
// on.
func Traced(api API) API { return traced{api} }

type traced struct{ api API }

// span runs one command in a span named after it.
func span(ctx context.Context, name CommandName, key string, do func(ctx context.Context) (Result, error)) (Result, error) {
	ctx, s := events.StartSpan(ctx, "command "+string(name), trace.SpanKindInternal, nil,
		attribute.String("orderflow.command", string(name)), attribute.String("orderflow.key", key))
	res, err := do(ctx)
	events.EndSpan(s, err)
	return res, err
}

func (t traced) RegisterCustomer(ctx context.Context, cmd RegisterCustomer, md events.Metadata) (Result, error) {
	return span(ctx, CmdRegisterCustomer, cmd.ID, func(ctx context.Context) (Result, error) { return t.api.RegisterCustomer(ctx, cmd, md) })
}

func (t traced) UpdateCustomerAddress(ctx context.Context, customerID, address string, md events.Metadata) (Result, error) {
	return span(ctx, CmdUpdateCustomerAddress, customerID, func(ctx context.Context) (Result, error) {
		return t.api.UpdateCustomerAddress(ctx, customerID, address, md)
	})
}

func (t traced) ForgetCustomer(ctx context.Context, customerID string, md events.Metadata) (Result, error) {
	return span(ctx, CmdForgetCustomer, customerID, func(ctx context.Context) (Result, error) { return t.api.ForgetCustomer(ctx, customerID, md) })
}

func (t traced) UpsertProduct(ctx context.Context, cmd UpsertProduct, md events.Metadata) (Result, error) {
	return span(ctx, CmdUpsertProduct, cmd.ID, func(ctx context.Context) (Result, error) { return t.api.UpsertProduct(ctx, cmd, md) })
}

func (t traced) AddStock(ctx context.Context, productID string, quantity int, md events.Metadata) (Result, error) {
	return span(ctx, CmdAddStock, productID, func(ctx context.Context) (Result, error) { return t.api.AddStock(ctx, productID, quantity, md) })
}

func (t traced) PlaceOrder(ctx context.Context, cmd PlaceOrder, md events.Metadata) (Result, error) {
	return span(ctx, CmdPlaceOrder, cmd.ID, func(ctx context.Context) (Result, error) { return t.api.PlaceOrder(ctx, cmd, md) })
}

func (t traced) PayOrder(ctx context.Context, orderID string, amountCents int64, md events.Metadata) (Result, error) {
	return span(ctx, CmdPayOrder, orderID, func(ctx context.Context) (Result, error) { return t.api.PayOrder(ctx, orderID, amountCents, md) })
}

func (t traced) ShipOrder(ctx context.Context, orderID string, md events.Metadata) (Result, error) {
	return span(ctx, CmdShipOrder, orderID, func(ctx context.Context) (Result, error) { return t.api.ShipOrder(ctx, orderID, md) })
}

func (t traced) CancelOrder(ctx context.Context, orderID, reason string, md events.Metadata) (Result, error) {
	return span(ctx, CmdCancelOrder, orderID, func(ctx context.Context) (Result, error) { return t.api.CancelOrder(ctx, orderID, reason, md) })
}
