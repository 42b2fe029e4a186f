package commands_test

import (
	"context"
	"database/sql"
	"reflect"
	"testing"
	"time"

	"orderflow/commands"
	"orderflow/domain/fraud"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
	"orderflow/projections"
)

// TestPaymentsRefundWhatEndedUnfulfilled runs the payments reaction over
// orders that end every way, with the payment before and after the end of
// the order, across two runs (orders placed before a run are read from the
// log, orders placed during it are followed in memory), and then once more
// from the start of the log, which must append nothing.
func TestPaymentsRefundWhatEndedUnfulfilled(t *testing.T) {
	ctx := context.Background()
	db, store, reg := commands.OpenTestStore(t)
	h := commands.New(store, reg, projections.NewViews(db.Reader()), commands.Config{Fraud: fraud.Rule{LimitCents: 1 << 40, Window: time.Hour}})

	add := func(stream string, p events.Payload) {
		t.Helper()
		evs, err := reg.Encode(events.Metadata{CorrelationID: "corr-" + stream}, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(ctx, events.StreamAppend{StreamID: stream, ExpectedVersion: events.AnyVersion, Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	lines := []order.Line{{ProductID: "p1", Quantity: 1, UnitPriceCents: 700}}
	place := func(id string) {
		add(order.StreamID(id), order.OrderPlaced{OrderID: id, CustomerID: "c1", Lines: lines, TotalCents: 700})
	}
	pay := func(id string) {
		add(payment.StreamID(id), payment.PaymentReceived{PaymentID: "pay-" + id, OrderID: id, AmountCents: 700})
	}
	validate := func(id string) { add(order.StreamID(id), order.OrderValidated{OrderID: id}) }
	paid := func(id string) {
		add(order.StreamID(id), order.OrderPaid{OrderID: id, PaymentID: "pay-" + id, AmountCents: 700})
	}
	cancel := func(id string) { add(order.StreamID(id), order.OrderCancelled{OrderID: id, Lines: lines}) }
	fail := func(id string) {
		add(order.StreamID(id), order.OrderFailed{OrderID: id, Reason: "INSUFFICIENT_STOCK", Lines: lines})
	}

	refund := func(id, reason string) []events.Payload {
		return []events.Payload{
			payment.PaymentReceived{PaymentID: "pay-" + id, OrderID: id, AmountCents: 700},
			payment.PaymentRefunded{PaymentID: "pay-" + id, OrderID: id, AmountCents: 700, Reason: reason},
		}
	}
	received := func(id string) []events.Payload {
		return []events.Payload{payment.PaymentReceived{PaymentID: "pay-" + id, OrderID: id, AmountCents: 700}}
	}
	want := map[string][]events.Payload{}
	story := func(prefix string) {
		// A PAID order cancelled.
		place(prefix + "paid-cancelled")
		validate(prefix + "paid-cancelled")
		pay(prefix + "paid-cancelled")
		paid(prefix + "paid-cancelled")
		cancel(prefix + "paid-cancelled")
		want[prefix+"paid-cancelled"] = refund(prefix+"paid-cancelled", "ORDER_CANCELLED")
		// A payment that raced a cancel and landed after it.
		place(prefix + "raced")
		validate(prefix + "raced")
		cancel(prefix + "raced")
		pay(prefix + "raced")
		want[prefix+"raced"] = refund(prefix+"raced", "ORDER_CANCELLED")
		// A payment held for a PENDING order that then failed.
		place(prefix + "held-failed")
		pay(prefix + "held-failed")
		fail(prefix + "held-failed")
		want[prefix+"held-failed"] = refund(prefix+"held-failed", "ORDER_FAILED")
		// A paid order that stays: nothing.
		place(prefix + "kept")
		validate(prefix + "kept")
		pay(prefix + "kept")
		paid(prefix + "kept")
		want[prefix+"kept"] = received(prefix + "kept")
		// Cancelled or failed unpaid: nothing.
		place(prefix + "cancelled-unpaid")
		cancel(prefix + "cancelled-unpaid")
		place(prefix + "failed-unpaid")
		fail(prefix + "failed-unpaid")
	}
	check := func(when string) {
		t.Helper()
		for _, prefix := range []string{"a-", "b-"} {
			for _, id := range []string{"paid-cancelled", "raced", "held-failed", "kept", "cancelled-unpaid", "failed-unpaid"} {
				id = prefix + id
				evs, err := store.ReadStream(ctx, payment.StreamID(id), 0)
				if err != nil {
					t.Fatal(err)
				}
				var got []events.Payload
				for _, e := range evs {
					p, err := reg.Decode(e)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, p)
				}
				if !reflect.DeepEqual(got, want[id]) {
					t.Errorf("%s: payment-%s = %#v, want %#v", when, id, got, want[id])
				}
			}
		}
	}

	// Run 1: everything of "a-" is in the log before the reaction starts.
	story("a-")
	runToHead(t, store, reg, consumer(t, h, "payments"))
	// Run 2 (a new consumer, from the checkpoint): "b-" happens while it
	// runs, so it follows those orders from their placement in memory.
	ctx2, stop := context.WithCancel(ctx)
	c := events.NewConsumer(store, reg, consumer(t, h, "payments"), events.ConsumerOptions{Lanes: 4})
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx2) }()
	for c.Stats().Position < db.Head() {
		time.Sleep(time.Millisecond)
	}
	story("b-")
	for c.Stats().Position < db.Head() {
		time.Sleep(time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	check("after two runs")

	// From the start of the log again: everything is a redelivery.
	if err := db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM checkpoints WHERE name = ?`, events.CheckpointName("payments"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	head := db.Head()
	stats := runToHead(t, store, reg, consumer(t, h, "payments"))
	if db.Head() != head {
		t.Fatalf("redelivering the log appended %d events", db.Head()-head)
	}
	if stats.Redeliveries == 0 || stats.Conflicts != 0 {
		t.Errorf("redelivery: %d redeliveries and %d conflicts, want some and none", stats.Redeliveries, stats.Conflicts)
	}
	check("after redelivery")
}
