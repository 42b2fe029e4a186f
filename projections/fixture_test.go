package projections_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"orderflow/commands"
	"orderflow/events"
	"orderflow/migrations"
	"orderflow/projections"
)

// fixture is a store on a fresh database with a runner keeping the given
// projections caught up, stopped and closed when the test ends.
type fixture struct {
	db     *events.DB
	store  *events.Store
	reg    *events.Registry
	runner *projections.Runner
}

func newFixture(t *testing.T, defs ...projections.Definition) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := events.Open(ctx, filepath.Join(t.TempDir(), "p.db"), events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	store, reg := events.NewStore(db), commands.Registry()
	reg.UseKeys(events.NewKeyring(db))
	runner := projections.NewRunner(store, reg, slog.New(slog.DiscardHandler), defs...)
	runCtx, stop := context.WithCancel(ctx)
	wg, err := runner.Start(runCtx)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		wg.Wait()
		db.Close()
	})
	return &fixture{db: db, store: store, reg: reg, runner: runner}
}

// write appends p to stream and waits until every projection applied it.
func (f *fixture) write(t *testing.T, stream string, p events.Payload) {
	t.Helper()
	ctx := context.Background()
	evs, err := f.reg.Encode(events.Metadata{}, p)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.store.Append(ctx, events.StreamAppend{StreamID: stream, ExpectedVersion: events.AnyVersion, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.runner.WaitFor(ctx, stored[0].Position); err != nil {
		t.Fatal(err)
	}
}
