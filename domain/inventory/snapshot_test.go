package inventory_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"orderflow/domain/inventory"
)

// A snapshot of a stock decodes to a stock that answers, and folds further,
// exactly as the one it was taken of.
func TestStockSnapshotRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		events []inventory.Event
	}{
		{"empty", nil},
		{"on hand only", []inventory.Event{inventory.StockAdded{ProductID: "p", Quantity: 5}}},
		{"open reservations", []inventory.Event{
			inventory.StockAdded{ProductID: "p", Quantity: 5},
			inventory.StockReserved{ProductID: "p", OrderID: "o1", Quantity: 2},
			inventory.StockReserved{ProductID: "p", OrderID: "o2", Quantity: 1},
		}},
		{"released and committed", []inventory.Event{
			inventory.StockAdded{ProductID: "p", Quantity: 5},
			inventory.StockReserved{ProductID: "p", OrderID: "o1", Quantity: 2},
			inventory.StockReserved{ProductID: "p", OrderID: "o2", Quantity: 1},
			inventory.StockReleased{ProductID: "p", OrderID: "o1", Quantity: 2},
			inventory.StockCommitted{ProductID: "p", OrderID: "o2", Quantity: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := build(t, tt.events...)
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			var got inventory.Stock
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.ProductID != s.ProductID || got.OnHand != s.OnHand || got.Reserved != s.Reserved {
				t.Fatalf("decoded %+v, want %+v", got, s)
			}
			for _, o := range []string{"o1", "o2", "o3"} {
				if got.OpenReservation(o) != s.OpenReservation(o) {
					t.Errorf("open reservation of %s: %d, want %d", o, got.OpenReservation(o), s.OpenReservation(o))
				}
			}
			// Both answer the next orders alike.
			next := []inventory.Event{inventory.StockReleased{ProductID: "p", OrderID: "o2", Quantity: 1}}
			want, have := s.Clone(), got
			for _, e := range next {
				want, have = want.Evolve(e), have.Evolve(e)
			}
			if !reflect.DeepEqual(inventory.ReserveLine(want, "p", "o9", 3), inventory.ReserveLine(have, "p", "o9", 3)) {
				t.Errorf("a decoded stock decides otherwise than the original")
			}
		})
	}
}
