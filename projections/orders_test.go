package projections_test

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"orderflow/domain/customercheck"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
	"orderflow/projections"
)

// TestOrderHistoryAgreesWithTheReadModel writes two orders' stories, one
// failing (a failure reported before the outcome, the outcome with the
// same reason, another failure after it) and one shipped, and checks
// after every event of an order's own stream that the order as
// History.OrderAt rebuilds it is the row the orders read model holds. It
// also checks which orders the runner says changed: exactly those of the
// order's own events and of the failed results, in log order, never those
// of passed results or payments (the subscriptions read an order only for
// those).
func TestOrderHistoryAgreesWithTheReadModel(t *testing.T) {
	f := newFixture(t, projections.All()...)
	var mu sync.Mutex
	var changed []string
	f.runner.OnOrdersChanged(func(ids []string) {
		mu.Lock()
		defer mu.Unlock()
		changed = append(changed, ids...)
	})

	lines := []order.Line{{ProductID: "p1", Quantity: 2, UnitPriceCents: 100}, {ProductID: "p2", Quantity: 1, UnitPriceCents: 50}}
	placedAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	type step struct {
		stream string
		event  events.Payload
		// changes is the order the runner must report as changed, "" none.
		changes string
	}
	story := func(id string) []step {
		return []step{{order.StreamID(id), order.OrderPlaced{OrderID: id, CustomerID: "c1", Lines: lines, TotalCents: 250, PlacedAt: placedAt}, id}}
	}
	failing := append(story("o1"),
		step{inventory.StreamID("p1"), inventory.StockReserved{ProductID: "p1", OrderID: "o1", Quantity: 2}, ""},
		step{customercheck.StreamID("o1"), customercheck.CustomerCheckFailed{OrderID: "o1", CustomerID: "c1", Reason: customercheck.ReasonUnknownCustomer}, "o1"},
		step{order.StreamID("o1"), order.OrderFailed{OrderID: "o1", Reason: customercheck.ReasonUnknownCustomer, Lines: lines}, "o1"},
		step{inventory.StreamID("p2"), inventory.StockReservationRejected{ProductID: "p2", OrderID: "o1", Requested: 1, Reason: inventory.ReasonInsufficientStock}, "o1"},
		step{order.StreamID("o1"), order.OrderCancelled{OrderID: "o1", Reason: "too late", Lines: lines}, "o1"},
	)
	shipped := append(story("o2"),
		step{inventory.StreamID("p1"), inventory.StockReserved{ProductID: "p1", OrderID: "o2", Quantity: 2}, ""},
		step{inventory.StreamID("p2"), inventory.StockReserved{ProductID: "p2", OrderID: "o2", Quantity: 1}, ""},
		step{customercheck.StreamID("o2"), customercheck.CustomerCheckPassed{OrderID: "o2", CustomerID: "c1"}, ""},
		step{order.StreamID("o2"), order.OrderValidated{OrderID: "o2"}, "o2"},
		step{payment.StreamID("o2"), payment.PaymentReceived{PaymentID: "pay2", OrderID: "o2", AmountCents: 250}, ""},
		step{order.StreamID("o2"), order.OrderPaid{OrderID: "o2", PaymentID: "pay2", AmountCents: 250}, "o2"},
		step{order.StreamID("o2"), order.OrderShipped{OrderID: "o2", Lines: lines}, "o2"},
		step{inventory.StreamID("p1"), inventory.StockCommitted{ProductID: "p1", OrderID: "o2", Quantity: 2}, ""},
	)
	// Stock to reserve from: the stock read model refuses more reserved
	// than on hand.
	stock := []step{
		{inventory.StreamID("p1"), inventory.StockAdded{ProductID: "p1", Quantity: 10}, ""},
		{inventory.StreamID("p2"), inventory.StockAdded{ProductID: "p2", Quantity: 10}, ""},
	}
	ctx := context.Background()
	views, history := projections.NewViews(f.db.Reader()), projections.NewHistory(f.store, f.reg)
	var want []string
	for _, s := range slices.Concat(stock, failing, shipped) {
		orderID, _ := order.IDOf(s.event)
		evs, err := f.reg.Encode(events.Metadata{CorrelationID: "placed-" + orderID}, s.event)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := f.store.Append(ctx, events.StreamAppend{StreamID: s.stream, ExpectedVersion: events.AnyVersion, Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.runner.WaitFor(ctx, stored[0].Position); err != nil {
			t.Fatal(err)
		}
		if s.changes != "" {
			want = append(want, s.changes)
		}
		if s.stream != order.StreamID(orderID) {
			continue
		}
		row, err := views.Order(ctx, orderID)
		if err != nil {
			t.Fatal(err)
		}
		past, err := history.OrderAt(ctx, orderID, stored[0].StreamVersion)
		if err != nil {
			t.Fatal(err)
		}
		if row == nil || past == nil {
			t.Fatalf("after %s: read model %+v, history %+v", s.event.EventType(), row, past)
		}
		for _, o := range []*projections.Order{row, past} {
			o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
		}
		if !reflect.DeepEqual(row, past) {
			t.Errorf("after %s of %s:\nread model %+v\nhistory    %+v", s.event.EventType(), orderID, *row, *past)
		}
	}
	if row, _ := views.Order(ctx, "o1"); row == nil || !slices.Equal(row.FailureReasons,
		[]string{customercheck.ReasonUnknownCustomer, inventory.ReasonInsufficientStock}) {
		t.Errorf("o1 in the read model: %+v, want every reason once, in the order reported", row)
	}

	// The runner tells of a batch's changes after it advanced: a last
	// change marks the end of what this test wrote.
	evs, err := f.reg.Encode(events.Metadata{}, order.OrderPlaced{OrderID: "end", CustomerID: "c1", Lines: lines, TotalCents: 250})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Append(ctx, events.StreamAppend{StreamID: order.StreamID("end"), ExpectedVersion: events.AnyVersion, Events: evs}); err != nil {
		t.Fatal(err)
	}
	want = append(want, "end")
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := slices.Clone(changed)
		mu.Unlock()
		if slices.Contains(got, "end") || time.Now().After(deadline) {
			if !slices.Equal(got, want) {
				t.Errorf("orders changed:\n got %v\nwant %v", got, want)
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOrderReadsItsPaymentAndCancellation: an order is read with what the
// payments and cancellations read models hold for it, and with zeros and
// no reason where they hold nothing, by id and in a listing alike.
func TestOrderReadsItsPaymentAndCancellation(t *testing.T) {
	f := newFixture(t, projections.All()...)
	views := projections.NewViews(f.db.Reader())
	ctx := context.Background()
	lines := []order.Line{{ProductID: "p1", Quantity: 1, UnitPriceCents: 700}}
	for _, id := range []string{"plain", "paid", "refunded", "cancelled"} {
		f.write(t, order.StreamID(id), order.OrderPlaced{OrderID: id, CustomerID: "c", Lines: lines, TotalCents: 700})
	}
	f.write(t, payment.StreamID("paid"), payment.PaymentReceived{PaymentID: "x1", OrderID: "paid", AmountCents: 700})
	f.write(t, payment.StreamID("refunded"), payment.PaymentReceived{PaymentID: "x2", OrderID: "refunded", AmountCents: 700})
	f.write(t, payment.StreamID("refunded"), payment.PaymentRefunded{PaymentID: "x2", OrderID: "refunded", AmountCents: 700, Reason: "ORDER_CANCELLED"})
	f.write(t, order.StreamID("cancelled"), order.OrderCancelled{OrderID: "cancelled", Reason: "PAYMENT_TIMEOUT", Lines: lines})

	tests := []struct {
		id             string
		paid, refunded int64
		reason, status string
	}{
		{"plain", 0, 0, "", "PENDING"},
		{"paid", 700, 0, "", "PENDING"},
		{"refunded", 700, 700, "", "PENDING"},
		{"cancelled", 0, 0, "PAYMENT_TIMEOUT", "CANCELLED"},
	}
	listed, _, err := views.Orders(ctx, projections.OrderFilter{}, 10, 0)
	if err != nil || len(listed) != len(tests) {
		t.Fatalf("listing: %d orders, %v", len(listed), err)
	}
	for i, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			o, err := views.Order(ctx, tt.id)
			if err != nil || o == nil {
				t.Fatalf("order %s: %v, %v", tt.id, o, err)
			}
			for _, o := range []projections.Order{*o, listed[i]} {
				if o.ID != tt.id || o.PaidCents != tt.paid || o.RefundedCents != tt.refunded || o.CancellationReason != tt.reason || o.Status != tt.status {
					t.Errorf("order %s: paid %d refunded %d reason %q status %s, want %d %d %q %s", o.ID,
						o.PaidCents, o.RefundedCents, o.CancellationReason, o.Status, tt.paid, tt.refunded, tt.reason, tt.status)
				}
			}
		})
	}
	if o, err := views.Order(ctx, "none"); err != nil || o != nil {
		t.Errorf("an unknown order: %v, %v; want nil, nil", o, err)
	}
}
