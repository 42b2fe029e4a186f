package events_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"

	"orderflow/events"
)

// A log restored from snapshots knows each stream at its snapshot's version
// (appends and imports go on from there), keeps the newest snapshot of a
// stream, records where it goes on in the same transaction, and lists the
// streams it holds only as snapshots among a family's streams.
func TestRestoreSnapshots(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	err := s.RestoreSnapshots(ctx, []events.Snapshot{
		{StreamID: "stock-a", Version: 40, State: []byte(`{"onHand":4}`)},
		{StreamID: "stock-b", Version: 2, State: []byte(`{"onHand":2}`)},
	}, func(ctx context.Context, tx *sql.Tx) error { return events.SaveCheckpoint(ctx, tx, "kafka:t:0", 99) })
	if err != nil {
		t.Fatal(err)
	}
	// An older snapshot of a stream does not replace a newer one.
	if err := s.RestoreSnapshots(ctx, []events.Snapshot{{StreamID: "stock-a", Version: 30, State: []byte(`{"onHand":3}`)}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RestoreSnapshots(ctx, []events.Snapshot{{StreamID: "stock-c", Version: 0}}, nil); err == nil {
		t.Error("a snapshot at version 0 was restored")
	}
	sn, ok, err := s.Snapshot(ctx, "stock-a")
	if err != nil || !ok || sn.Version != 40 || string(sn.State) != `{"onHand":4}` {
		t.Fatalf("snapshot of stock-a: %+v %v %v", sn, ok, err)
	}
	if _, ok, err := s.Snapshot(ctx, "stock-z"); ok || err != nil {
		t.Fatalf("snapshot of a stream never restored: %v %v", ok, err)
	}
	if cp, err := s.DB().Checkpoint(ctx, "kafka:t:0"); err != nil || cp != 99 {
		t.Fatalf("checkpoint %d %v, want 99", cp, err)
	}
	tests := []struct {
		stream string
		want   int64
	}{{"stock-a", 40}, {"stock-b", 2}, {"stock-z", 0}}
	for _, tt := range tests {
		if v, err := s.Version(ctx, tt.stream); err != nil || v != tt.want {
			t.Errorf("version of %s: %d %v, want %d", tt.stream, v, err, tt.want)
		}
	}
	// The events after a snapshot are imported as they come; the stream's
	// version follows them.
	imp := events.Event{ID: "e41", StreamID: "stock-a", StreamVersion: 41, Type: "StockAdded", SchemaVersion: 1, Data: []byte(`{}`), SourcePosition: 7}
	if _, err := s.Import(ctx, []events.Event{imp}, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Version(ctx, "stock-a"); v != 41 {
		t.Errorf("version of stock-a after an import: %d, want 41", v)
	}
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "stock-d", ExpectedVersion: 0, Events: []events.Event{ev("StockAdded", 1)}}); err != nil {
		t.Fatal(err)
	}
	all, err := s.StreamsOf(ctx, "stock-", 0)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	if want := []string{"stock-a", "stock-b", "stock-d"}; !slices.Equal(all, want) {
		t.Errorf("streams of stock-: %v, want %v", all, want)
	}
	changed, err := s.StreamsOf(ctx, "stock-", 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"stock-d"}; !slices.Equal(changed, want) {
		t.Errorf("streams of stock- changed after position 1: %v, want %v", changed, want)
	}
}
