package commands_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"orderflow/commands"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/events"
	"orderflow/projections"
)

// TestOldSchemaVersionsReadThroughAggregatesAndProjections writes a version 1
// StockReservationRejected row straight into the store, as an older binary
// did, and reads it through both consumers: the stock aggregate (which must
// see the order as answered, so a redelivered OrderPlaced reserves nothing)
// and the orders projection (which must list the failure reason).
func TestOldSchemaVersionsReadThroughAggregatesAndProjections(t *testing.T) {
	ctx := context.Background()
	db, store, reg := commands.OpenTestStore(t)

	raw := func(stream string, typ string, version int, data string) events.StreamAppend {
		return events.StreamAppend{StreamID: stream, ExpectedVersion: events.AnyVersion, Events: []events.Event{
			{Type: typ, SchemaVersion: version, Data: json.RawMessage(data), CorrelationID: "corr-1"},
		}}
	}
	caused := func(a events.StreamAppend, by string) events.StreamAppend {
		a.Events[0].CausationID = by
		return a
	}
	placed := `{"orderId":"o-1","customerId":"c-1","lines":[{"productId":"p1","quantity":5,"unitPriceCents":100}],"totalCents":500,"placedAt":"2026-01-01T00:00:00Z"}`
	for _, a := range []events.StreamAppend{
		raw("product-p1", "ProductDefined", 1, `{"productId":"p1","name":"Kettle","priceCents":100}`),
		raw("stock-p1", "StockAdded", 1, `{"productId":"p1","quantity":2}`),
		withID(raw("order-o-1", "OrderPlaced", 1, placed), "placed-o-1"),
		caused(raw("stock-p1", "StockReservationRejected", 1, `{"productId":"p1","orderId":"o-1","requested":5,"available":2,"reason":"INSUFFICIENT_STOCK"}`), "placed-o-1"),
	} {
		if _, err := store.Append(ctx, a); err != nil {
			t.Fatal(err)
		}
	}

	// Decoding upcasts.
	evs, err := store.ReadStream(ctx, "stock-p1", 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := reg.Decode(evs[0])
	if err != nil {
		t.Fatal(err)
	}
	if r := p.(inventory.StockReservationRejected); r.Shortfall != 3 || r.Requested != 5 || r.Available != 2 {
		t.Fatalf("upcast v1 = %+v, want shortfall 3", r)
	}

	// The aggregate: a redelivered OrderPlaced must not reserve or reject again.
	views := projections.NewViews(db.Reader())
	h := commands.New(store, reg, views, commands.Config{Fraud: fraud.Rule{LimitCents: 1 << 40, Window: time.Hour}})
	if _, err := store.Append(ctx, raw("stock-p1", "StockAdded", 1, `{"productId":"p1","quantity":10}`)); err != nil {
		t.Fatal(err)
	}
	head := db.Head()
	stats := runToHead(t, store, reg, consumer(t, h, "inventory"))
	if db.Head() != head {
		t.Fatalf("inventory did not see the v1 rejection: it wrote again (head %d → %d)", head, db.Head())
	}
	if stats.Redeliveries != 1 {
		t.Fatalf("redeliveries = %d, want 1 (the placement answered by the v1 rejection)", stats.Redeliveries)
	}

	// The projection.
	runner := projections.NewRunner(store, reg, slog.New(slog.DiscardHandler), projections.All()...)
	runCtx, stop := context.WithCancel(ctx)
	wg, err := runner.Start(runCtx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { stop(); wg.Wait() }()
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := runner.WaitFor(waitCtx, db.Head()); err != nil {
		t.Fatal(err)
	}
	o, err := views.Order(ctx, "o-1")
	if err != nil || o == nil {
		t.Fatalf("order o-1: %+v, %v", o, err)
	}
	if len(o.FailureReasons) != 1 || o.FailureReasons[0] != inventory.ReasonInsufficientStock {
		t.Fatalf("failure reasons = %v, want [INSUFFICIENT_STOCK] from the v1 event", o.FailureReasons)
	}
}
