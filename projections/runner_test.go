package projections_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"orderflow/commands"
	"orderflow/domain/catalog"
	"orderflow/domain/inventory"
	"orderflow/events"
	"orderflow/migrations"
	"orderflow/projections"
)

// TestProjectionsAtDifferentPositionsEachApplyEveryEventOnce: a read model
// added to a database the others already follow (an upgrade that brings a
// new projection) starts from the beginning, more than a batch behind the
// others, as one that was just rebuilt is ahead of the others. Each must
// apply every event exactly once: the ones ahead are neither moved back nor
// given again what they had (the stock read model adds, so a repeat would
// show in its figures).
func TestProjectionsAtDifferentPositionsEachApplyEveryEventOnce(t *testing.T) {
	ctx := context.Background()
	db, err := events.Open(ctx, filepath.Join(t.TempDir(), "p.db"), events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, reg := events.NewStore(db), commands.Registry()
	reg.UseKeys(events.NewKeyring(db))
	const units = 3000 // several batches of the runner
	appendAll := func(stream string, ps ...events.Payload) {
		t.Helper()
		evs, err := reg.Encode(events.Metadata{}, ps...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(ctx, events.StreamAppend{StreamID: stream, ExpectedVersion: events.AnyVersion, Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	appendAll("product-gold", catalog.ProductDefined{ProductID: "gold", Name: "Gold", PriceCents: 100})
	adds := make([]events.Payload, units)
	for i := range adds {
		adds[i] = inventory.StockAdded{ProductID: "gold", Quantity: 1}
	}
	appendAll("stock-gold", adds...)

	run := func(defs ...projections.Definition) {
		t.Helper()
		runner := projections.NewRunner(store, reg, slog.New(slog.DiscardHandler), defs...)
		runCtx, stop := context.WithCancel(ctx)
		wg, err := runner.Start(runCtx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { stop(); wg.Wait() }()
		if err := runner.WaitFor(ctx, db.Head()); err != nil {
			t.Fatal(err)
		}
		for _, d := range defs {
			if got, err := db.Checkpoint(ctx, d.Name); err != nil || got != db.Head() {
				t.Errorf("checkpoint of %s at %d (%v), want the head %d", d.Name, got, err, db.Head())
			}
		}
	}
	var stockOnly []projections.Definition
	for _, d := range projections.All() {
		if d.Name == "stock" || d.Name == "products" {
			stockOnly = append(stockOnly, d)
		}
	}
	run(stockOnly...)
	// Later, the whole read side: the others start from the beginning.
	run(projections.All()...)

	s, err := projections.NewViews(db.Reader()).Stock(ctx, "gold")
	if err != nil {
		t.Fatal(err)
	}
	if s.OnHand != units {
		t.Fatalf("stock of gold on hand = %d after %d units added once each", s.OnHand, units)
	}
}
