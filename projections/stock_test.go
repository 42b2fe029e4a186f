package projections_test

import (
	"context"
	"log/slog"
	"math"
	"path/filepath"
	"testing"

	"orderflow/commands"
	"orderflow/domain/catalog"
	"orderflow/domain/stock"
	"orderflow/events"
	"orderflow/migrations"
	"orderflow/projections"
)

// TestStockStoresIntegers folds the StockAdded events that were accepted
// before stock was bounded (MaxInt64, twice): the read model must keep an
// integer (SQLite would store the overflowing sum as a REAL, which no stock
// query could read again) and saturate as the domain's fold does, and the
// product's stock must stay queryable, orders reserving from it included.
func TestStockStoresIntegers(t *testing.T) {
	ctx := context.Background()
	db, err := events.Open(ctx, filepath.Join(t.TempDir(), "s.db"), events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, reg := events.NewStore(db), commands.Registry()
	runner := projections.NewRunner(store, reg, slog.New(slog.DiscardHandler), projections.All()...)
	runCtx, stop := context.WithCancel(ctx)
	wg, err := runner.Start(runCtx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { stop(); wg.Wait() }()
	views := projections.NewViews(db.Reader())

	write := func(stream string, p events.Payload) {
		t.Helper()
		evs, err := reg.Encode(events.Metadata{}, p)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := store.Append(ctx, events.StreamAppend{StreamID: stream, ExpectedVersion: events.AnyVersion, Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		if err := runner.WaitFor(ctx, stored[0].Position); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(onHand, reserved int64) {
		t.Helper()
		s, err := views.Stock(ctx, "gold")
		if err != nil {
			t.Fatalf("stock query: %v", err)
		}
		if s.OnHand != onHand || s.Reserved != reserved {
			t.Fatalf("stock = %d on hand, %d reserved; want %d, %d", s.OnHand, s.Reserved, onHand, reserved)
		}
		var kind string
		if err := db.Reader().QueryRowContext(ctx, `SELECT typeof(on_hand) FROM stock WHERE product_id = 'gold'`).Scan(&kind); err != nil {
			t.Fatal(err)
		}
		if kind != "integer" {
			t.Fatalf("on_hand is stored as %s", kind)
		}
	}

	write("product-gold", catalog.ProductDefined{ProductID: "gold", Name: "Gold", PriceCents: 100})
	write("stock-gold", stock.StockAdded{ProductID: "gold", Quantity: math.MaxInt64})
	expect(math.MaxInt64, 0)
	write("stock-gold", stock.StockAdded{ProductID: "gold", Quantity: math.MaxInt64})
	expect(math.MaxInt64, 0)
	write("stock-gold", stock.StockReserved{ProductID: "gold", OrderID: "o1", Quantity: 5})
	expect(math.MaxInt64, 5)
	write("stock-gold", stock.StockCommitted{ProductID: "gold", OrderID: "o1", Quantity: 5})
	expect(math.MaxInt64-5, 0)
}
