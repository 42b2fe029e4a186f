package events_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"orderflow/events"
	"orderflow/migrations"
)

// foreign is an event as another process wrote it: its id, stream version
// and its position there (which arrives as the source position).
func foreign(id, stream string, version, origin int64) events.Event {
	e := ev("A", int(version))
	e.ID, e.StreamID, e.StreamVersion, e.SourcePosition = id, stream, version, origin
	e.OccurredAt = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	return e
}

func TestImportKeepsTheEnvelopeAndIsIdempotent(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "order-1", Events: []events.Event{ev("B", 1)}}); err != nil {
		t.Fatal(err)
	}
	batch := []events.Event{foreign("e1", "stock-p", 1, 40), foreign("e2", "stock-p", 2, 41), foreign("e3", "fraud-c", 1, 42)}
	got, err := s.Import(ctx, batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, imp := range got {
		if !imp.New || imp.Stale || imp.Position != int64(i+2) {
			t.Errorf("import %d = %+v, want new at position %d", i, imp, i+2)
		}
	}
	evs, err := s.ReadStream(ctx, "stock-p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].ID != "e1" || evs[1].StreamVersion != 2 || evs[1].SourcePosition != 41 ||
		evs[1].Origin() != 41 || !evs[1].Imported() || !evs[0].OccurredAt.Equal(batch[0].OccurredAt) || evs[0].CorrelationID != "corr" {
		t.Fatalf("imported stream = %+v", evs)
	}

	// Kafka delivers at least once: the same events again are found where
	// they are, and nothing is written.
	head := s.DB().Head()
	again, err := s.Import(ctx, batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, imp := range again {
		if imp.New || imp.Position != got[i].Position {
			t.Errorf("re-import %d = %+v, want the existing position %d", i, imp, got[i].Position)
		}
	}
	if s.DB().Head() != head {
		t.Fatalf("re-import wrote: head %d → %d", head, s.DB().Head())
	}

	// Another writer's event at a version the stream already holds is
	// stale: the first event of each version wins.
	stale, err := s.Import(ctx, []events.Event{foreign("zombie", "stock-p", 2, 99), foreign("e4", "stock-p", 3, 100)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !stale[0].Stale || stale[0].Held != "e2" || stale[0].Position != 0 || !stale[1].New {
		t.Fatalf("stale import = %+v, want the zombie's event stale (the log holds e2 there) and e4 new", stale)
	}
	// A local append follows on from what was imported.
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "stock-p", ExpectedVersion: 3, Events: []events.Event{ev("C", 1)}}); err != nil {
		t.Fatalf("append after import: %v", err)
	}
}

// TestImportFillsGaps: one stream's events may reach a process by two roads
// (a consumer group's partitions and the copy of the family, two
// repartitions of one order), each in order but not in step. A later
// version imported first leaves a gap that the earlier one fills; only an
// event at a version held by another event is stale.
func TestImportFillsGaps(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	steps := []struct {
		name      string
		evs       []events.Event
		wantNew   []bool
		wantStale []bool
	}{
		{"a later version first", []events.Event{foreign("v2", "order-9", 2, 12)}, []bool{true}, []bool{false}},
		{"the earlier one fills the gap", []events.Event{foreign("v1", "order-9", 1, 11)}, []bool{true}, []bool{false}},
		{"both again, by the other road", []events.Event{foreign("v1", "order-9", 1, 11), foreign("v2", "order-9", 2, 12)}, []bool{false, false}, []bool{false, false}},
		{"another event at a held version", []events.Event{foreign("other", "order-9", 1, 77)}, []bool{false}, []bool{true}},
		{"the next version", []events.Event{foreign("v3", "order-9", 3, 13)}, []bool{true}, []bool{false}},
	}
	for _, st := range steps {
		got, err := s.Import(ctx, st.evs, nil)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for i, imp := range got {
			if imp.New != st.wantNew[i] || imp.Stale != st.wantStale[i] {
				t.Errorf("%s: import %d = %+v, want new %v stale %v", st.name, i, imp, st.wantNew[i], st.wantStale[i])
			}
		}
	}
	evs, err := s.ReadStream(ctx, "order-9", 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	if len(ids) != 3 || ids[0] != "v1" || ids[1] != "v2" || ids[2] != "v3" {
		t.Errorf("order-9 reads %v, want [v1 v2 v3] in version order", ids)
	}
}

func TestImportRecordsItsProgressInTheSameTransaction(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	fail := errors.New("offsets could not be saved")
	_, err := s.Import(ctx, []events.Event{foreign("e1", "stock-p", 1, 7)}, func(ctx context.Context, tx *sql.Tx) error {
		return fail
	})
	if !errors.Is(err, fail) {
		t.Fatalf("import = %v, want the failure of what runs with it", err)
	}
	if evs, _ := s.ReadStream(ctx, "stock-p", 0); len(evs) != 0 {
		t.Fatalf("the events stayed although their offsets were not saved: %+v", evs)
	}
	_, err = s.Import(ctx, []events.Event{foreign("e1", "stock-p", 1, 7)}, func(ctx context.Context, tx *sql.Tx) error {
		return events.SaveCheckpoint(ctx, tx, "kafka:t:0", 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if pos, err := s.DB().Checkpoint(ctx, "kafka:t:0"); err != nil || pos != 1 {
		t.Fatalf("checkpoint = %d, %v", pos, err)
	}
}

func TestCausedThroughUsesTheCausesOwnLog(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	// Written here in answer to an event of another log (at 500 there),
	// which is not in this log.
	e := ev("Reserved", 1)
	e.CausationID, e.CausePosition = "placed-elsewhere", 500
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "stock-p", Events: []events.Event{e}}); err != nil {
		t.Fatal(err)
	}
	// Then a command with no cause in any log.
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "stock-p", ExpectedVersion: 1, Events: []events.Event{{Type: "Added", Data: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.CausedThrough(ctx, "stock-p"); err != nil || got != 500 {
		t.Fatalf("CausedThrough = %d, %v; want 500 (the cause's position in its own log)", got, err)
	}
	// An event written before cause positions were recorded: its cause is
	// looked up in this log.
	cause, err := s.Append(ctx, events.StreamAppend{StreamID: "order-1", Events: []events.Event{ev("Placed", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	old := ev("Reserved", 2)
	old.CausationID = cause[0].ID
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "stock-q", Events: []events.Event{old}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.CausedThrough(ctx, "stock-q"); err != nil || got != cause[0].Position {
		t.Fatalf("CausedThrough(old) = %d, %v; want %d", got, err, cause[0].Position)
	}
}

func TestCommandWrittenFindsACommandsEvents(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if _, ok, err := s.CommandWritten(ctx, "cmd-1"); err != nil || ok {
		t.Fatalf("before: ok %v, err %v", ok, err)
	}
	e := ev("Added", 1)
	e.CausationID = "cmd-1"
	stored, err := s.Append(ctx, events.StreamAppend{StreamID: "stock-p", Events: []events.Event{e, e}})
	if err != nil {
		t.Fatal(err)
	}
	pos, ok, err := s.CommandWritten(ctx, "cmd-1")
	if err != nil || !ok || pos != stored[1].Position {
		t.Fatalf("CommandWritten = %d, %v, %v; want %d", pos, ok, err, stored[1].Position)
	}
	if id, err := s.IDAt(ctx, pos); err != nil || id != stored[1].ID {
		t.Fatalf("IDAt = %q, %v", id, err)
	}
	if got, ok, err := s.PositionOf(ctx, stored[0].ID); err != nil || !ok || got != stored[0].Position {
		t.Fatalf("PositionOf = %d, %v, %v", got, ok, err)
	}
}

// TestCountWrittenHere counts what this process wrote after a position,
// never what it imported from another process's log.
func TestCountWrittenHere(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	// Positions 1 and 3 written here, 2 and 4 imported.
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "order-1", Events: []events.Event{ev("A", 1)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, []events.Event{foreign("e1", "stock-p", 1, 40)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "order-2", Events: []events.Event{ev("A", 2)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, []events.Event{foreign("e2", "stock-p", 2, 41)}, nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		after, want int64
	}{{0, 2}, {1, 1}, {2, 1}, {3, 0}, {4, 0}} {
		got, err := s.DB().CountWrittenHere(ctx, tt.after)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("written here after %d = %d, want %d", tt.after, got, tt.want)
		}
	}
}

// TestImportAfterReopenFindsWhatTheLogHolds: with an empty in-memory tail
// (a process started again on its log), an event the log holds is found by
// its id and one at a version taken by another event is stale, as the
// unique keys of the table say; an earlier version that arrives after a
// later one fills its gap, and appends follow on from the highest.
func TestImportAfterReopenFindsWhatTheLogHolds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	open := func() *events.Store {
		db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return events.NewStore(db)
	}
	s := open()
	first, err := s.Import(ctx, []events.Event{foreign("e1", "stock-p", 1, 40), foreign("e3", "stock-p", 3, 42)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	got, err := s.Import(ctx, []events.Event{foreign("e1", "stock-p", 1, 40), foreign("zombie", "stock-p", 3, 99),
		foreign("e2", "stock-p", 2, 41)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].New || got[0].Stale || got[0].Position != first[0].Position {
		t.Errorf("e1 again = %+v, want found at %d", got[0], first[0].Position)
	}
	if !got[1].Stale || got[1].Held != "e3" || got[1].New {
		t.Errorf("zombie = %+v, want stale (the log holds e3 at version 3)", got[1])
	}
	if !got[2].New {
		t.Errorf("e2 = %+v, want new (it fills the gap at version 2)", got[2])
	}
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "stock-p", ExpectedVersion: 3, Events: []events.Event{ev("C", 1)}}); err != nil {
		t.Fatalf("append after import: %v", err)
	}
}
