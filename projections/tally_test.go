package projections_test

import (
	"context"
	"testing"
	"time"

	"orderflow/domain/order"
	"orderflow/projections"
)

// TestOrdersEnteredCountsWhatTheOrdersReadModelApplied: each order event
// counts once, for the status it leaves its order in, when the live orders
// read model applies it; other events count nothing, a rebuild counts
// nothing again, and a runner without the orders read model counts
// nothing at all.
func TestOrdersEnteredCountsWhatTheOrdersReadModelApplied(t *testing.T) {
	placed := func(id string) order.OrderPlaced {
		return order.OrderPlaced{OrderID: id, CustomerID: "c1", TotalCents: 100,
			Lines: []order.Line{{ProductID: "p1", Quantity: 1, UnitPriceCents: 100}}, PlacedAt: time.Now()}
	}
	write := func(t *testing.T, f *fixture) {
		for _, id := range []string{"o1", "o2", "o3"} {
			f.write(t, "order-"+id, placed(id))
		}
		f.write(t, "order-o1", order.OrderValidated{OrderID: "o1"})
		f.write(t, "order-o2", order.OrderValidated{OrderID: "o2"})
		f.write(t, "order-o3", order.OrderFailed{OrderID: "o3", Reason: "INSUFFICIENT_STOCK"})
		f.write(t, "order-o1", order.OrderPaid{OrderID: "o1", AmountCents: 100})
	}
	want := map[order.Status]uint64{order.Pending: 3, order.Validated: 2, order.Failed: 1, order.Paid: 1}
	check := func(t *testing.T, got []projections.OrderCount, want map[order.Status]uint64) {
		t.Helper()
		if len(got) != 6 || got[0].Status != order.Pending {
			t.Fatalf("OrdersEntered() = %v, want the six statuses, PENDING first", got)
		}
		for _, c := range got {
			if c.Count != want[c.Status] {
				t.Errorf("%s: %d orders entered it, want %d (all: %v)", c.Status, c.Count, want[c.Status], got)
			}
		}
	}

	t.Run("every read model", func(t *testing.T) {
		f := newFixture(t, projections.All()...)
		write(t, f)
		check(t, f.runner.OrdersEntered(), want)
		if err := f.runner.Rebuild(context.Background(), []string{"orders"}, nil); err != nil {
			t.Fatal(err)
		}
		check(t, f.runner.OrdersEntered(), want)
	})
	t.Run("without the orders read model", func(t *testing.T) {
		f := newFixture(t, projections.PricesDefinitions()...)
		write(t, f)
		check(t, f.runner.OrdersEntered(), nil)
	})
}
