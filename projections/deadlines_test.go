package projections_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"orderflow/domain/order"
	"orderflow/projections"
)

// TestDueDeadlines follows orders through the deadlines read model: which
// are due at a time, by which deadline, and that an order leaves it once
// it is paid, failed, shipped or cancelled.
func TestDueDeadlines(t *testing.T) {
	f := newFixture(t, projections.All()...)
	views := projections.NewViews(f.db.Reader())
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	lines := []order.Line{{ProductID: "p1", Quantity: 1, UnitPriceCents: 100}}
	place := func(id string, at time.Time) {
		f.write(t, order.StreamID(id), order.OrderPlaced{OrderID: id, CustomerID: "c", Lines: lines, TotalCents: 100, PlacedAt: at})
	}
	place("pending", t0)
	place("later", t0.Add(30*time.Second))
	place("validated", t0)
	f.write(t, order.StreamID("validated"), order.OrderValidated{OrderID: "validated", ValidatedAt: t0.Add(10 * time.Second)})
	place("v1", t0) // validated by a version 1 event: from placement
	f.write(t, order.StreamID("v1"), order.OrderValidated{OrderID: "v1"})
	place("paid", t0)
	f.write(t, order.StreamID("paid"), order.OrderValidated{OrderID: "paid", ValidatedAt: t0})
	f.write(t, order.StreamID("paid"), order.OrderPaid{OrderID: "paid", PaymentID: "x", AmountCents: 100})
	place("failed", t0)
	f.write(t, order.StreamID("failed"), order.OrderFailed{OrderID: "failed", Reason: "INSUFFICIENT_STOCK", Lines: lines})
	place("cancelled", t0)
	f.write(t, order.StreamID("cancelled"), order.OrderCancelled{OrderID: "cancelled", Lines: lines})

	d := order.Deadlines{Validation: time.Minute, Payment: time.Hour}
	tests := []struct {
		name string
		d    order.Deadlines
		at   time.Time
		want []string
	}{
		{"before any deadline", d, t0.Add(59 * time.Second), nil},
		{"the first validation deadline", d, t0.Add(time.Minute), []string{"pending"}},
		{"both validation deadlines", d, t0.Add(90 * time.Second), []string{"pending", "later"}},
		{"payment deadlines too, oldest first", d, t0.Add(time.Hour + 10*time.Second), []string{"pending", "v1", "validated", "later"}},
		{"validation deadline off", order.Deadlines{Payment: time.Hour}, t0.Add(2 * time.Hour), []string{"v1", "validated"}},
		{"payment deadline off", order.Deadlines{Validation: time.Minute}, t0.Add(2 * time.Hour), []string{"pending", "later"}},
		{"both off", order.Deadlines{}, t0.Add(72 * time.Hour), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := views.DueDeadlines(ctx, tt.d, tt.at, 100)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("due = %v, want %v", got, tt.want)
			}
		})
	}
	if got, _ := views.DueDeadlines(ctx, d, t0.Add(2*time.Hour), 1); !slices.Equal(got, []string{"pending"}) {
		t.Errorf("due with limit 1 = %v, want [pending]", got)
	}
	n, err := views.PendingDeadlines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n["PENDING"] != 2 || n["VALIDATED"] != 2 {
		t.Errorf("pending deadlines = %v, want 2 PENDING and 2 VALIDATED", n)
	}
	o, err := views.Order(ctx, "cancelled")
	if err != nil || o == nil {
		t.Fatalf("order cancelled: %v, %v", o, err)
	}
	if o.CancellationReason != "" || o.Status != "CANCELLED" {
		t.Errorf("cancelled without a reason: %q %s", o.CancellationReason, o.Status)
	}
}
