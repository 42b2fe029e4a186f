package projections_test

import (
	"context"
	"math"
	"testing"

	"orderflow/domain/catalog"
	"orderflow/domain/inventory"
	"orderflow/projections"
)

// TestStockStoresIntegers folds the StockAdded events that were accepted
// before stock was bounded (MaxInt64, twice): the read model must keep an
// integer (SQLite would store the overflowing sum as a REAL, which no stock
// query could read again) and saturate as the domain's fold does, and the
// product's stock must stay queryable, orders reserving from it included.
func TestStockStoresIntegers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, projections.All()...)
	views := projections.NewViews(f.db.Reader())
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
		if err := f.db.Reader().QueryRowContext(ctx, `SELECT typeof(on_hand) FROM stock WHERE product_id = 'gold'`).Scan(&kind); err != nil {
			t.Fatal(err)
		}
		if kind != "integer" {
			t.Fatalf("on_hand is stored as %s", kind)
		}
	}

	f.write(t, "product-gold", catalog.ProductDefined{ProductID: "gold", Name: "Gold", PriceCents: 100})
	f.write(t, "stock-gold", inventory.StockAdded{ProductID: "gold", Quantity: math.MaxInt64})
	expect(math.MaxInt64, 0)
	f.write(t, "stock-gold", inventory.StockAdded{ProductID: "gold", Quantity: math.MaxInt64})
	expect(math.MaxInt64, 0)
	f.write(t, "stock-gold", inventory.StockReserved{ProductID: "gold", OrderID: "o1", Quantity: 5})
	expect(math.MaxInt64, 5)
	f.write(t, "stock-gold", inventory.StockCommitted{ProductID: "gold", OrderID: "o1", Quantity: 5})
	expect(math.MaxInt64-5, 0)
}
