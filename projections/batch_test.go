package projections_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"testing"
	"time"

	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/projections"
)

// TestBatchesApplyAsEventsOneByOne builds every read model from a log of
// orders taken through each outcome twice: live, one event at a time
// (each event its own batch), then by a rebuild that takes the whole log
// as one batch, where an order's later events change rows the batch holds
// in memory before they are written. The tables must be equal row for row.
func TestBatchesApplyAsEventsOneByOne(t *testing.T) {
	f := newFixture(t, projections.All()...)
	ctx := context.Background()
	lines := []order.Line{{ProductID: "p1", Quantity: 2, UnitPriceCents: 100}, {ProductID: "p2", Quantity: 1, UnitPriceCents: 50}}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.write(t, inventory.StreamID("p1"), inventory.StockAdded{ProductID: "p1", Quantity: 1000})
	f.write(t, inventory.StreamID("p2"), inventory.StockAdded{ProductID: "p2", Quantity: 1000})
	for i := range 6 {
		id := fmt.Sprintf("o%d", i)
		placed := order.OrderPlaced{OrderID: id, CustomerID: "c1", Lines: lines, TotalCents: 250, PlacedAt: at.Add(time.Duration(i) * time.Minute)}
		f.write(t, order.StreamID(id), placed)
		f.write(t, inventory.StreamID("p1"), inventory.StockReserved{ProductID: "p1", OrderID: id, Quantity: 2})
		switch i {
		case 0: // shipped
			f.write(t, customercheck.StreamID(id), customercheck.CustomerCheckPassed{OrderID: id, CustomerID: "c1"})
			f.write(t, order.StreamID(id), order.OrderValidated{OrderID: id, ValidatedAt: at.Add(time.Hour)})
			f.write(t, payment.StreamID(id), payment.PaymentReceived{PaymentID: id, OrderID: id, AmountCents: 250})
			f.write(t, order.StreamID(id), order.OrderPaid{OrderID: id, PaymentID: id, AmountCents: 250})
			f.write(t, order.StreamID(id), order.OrderShipped{OrderID: id, Lines: lines})
		case 1: // failed, a reason reported before, with and after the outcome, one of them twice
			f.write(t, customercheck.StreamID(id), customercheck.CustomerCheckFailed{OrderID: id, CustomerID: "c1", Reason: customercheck.ReasonUnknownCustomer})
			f.write(t, order.StreamID(id), order.OrderFailed{OrderID: id, Reason: customercheck.ReasonUnknownCustomer, Lines: lines})
			f.write(t, inventory.StreamID("p2"), inventory.StockReservationRejected{ProductID: "p2", OrderID: id, Requested: 1, Reason: inventory.ReasonInsufficientStock})
			f.write(t, fraud.StreamID("c1"), fraud.FraudCheckFailed{CustomerID: "c1", OrderID: id, Reason: fraud.ReasonLimitExceeded})
		case 2: // validated, never paid: its payment deadline runs
			f.write(t, order.StreamID(id), order.OrderValidated{OrderID: id, ValidatedAt: at.Add(2 * time.Hour)})
		case 3: // validated by a version 1 event (no time), then cancelled
			f.write(t, order.StreamID(id), order.OrderValidated{OrderID: id})
			f.write(t, order.StreamID(id), order.OrderCancelled{OrderID: id, Reason: order.ReasonPaymentTimeout, Lines: lines})
		case 4: // paid, cancelled and refunded
			f.write(t, order.StreamID(id), order.OrderValidated{OrderID: id, ValidatedAt: at})
			f.write(t, payment.StreamID(id), payment.PaymentReceived{PaymentID: id, OrderID: id, AmountCents: 250})
			f.write(t, order.StreamID(id), order.OrderPaid{OrderID: id, PaymentID: id, AmountCents: 250})
			f.write(t, order.StreamID(id), order.OrderCancelled{OrderID: id, Reason: "changed my mind", Lines: lines})
			f.write(t, payment.StreamID(id), payment.PaymentRefunded{PaymentID: id, OrderID: id, AmountCents: 250})
		case 5: // still pending
		}
	}
	live := dumpReadModels(t, f.db.Reader())
	if err := f.runner.Rebuild(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	rebuilt := dumpReadModels(t, f.db.Reader())
	for table, rows := range live {
		if len(rows) == 0 && table != "cancellations" {
			t.Errorf("%s: no rows; the log was meant to fill every read model", table)
		}
		if !reflect.DeepEqual(rows, rebuilt[table]) {
			t.Errorf("%s differs:\nevent by event %v\nin one batch   %v", table, rows, rebuilt[table])
		}
	}
}

// dumpReadModels reads every row of every read model, in primary key
// order, as text.
func dumpReadModels(t *testing.T, db *sql.DB) map[string][][]string {
	t.Helper()
	return dumpTables(t, db, projections.All()...)
}

// dumpTables reads every row of the read models of defs, in primary key
// order, as text.
func dumpTables(t *testing.T, db *sql.DB, defs ...projections.Definition) map[string][][]string {
	t.Helper()
	out := map[string][][]string{}
	for _, d := range defs {
		for _, table := range d.Tables {
			rows, err := db.Query(`SELECT * FROM ` + table + ` ORDER BY 1, 2`)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]sql.NullString, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				row := make([]string, len(cols))
				for i, v := range vals {
					row[i] = fmt.Sprintf("%s=%v", cols[i], v)
				}
				out[table] = append(out[table], row)
			}
			if err := rows.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// TestDeadlinesBatchOverRowsHeldBefore is that comparison for the
// deadlines read model alone, over a log where orders are placed a second
// time (which the orders read model refuses): the placement inserts no
// row over the one the table holds, and what follows it in the batch
// changes that row, as it does event by event.
func TestDeadlinesBatchOverRowsHeldBefore(t *testing.T) {
	f := newFixture(t, projections.DeadlinesDefinition)
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	placed := func(id string, minutes int) order.OrderPlaced {
		return order.OrderPlaced{OrderID: id, CustomerID: "c1", TotalCents: 1, PlacedAt: at.Add(time.Duration(minutes) * time.Minute)}
	}
	again := func(id string) string { return "order-again-" + id }
	f.write(t, order.StreamID("a"), placed("a", 0))
	f.write(t, order.StreamID("b"), placed("b", 1))
	f.write(t, order.StreamID("b"), order.OrderValidated{OrderID: "b", ValidatedAt: at.Add(time.Hour)})
	f.write(t, order.StreamID("c"), placed("c", 2))
	f.write(t, order.StreamID("d"), placed("d", 3))
	// a: placed again later, then validated without a time: since is
	// the first placement's, the row's.
	f.write(t, again("a"), placed("a", 10))
	f.write(t, order.StreamID("a"), order.OrderValidated{OrderID: "a"})
	// b: placed again, validated again.
	f.write(t, again("b"), placed("b", 11))
	f.write(t, order.StreamID("b"), order.OrderValidated{OrderID: "b", ValidatedAt: at.Add(2 * time.Hour)})
	// c: placed again, validated, paid: no row left.
	f.write(t, again("c"), placed("c", 12))
	f.write(t, order.StreamID("c"), order.OrderValidated{OrderID: "c", ValidatedAt: at})
	f.write(t, order.StreamID("c"), order.OrderPaid{OrderID: "c", PaymentID: "c", AmountCents: 1})
	// e: placed, failed, placed again, validated (after the row was gone).
	f.write(t, order.StreamID("e"), placed("e", 4))
	f.write(t, order.StreamID("e"), order.OrderFailed{OrderID: "e", Reason: "X"})
	f.write(t, again("e"), placed("e", 13))
	f.write(t, order.StreamID("e"), order.OrderValidated{OrderID: "e", ValidatedAt: at.Add(3 * time.Hour)})
	// f: placed, cancelled, validated after (changes nothing).
	f.write(t, order.StreamID("f"), placed("f", 5))
	f.write(t, order.StreamID("f"), order.OrderCancelled{OrderID: "f", Reason: "Y"})
	f.write(t, order.StreamID("f"), order.OrderValidated{OrderID: "f", ValidatedAt: at})

	live := dumpTables(t, f.db.Reader(), projections.DeadlinesDefinition)
	if err := f.runner.Rebuild(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	rebuilt := dumpTables(t, f.db.Reader(), projections.DeadlinesDefinition)
	if len(live["deadlines"]) != 4 || !reflect.DeepEqual(live, rebuilt) {
		t.Errorf("event by event (4 rows expected): %v\nin one batch: %v", live, rebuilt)
	}
}
