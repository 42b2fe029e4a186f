package cdc_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"orderflow/commands"
	"orderflow/domain/order"
	"orderflow/events"
	"orderflow/migrations"
	"orderflow/projections"
)

// checkCatalog builds the read models from what TestSnapshotThenStream
// left in the store and checks the catalog as orders see it: a withdrawn
// product is gone from the catalog and refused by placeOrder as unknown.
func checkCatalog(t *testing.T, dbPath string) {
	t.Helper()
	ctx := context.Background()
	db, err := events.Open(ctx, dbPath, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := events.NewStore(db)
	reg := commands.Registry()
	reg.UseKeys(events.NewKeyring(db))
	runner := projections.NewRunner(store, reg, slog.New(slog.DiscardHandler), projections.All()...)
	if err := runner.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := runner.Rebuild(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	views := projections.NewViews(db.Reader())
	if p, err := views.Product(ctx, "p3"); err != nil || p != nil {
		t.Fatalf("withdrawn product p3 = %+v, %v; want none", p, err)
	}
	if p, err := views.Product(ctx, "p1"); err != nil || p == nil || p.PriceCents != 1200 {
		t.Fatalf("product p1 = %+v, %v; want priced 1200", p, err)
	}
	h := commands.New(store, reg, views, commands.Config{})
	_, err = h.PlaceOrder(ctx, commands.PlaceOrder{CustomerID: "c1",
		Lines: []order.RequestedLine{{ProductID: "p3", Quantity: 1}}}, events.Metadata{})
	if err == nil || !strings.Contains(err.Error(), "unknown product") {
		t.Fatalf("placeOrder of a withdrawn product: %v, want refused as unknown", err)
	}
	if _, err := h.PlaceOrder(ctx, commands.PlaceOrder{CustomerID: "c1",
		Lines: []order.RequestedLine{{ProductID: "p1", Quantity: 1}}}, events.Metadata{}); err != nil {
		t.Fatalf("placeOrder of p1: %v", err)
	}
}
