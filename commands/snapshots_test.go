package commands_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"orderflow/commands"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/events"
)

// A log restored from a changelog holds a stream's snapshot and the events
// after it: the state the handlers load, and the one the changelog writes
// again, is the snapshot folded with those events.
func TestStateLoadsFromARestoredSnapshot(t *testing.T) {
	_, store, reg := commands.OpenTestStore(t)
	ctx := context.Background()
	h := commands.New(store, reg, nil, commands.Config{Fraud: fraud.Rule{LimitCents: 1 << 40, Window: time.Hour}})

	var before inventory.Stock
	for _, e := range []inventory.Event{
		inventory.StockAdded{ProductID: "p", Quantity: 10},
		inventory.StockReserved{ProductID: "p", OrderID: "o1", Quantity: 3},
		inventory.StockReserved{ProductID: "p", OrderID: "o2", Quantity: 2},
	} {
		before = before.Evolve(e)
	}
	state, err := json.Marshal(before)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RestoreSnapshots(ctx, []events.Snapshot{{StreamID: inventory.StreamID("p"), Version: 3, State: state}}, nil); err != nil {
		t.Fatal(err)
	}
	// Version 4, as another member wrote it after the snapshot.
	released, err := reg.Encode(events.Metadata{}, inventory.StockReleased{ProductID: "p", OrderID: "o1", Quantity: 3})
	if err != nil {
		t.Fatal(err)
	}
	released[0].ID, released[0].StreamID, released[0].StreamVersion, released[0].SourcePosition = "e4", inventory.StreamID("p"), 4, 4
	released[0].OccurredAt = time.Now()
	if _, err := store.Import(ctx, released, nil); err != nil {
		t.Fatal(err)
	}

	b, version, err := h.Snapshot(ctx, inventory.StreamID("p"))
	if err != nil {
		t.Fatal(err)
	}
	var got inventory.Stock
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if version != 4 || got.OnHand != 10 || got.Reserved != 2 || got.OpenReservation("o1") != 0 || got.OpenReservation("o2") != 2 {
		t.Fatalf("loaded %+v at version %d (o2 holds %d), want on hand 10, reserved 2 (o2's) at version 4", got, version, got.OpenReservation("o2"))
	}
	// What is appended next (split, through the outbox, which asks the
	// store) goes on at version 5.
	if v, err := store.Version(ctx, inventory.StreamID("p")); err != nil || v != 4 {
		t.Fatalf("version %d %v, want 4", v, err)
	}
	if _, _, err := h.Snapshot(ctx, "order-1"); err == nil {
		t.Error("a snapshot of an order stream, which no changelog keeps")
	}
}
