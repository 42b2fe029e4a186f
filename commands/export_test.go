package commands

import (
	"context"
	"path/filepath"
	"testing"

	"orderflow/events"
	"orderflow/migrations"
)

// OpenTestStore opens an event store on a fresh database, closed when the
// test ends, with the registry of every event type. It serves the tests of
// this package and of commands_test.
func OpenTestStore(t testing.TB) (*events.DB, *events.Store, *events.Registry) {
	t.Helper()
	db, err := events.Open(context.Background(), filepath.Join(t.TempDir(), "o.db"), events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := Registry()
	reg.UseKeys(events.NewKeyring(db))
	return db, events.NewStore(db), reg
}
