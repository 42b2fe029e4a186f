package kafkabus

import (
	"context"
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
			defer pub.Close()
			send := func(e events.Event) {
				t.Helper()
				recs, _, err := recordsOf(e, func(e events.Event) (events.Payload, error) { return reg.Decode(e) }, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs {
					if r.topic != FamilyTopic(commands.StreamContext(e.StreamID)) {
						continue
					}
					if !publish(ctx, pub, slog.New(slog.DiscardHandler), r) {
						t.Fatal("publish failed")
					}
				}
			}
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
