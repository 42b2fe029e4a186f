package commands

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"orderflow/domain/fraud"
	"orderflow/domain/order"
	"orderflow/events"
)

// TestFraudLaneForgetsAndReloads runs the fraud lane with room for two
// customers over five, so customers are forgotten and read from the log
// again all the time, over placements that arrive out of placement order,
// some by more than the retention margin. Every decision must be the one a
// history that never forgets would take, and a second lane handed
// everything again must append nothing.
func TestFraudLaneForgetsAndReloads(t *testing.T) {
	ctx := context.Background()
	db, store, reg := OpenTestStore(t)
	rule := fraud.Rule{LimitCents: 3000, Window: time.Hour}
	h := New(store, reg, nil, Config{Fraud: rule})

	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const customers, perCustomer = 5, 60
	var deliveries []events.Delivery
	want := map[string][]events.Payload{} // by customer, from a history that keeps everything
	full := map[string]fraud.History{}
	for i := range perCustomer {
		for c := range customers {
			customer := fmt.Sprint("c", c)
			at := t0.Add(time.Duration(i) * 10 * time.Minute)
			if i%7 == 3 {
				at = at.Add(-3 * time.Hour) // beyond the margin of one window
			} else if i%2 == 1 {
				at = at.Add(-25 * time.Minute) // within it
			}
			placed := order.OrderPlaced{OrderID: fmt.Sprintf("%s-o%d", customer, i), CustomerID: customer, TotalCents: int64(100 + 37*i%400), PlacedAt: at}
			evs, err := reg.Encode(events.Metadata{CorrelationID: placed.OrderID}, placed)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := store.Append(ctx, events.StreamAppend{StreamID: order.StreamID(placed.OrderID), Events: evs})
			if err != nil {
				t.Fatal(err)
			}
			deliveries = append(deliveries, events.Delivery{Event: stored[0], Payload: placed, Key: customer})
			decided := fraud.Check(full[customer], rule, customer, placed.OrderID, placed.PlacedAt, placed.TotalCents)
			for _, e := range decided {
				full[customer] = full[customer].Evolve(e)
				want[customer] = append(want[customer], e)
			}
		}
	}

	run := func(l *fraudLane) (redelivered int) {
		for i := 0; i < len(deliveries); i += 3 {
			n, err := l.HandleBatch(ctx, deliveries[i:min(i+3, len(deliveries))])
			if err != nil {
				t.Fatal(err)
			}
			if l.histories.len() > 2 {
				t.Fatalf("the lane holds %d customers after a batch, want at most 2", l.histories.len())
			}
			redelivered += n
		}
		return redelivered
	}
	newLane := func() *fraudLane { return &fraudLane{h: h, histories: newLRU[*fraudState](2)} }
	h.frauds.m = newLRU[snapshot[fraud.History]](1) // so reloads mostly read the log
	if n := run(newLane()); n != 0 {
		t.Fatalf("first run: %d redeliveries, want 0", n)
	}
	for c := range customers {
		customer := fmt.Sprint("c", c)
		evs, err := store.ReadStream(ctx, fraud.StreamID(customer), 0)
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
		if !reflect.DeepEqual(got, want[customer]) {
			t.Fatalf("fraud-%s: %d events differ from a history that never forgets:\n got %v\nwant %v", customer, len(got), got, want[customer])
		}
	}

	head := db.Head()
	if n := run(newLane()); n != len(deliveries) {
		t.Errorf("second run: %d redeliveries, want all %d", n, len(deliveries))
	}
	if db.Head() != head {
		t.Errorf("handing everything again appended %d events", db.Head()-head)
	}
}
