package commands

import (
	"context"
	"fmt"
	"math"
	"testing"

	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/events"
)

// TestOrderLaneForgetsAndReloads runs the order process with room for one
// order over five whose results arrive interleaved, so an order is
// forgotten between its results and read from the log again: every order
// must still be validated exactly once, and a second lane handed
// everything again must append nothing.
func TestOrderLaneForgetsAndReloads(t *testing.T) {
	ctx := context.Background()
	db, store, reg := OpenTestStore(t)
	h := New(store, reg, nil, Config{})

	const orders = 5
	appendOne := func(stream, correlation string, p events.Payload) events.Delivery {
		t.Helper()
		evs, err := reg.Encode(events.Metadata{CorrelationID: correlation}, p)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := store.Append(ctx, events.StreamAppend{StreamID: stream, ExpectedVersion: events.AnyVersion, Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := order.IDOf(p)
		return events.Delivery{Event: stored[0], Payload: p, Key: id}
	}
	var deliveries []events.Delivery
	for i := range orders {
		id := fmt.Sprint("o", i)
		deliveries = append(deliveries, appendOne(order.StreamID(id), id, order.OrderPlaced{
			OrderID: id, CustomerID: "c", Lines: []order.Line{{ProductID: "p", Quantity: 1, UnitPriceCents: 100}}, TotalCents: 100,
		}))
	}
	results := []func(id string) (string, events.Payload){
		func(id string) (string, events.Payload) {
			return inventory.StreamID("p"), inventory.StockReserved{ProductID: "p", OrderID: id, Quantity: 1}
		},
		func(id string) (string, events.Payload) {
			return fraud.StreamID("c"), fraud.FraudCheckPassed{CustomerID: "c", OrderID: id, TotalCents: 100}
		},
		func(id string) (string, events.Payload) {
			return customercheck.StreamID(id), customercheck.CustomerCheckPassed{OrderID: id, CustomerID: "c"}
		},
	}
	for _, result := range results {
		for i := range orders {
			id := fmt.Sprint("o", i)
			stream, p := result(id)
			deliveries = append(deliveries, appendOne(stream, id, p))
		}
	}

	run := func(l *orderLane) (redelivered int) {
		for i := 0; i < len(deliveries); i += 2 {
			n, err := l.HandleBatch(ctx, deliveries[i:min(i+2, len(deliveries))])
			if err != nil {
				t.Fatal(err)
			}
			if l.orders.len() > 1 {
				t.Fatalf("the lane holds %d orders after a batch, want at most 1", l.orders.len())
			}
			redelivered += n
		}
		return redelivered
	}
	run(&orderLane{h: h, orders: newLRU[*orderProcess](1)})
	for i := range orders {
		evs, err := store.ReadStream(ctx, order.StreamID(fmt.Sprint("o", i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[1].Type != (order.OrderValidated{}).EventType() {
			t.Fatalf("order o%d has %d events (last %s), want placed then validated", i, len(evs), evs[len(evs)-1].Type)
		}
	}

	head := db.Head()
	if n := run(&orderLane{h: h, orders: newLRU[*orderProcess](1)}); n != orders*len(results) {
		t.Errorf("second run: %d redeliveries, want the %d results", n, orders*len(results))
	}
	if db.Head() != head {
		t.Errorf("handing everything again appended %d events", db.Head()-head)
	}
}

// TestOrderLaneTakesResultsBeforeThePlacement: split into services, an
// order's results come on another topic than its placement and may reach
// the order process first, before the placement is in its log. The order
// is validated once the placement arrives, exactly once.
func TestOrderLaneTakesResultsBeforeThePlacement(t *testing.T) {
	ctx := context.Background()
	_, store, reg := OpenTestStore(t)
	h := New(store, reg, nil, Config{})
	deliver := func(stream string, p events.Payload) events.Delivery {
		t.Helper()
		evs, err := reg.Encode(events.Metadata{CorrelationID: "o1"}, p)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := store.Append(ctx, events.StreamAppend{StreamID: stream, ExpectedVersion: events.AnyVersion, Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		return events.Delivery{Event: stored[0], Payload: p, Key: "o1"}
	}
	lane := &orderLane{h: h, startHead: math.MaxInt64, orders: newLRU[*orderProcess](10)}
	// Each event is in the log only from its delivery on, as the feed imports it.
	for _, next := range []func() events.Delivery{
		func() events.Delivery {
			return deliver(inventory.StreamID("p"), inventory.StockReserved{ProductID: "p", OrderID: "o1", Quantity: 1})
		},
		func() events.Delivery {
			return deliver(fraud.StreamID("c"), fraud.FraudCheckPassed{CustomerID: "c", OrderID: "o1", TotalCents: 100})
		},
		func() events.Delivery {
			return deliver(customercheck.StreamID("o1"), customercheck.CustomerCheckPassed{OrderID: "o1", CustomerID: "c"})
		},
		func() events.Delivery {
			return deliver(order.StreamID("o1"), order.OrderPlaced{OrderID: "o1", CustomerID: "c",
				Lines: []order.Line{{ProductID: "p", Quantity: 1, UnitPriceCents: 100}}, TotalCents: 100})
		},
	} {
		if _, err := lane.HandleBatch(ctx, []events.Delivery{next()}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := store.ReadStream(ctx, order.StreamID("o1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[1].Type != "OrderValidated" {
		t.Fatalf("order stream = %v, want OrderPlaced then OrderValidated", evs)
	}
}
