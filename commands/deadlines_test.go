package commands

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
)

// TestExpireOrderRacesThePayment lets the order process validate an order
// and hold it in memory, the payment deadline pass, the expiry and the
// payment race for the order's stream, in both orders: the stream tells
// one story either way, and the lane that lost finds the order moved on.
func TestExpireOrderRacesThePayment(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	lines := []order.Line{{ProductID: "p", Quantity: 1, UnitPriceCents: 100}}

	type setup struct {
		h      *Handlers
		store  *events.Store
		lane   *orderLane
		paid   events.Delivery
		clock  *time.Time
		stream string
	}
	start := func(t *testing.T, id string) setup {
		_, store, reg := OpenTestStore(t)
		clock := t0
		h := New(store, reg, nil, Config{Now: func() time.Time { return clock },
			Deadlines: order.Deadlines{Validation: time.Minute, Payment: time.Hour}})
		deliver := func(stream string, p events.Payload) events.Delivery {
			evs, err := reg.Encode(events.Metadata{CorrelationID: id}, p)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := store.Append(ctx, events.StreamAppend{StreamID: stream, ExpectedVersion: events.AnyVersion, Events: evs})
			if err != nil {
				t.Fatal(err)
			}
			return events.Delivery{Event: stored[0], Payload: p, Key: id}
		}
		lane := &orderLane{h: h, orders: newLRU[*orderProcess](10)}
		batch := []events.Delivery{
			deliver(order.StreamID(id), order.OrderPlaced{OrderID: id, CustomerID: "c", Lines: lines, TotalCents: 100, PlacedAt: t0}),
			deliver(inventory.StreamID("p"), inventory.StockReserved{ProductID: "p", OrderID: id, Quantity: 1}),
			deliver(fraud.StreamID("c"), fraud.FraudCheckPassed{CustomerID: "c", OrderID: id, TotalCents: 100}),
			deliver(customercheck.StreamID(id), customercheck.CustomerCheckPassed{OrderID: id, CustomerID: "c"}),
		}
		if _, err := lane.HandleBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		clock = t0.Add(2 * time.Hour) // past the payment deadline
		paid := deliver(payment.StreamID(id), payment.PaymentReceived{PaymentID: "pay", OrderID: id, AmountCents: 100})
		return setup{h: h, store: store, lane: lane, paid: paid, clock: &clock, stream: order.StreamID(id)}
	}
	types := func(t *testing.T, s setup) []string {
		evs, err := s.store.ReadStream(ctx, s.stream, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			out = append(out, e.Type)
		}
		return out
	}

	t.Run("the expiry first", func(t *testing.T) {
		s := start(t, "o1")
		if _, err := s.h.ExpireOrder(ctx, "o1", events.Metadata{}); err != nil {
			t.Fatal(err)
		}
		// The lane holds the order as it validated it: its OrderPaid
		// conflicts, and decided again against the log it records nothing.
		_, err := s.lane.HandleBatch(ctx, []events.Delivery{s.paid})
		if !errors.Is(err, events.ErrVersionConflict) {
			t.Fatalf("the payment after the expiry = %v, want a version conflict", err)
		}
		if _, err := s.lane.HandleBatch(ctx, []events.Delivery{s.paid}); err != nil {
			t.Fatal(err)
		}
		want := []string{"OrderPlaced", "OrderValidated", "OrderCancelled"}
		if got := types(t, s); !slices.Equal(got, want) {
			t.Errorf("stream = %v, want %v", got, want)
		}
		o, _, err := s.h.loadOrder(ctx, "o1")
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != order.Cancelled {
			t.Errorf("status = %s, want CANCELLED", o.Status)
		}
	})
	t.Run("the payment first", func(t *testing.T) {
		s := start(t, "o2")
		if _, err := s.lane.HandleBatch(ctx, []events.Delivery{s.paid}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.h.ExpireOrder(ctx, "o2", events.Metadata{}); err != nil {
			t.Fatal(err)
		}
		want := []string{"OrderPlaced", "OrderValidated", "OrderPaid"}
		if got := types(t, s); !slices.Equal(got, want) {
			t.Errorf("stream = %v, want %v", got, want)
		}
	})
	t.Run("before the deadline nothing expires", func(t *testing.T) {
		s := start(t, "o3")
		*s.clock = t0.Add(59 * time.Minute)
		if _, err := s.h.ExpireOrder(ctx, "o3", events.Metadata{}); err != nil {
			t.Fatal(err)
		}
		want := []string{"OrderPlaced", "OrderValidated"}
		if got := types(t, s); !slices.Equal(got, want) {
			t.Errorf("stream = %v, want %v", got, want)
		}
	})
	t.Run("an unknown order", func(t *testing.T) {
		s := start(t, "o4")
		if _, err := s.h.ExpireOrder(ctx, "nope", events.Metadata{}); !errors.Is(err, order.ErrNotFound) {
			t.Errorf("expire an unknown order = %v, want not found", err)
		}
	})
}

// TestDeadlineTimerAsks runs rounds of the timer: it asks for the orders
// due that this process owns, not again before deadlineRetry while one is
// still due, again after it, and forgets an order once it is no longer due.
func TestDeadlineTimerAsks(t *testing.T) {
	ctx := context.Background()
	due := []string{"a", "b", "theirs"}
	var asked []string
	failB := true
	timer := &DeadlineTimer{
		Deadlines: order.Deadlines{Validation: time.Second},
		Due: func(_ context.Context, _ order.Deadlines, _ time.Time, limit int) ([]string, error) {
			return due[:min(limit, len(due))], nil
		},
		Owns: func(id string) bool { return id != "theirs" },
		Expire: func(_ context.Context, id string) error {
			asked = append(asked, id)
			if id == "b" && failB {
				return errors.New("broker away")
			}
			return nil
		},
		Log: slog.New(slog.DiscardHandler),
	}
	memory := map[string]time.Time{}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rounds := []struct {
		at   time.Duration
		due  []string
		want []string
	}{
		{0, []string{"a", "b", "theirs"}, []string{"a", "b"}},
		{time.Second, []string{"a", "b", "theirs"}, nil},
		{deadlineRetry, []string{"a", "b", "theirs"}, []string{"a", "b"}},
		{deadlineRetry + time.Second, []string{"b"}, nil},
		{deadlineRetry + 2*time.Second, []string{"a", "b"}, []string{"a"}},
	}
	for i, r := range rounds {
		due, asked = r.due, nil
		timer.round(ctx, t0.Add(r.at), memory)
		if !slices.Equal(asked, r.want) {
			t.Errorf("round %d: asked %v, want %v", i, asked, r.want)
		}
	}
	if _, ok := memory["theirs"]; ok {
		t.Error("the timer remembers an order it does not own")
	}
}

func TestDeadlineTimerInterval(t *testing.T) {
	tests := []struct {
		d    order.Deadlines
		want time.Duration
	}{
		{order.Deadlines{Validation: time.Minute, Payment: 24 * time.Hour}, time.Second},
		{order.Deadlines{Validation: 2 * time.Second, Payment: time.Hour}, 200 * time.Millisecond},
		{order.Deadlines{Validation: 100 * time.Millisecond}, 100 * time.Millisecond},
		{order.Deadlines{Payment: 3 * time.Second}, 300 * time.Millisecond},
		{order.Deadlines{}, time.Second},
	}
	for _, tt := range tests {
		if got := (&DeadlineTimer{Deadlines: tt.d}).Interval(); got != tt.want {
			t.Errorf("interval for %+v = %v, want %v", tt.d, got, tt.want)
		}
	}
}
