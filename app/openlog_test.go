package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"orderflow/commands/kafkabus"
	"orderflow/events"
	"orderflow/migrations"
)

// TestAMemberWithUnpublishedDecisionsStartsOverFromTheTopics: a process
// split into services (every context that writes scales out) that stopped with events it wrote
// and had not published (a crash) opens a new log and keeps the old one,
// whole, under another name; after a clean stop (nothing left to publish),
// or in one process, the log is kept. Events copied from other processes are never this process's to
// publish, so they alone never count.
func TestAMemberWithUnpublishedDecisionsStartsOverFromTheTopics(t *testing.T) {
	ctx := context.Background()
	decision := events.Event{Type: "StockAdded", Data: json.RawMessage(`{"productId":"p1","quantity":1}`)}
	copied := events.Event{ID: "0198c0de-0000-7000-8000-000000000001", StreamID: "order-o1", StreamVersion: 1, Type: "OrderCancelled",
		Data: json.RawMessage(`{"orderId":"o1"}`), SourcePosition: 7}
	for _, c := range []struct {
		name      string
		contexts  []string
		split     bool
		write     []events.Event // written here (a decision) or copied (SourcePosition set)
		published bool           // the relay's cursor is at the head
		startOver bool
		seeded    bool // a copy a running member just sent (--seed-from)
	}{
		{"inventory member after a crash", []string{"inventory"}, true, []events.Event{decision}, false, true, false},
		{"checks member after a crash", []string{"fraud", "customercheck", "notifications"}, true, []events.Event{decision}, false, true, false},
		{"inventory member after a clean stop", []string{"inventory"}, true, []events.Event{decision}, true, false, false},
		{"inventory member with only copies", []string{"inventory"}, true, []events.Event{copied}, false, false, false},
		{"api, orders, payments and inventory after a crash", []string{"api", "orders", "payments", "inventory"}, true, []events.Event{decision}, false, true, false},
		{"one process", nil, false, []events.Event{decision}, false, false, false},
		// The member that sent it counted nothing unpublished at its start and has written
		// only from committed transactions since: its copy is not counted again.
		{"inventory member seeded from a running one", []string{"inventory"}, true, []events.Event{decision}, false, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "member.db")
			db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply})
			if err != nil {
				t.Fatal(err)
			}
			store := events.NewStore(db)
			for _, e := range c.write {
				if e.SourcePosition > 0 {
					_, err = store.Import(ctx, []events.Event{e}, nil)
				} else {
					_, err = store.Append(ctx, events.StreamAppend{StreamID: "stock-p1", ExpectedVersion: events.AnyVersion, Events: []events.Event{e}})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if c.published {
				if err := db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
					return events.SaveCheckpoint(ctx, tx, kafkabus.RelayCheckpoint, db.Head())
				}); err != nil {
					t.Fatal(err)
				}
			}
			head := db.Head()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			cfg := DefaultConfig()
			cfg.DBPath = path
			if c.split {
				cfg.Transport, cfg.Contexts = TransportKafka, c.contexts
			}
			db, err = openLog(ctx, cfg, c.seeded, nil, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			aside, _ := filepath.Glob(path + ".unpublished-*")
			if !c.startOver {
				if db.Head() != head || len(aside) != 0 {
					t.Fatalf("log kept: head %d (was %d), moved aside %v", db.Head(), head, aside)
				}
				if n, err := kafkabus.Unpublished(ctx, db); c.split && (err != nil || n != 0) {
					t.Errorf("kept log: %d unpublished after the start (%v), want the cursor at the head", n, err)
				}
				return
			}
			if db.Head() != 0 || len(aside) != 1 {
				t.Fatalf("started over: head %d, want 0; moved aside %v, want one file", db.Head(), aside)
			}
			for _, ext := range []string{"-wal", "-shm"} {
				if _, err := os.Stat(aside[0] + ext); err == nil {
					t.Errorf("%s%s left behind", aside[0], ext)
				}
			}
			old, err := events.Open(ctx, aside[0], events.Options{Migrate: migrations.Apply})
			if err != nil {
				t.Fatal(err)
			}
			defer old.Close()
			if old.Head() != head {
				t.Errorf("the log moved aside holds %d events, want all %d", old.Head(), head)
			}
		})
	}
}
