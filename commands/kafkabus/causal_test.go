package kafkabus

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"orderflow/commands"
	"orderflow/domain/customercheck"
	"orderflow/domain/order"
	"orderflow/events"
	"orderflow/migrations"
)

// TestCausalReplicaKeepsCausesFirst: the topics of two families move at
// their own pace, so a process that copies both may fetch a validation
// result before the placement it answers. A causal copy (the API's, whose
// orders read model folds the result into the row the placement made)
// keeps the result back until its cause is in the log; a copy that is not
// causal imports what it fetches as it comes.
func TestCausalReplicaKeepsCausesFirst(t *testing.T) {
	for _, causal := range []bool{true, false} {
		t.Run(map[bool]string{true: "causal", false: "as fetched"}[causal], func(t *testing.T) {
			ctx := context.Background()
			store, reg, cluster, send := newCopyRig(t)
			placed := encoded(t, reg, order.StreamID("o1"), 1, 100, events.Metadata{},
				order.OrderPlaced{OrderID: "o1", CustomerID: "c1", TotalCents: 100, PlacedAt: time.Now()})
			failed := encoded(t, reg, customercheck.StreamID("o1"), 1, 101, events.Metadata{CausationID: placed.ID},
				customercheck.CustomerCheckFailed{OrderID: "o1", CustomerID: "c1", Reason: customercheck.ReasonUnknownCustomer})

			r, err := NewReplica(ctx, store, cluster, 2, []string{commands.ContextOrders, commands.ContextCustomerCheck}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			r.Causal = causal
			run, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); r.Run(run) }()
			t.Cleanup(func() { stop(); <-done; r.Close() })
			// Records the topics held before the replica started are its
			// first copy, which trusts that they came after their causes
			// (TestFirstCopyTakesTheStagesInOrder); a result sent without
			// its placement is one that comes after.
			waitFirstCopy(t, r)

			send(failed)
			if causal {
				// Held back: nothing to wait for but time.
				time.Sleep(500 * time.Millisecond)
			} else {
				// As fetched: once the copy is past the record, it is in the log
				// (a fixed wait was too short under -race on a busy machine).
				fetched, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := r.CatchUp(fetched, commands.ContextCustomerCheck)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
			}
			_, got, err := store.PositionOf(ctx, failed.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got == causal {
				t.Fatalf("the result without its placement: in the log %v, want %v", got, !causal)
			}
			send(placed)
			wait, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := r.CatchUp(wait, commands.ContextOrders, commands.ContextCustomerCheck); err != nil {
				t.Fatal(err)
			}
			pPlaced, ok1, _ := store.PositionOf(ctx, placed.ID)
			pFailed, ok2, _ := store.PositionOf(ctx, failed.ID)
			if !ok1 || !ok2 {
				t.Fatalf("after the placement: placement in the log %v, result %v", ok1, ok2)
			}
			if causal && pFailed < pPlaced {
				t.Errorf("the result at %d before its placement at %d", pFailed, pPlaced)
			}
		})
	}
}

// encoded is one event as its writer published it.
func encoded(t *testing.T, reg *events.Registry, stream string, version, origin int64, md events.Metadata, p events.Payload) events.Event {
	t.Helper()
	evs, err := reg.Encode(md, p)
	if err != nil {
		t.Fatal(err)
	}
	e := evs[0]
	e.ID, e.StreamID, e.StreamVersion, e.SourcePosition, e.OccurredAt = events.NewID(), stream, version, origin, time.Now()
	return e
}

// TestFirstCopyTakesTheStagesInOrder: a new process copies what the topics
// held before it started, a family's stage at a time (CausalStages), so
// results published before their placements are imported after them
// without waiting for each other; it says it is not done until the log
// holds all of it, and what comes after its start is copied as before.
func TestFirstCopyTakesTheStagesInOrder(t *testing.T) {
	for _, causal := range []bool{true, false} {
		t.Run(map[bool]string{true: "causal", false: "as fetched"}[causal], func(t *testing.T) {
			ctx := context.Background()
			store, reg, cluster, send := newCopyRig(t)
			type pair struct{ placed, result events.Event }
			orderPair := func(id string, origin int64) pair {
				placed := encoded(t, reg, order.StreamID(id), 1, origin, events.Metadata{},
					order.OrderPlaced{OrderID: id, CustomerID: "c1", TotalCents: 100, PlacedAt: time.Now()})
				result := encoded(t, reg, customercheck.StreamID(id), 1, origin+1, events.Metadata{CausationID: placed.ID},
					customercheck.CustomerCheckFailed{OrderID: id, CustomerID: "c1", Reason: customercheck.ReasonUnknownCustomer})
				return pair{placed, result}
			}
			// The history: every result on its topic before any placement.
			var history []pair
			for i := range 40 {
				history = append(history, orderPair(fmt.Sprintf("o%d", i), int64(10*i+1)))
			}
			for _, p := range history {
				send(p.result)
			}
			for _, p := range history {
				send(p.placed)
			}

			r, err := NewReplica(ctx, store, cluster, 2, []string{commands.ContextCustomerCheck, commands.ContextOrders}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			r.Causal = causal
			if r.FirstCopy() == nil {
				t.Fatal("the first copy is done before the replica ran")
			}
			run, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); r.Run(run) }()
			t.Cleanup(func() { stop(); <-done; r.Close() })

			waitFirstCopy(t, r)
			head, ok := r.CopiedUpTo()
			if !ok || head != int64(2*len(history)) {
				t.Fatalf("copied up to %d (%v), want the %d events of the history", head, ok, 2*len(history))
			}
			// Held back nowhere: the copy took well under the 10 s a record
			// waits for its cause.
			for _, p := range history {
				pPlaced, ok1, _ := store.PositionOf(ctx, p.placed.ID)
				pResult, ok2, _ := store.PositionOf(ctx, p.result.ID)
				if !ok1 || !ok2 {
					t.Fatalf("%s: placement in the log %v, result %v", p.placed.StreamID, ok1, ok2)
				}
				if causal && pResult < pPlaced {
					t.Errorf("%s: the result at %d before its placement at %d", p.placed.StreamID, pResult, pPlaced)
				}
			}

			// After the first copy: a result waits for its placement again.
			later := orderPair("late", 1001)
			send(later.result)
			send(later.placed)
			wait, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := r.CatchUp(wait, commands.ContextOrders, commands.ContextCustomerCheck); err != nil {
				t.Fatal(err)
			}
			pPlaced, ok1, _ := store.PositionOf(ctx, later.placed.ID)
			pResult, ok2, _ := store.PositionOf(ctx, later.result.ID)
			if !ok1 || !ok2 || (causal && pResult < pPlaced) {
				t.Errorf("after the first copy: placement at %d (%v), result at %d (%v)", pPlaced, ok1, pResult, ok2)
			}
		})
	}
}

// TestReplicaStages: a causal copy takes its families in CausalStages'
// order, those in none of them last; any other copy takes them at once.
func TestReplicaStages(t *testing.T) {
	tests := []struct {
		families []string
		causal   bool
		want     [][]string
	}{
		{[]string{"orders", "inventory", "catalog"}, true, [][]string{{"orderflow.catalog"}, {"orderflow.orders"}, {"orderflow.inventory"}}},
		{[]string{"notifications", "payments"}, true, [][]string{{"orderflow.payments"}, {"orderflow.notifications"}}},
		{[]string{"unstaged", "customers"}, true, [][]string{{"orderflow.customers"}, {"orderflow.unstaged"}}},
		{[]string{"orders", "inventory"}, false, [][]string{{"orderflow.orders", "orderflow.inventory"}}},
		{nil, true, [][]string{nil}},
	}
	for _, tt := range tests {
		got := replicaStages(tt.families, tt.causal)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("replicaStages(%v, %v) = %v, want %v", tt.families, tt.causal, got, tt.want)
		}
	}
}

// waitFirstCopy waits at most 10 s for the replica's first copy.
func waitFirstCopy(t *testing.T, r *Replica) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.FirstCopy() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("first copy not done after 10 s: %v", r.FirstCopy())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newCopyRig is a log and a broker of two partitions for a replica to copy
// into and from; send publishes an event to its family's topic, as the
// process that wrote it would have.
func newCopyRig(t *testing.T) (*events.Store, *events.Registry, Cluster, func(events.Event)) {
	t.Helper()
	ctx := context.Background()
	db, err := events.Open(ctx, filepath.Join(t.TempDir(), "events.db"), events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, reg := events.NewStore(db), commands.Registry()
	cluster := fakeCluster(ctx, t, 2)
	pub, err := NewPublisher(cluster)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	send := func(e events.Event) {
		t.Helper()
		recs, _, err := recordsOf(e, func(e events.Event) (events.Payload, error) { return reg.Decode(e) }, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.topic == FamilyTopic(commands.StreamContext(e.StreamID)) && !publish(ctx, pub, slog.New(slog.DiscardHandler), r) {
				t.Fatal("publish failed")
			}
		}
	}
	return store, reg, cluster, send
}
