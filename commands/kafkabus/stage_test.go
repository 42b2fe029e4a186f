package kafkabus

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"orderflow/events"
	"orderflow/migrations"
)

func newStageStore(t *testing.T) *events.Store {
	t.Helper()
	db, err := events.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return events.NewStore(db)
}

func stockEvent(kind string) events.Event {
	return events.Event{Type: kind, Data: []byte(`{}`)}
}

// TestStage: a stage checks expected versions against the log and what it
// holds, shows what it holds as pending, gives it up whole, and never
// writes to the log itself.
func TestStage(t *testing.T) {
	ctx := context.Background()
	store := newStageStore(t)
	if _, err := store.Append(ctx, events.StreamAppend{StreamID: "stock-kettle", ExpectedVersion: 0,
		Events: []events.Event{stockEvent("StockAdded")}}); err != nil {
		t.Fatal(err)
	}
	s := NewStage("inventory", store)

	tests := []struct {
		name     string
		stream   string
		expected int64
		n        int
		wantErr  error
		wantVers []int64
	}{
		{"follows the log", "stock-kettle", 1, 2, nil, []int64{2, 3}},
		{"follows what it holds", "stock-kettle", 3, 1, nil, []int64{4}},
		{"stale expectation conflicts", "stock-kettle", 1, 1, events.ErrVersionConflict, nil},
		{"a new stream", "stock-mug", 0, 1, nil, []int64{1}},
		{"a new stream that exists conflicts", "stock-mug", 0, 1, events.ErrVersionConflict, nil},
		{"any version", "stock-mug", events.AnyVersion, 1, nil, []int64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := make([]events.Event, tt.n)
			for i := range evs {
				evs[i] = stockEvent("StockReserved")
			}
			got, err := s.Append(ctx, events.StreamAppend{StreamID: tt.stream, ExpectedVersion: tt.expected, Events: evs})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Append error %v, want %v", err, tt.wantErr)
			}
			for i, e := range got {
				if e.StreamVersion != tt.wantVers[i] || e.ID == "" || e.Position != 0 || !e.Imported() {
					t.Errorf("event %d: version %d, id %q, position %d, origin %d; want version %d, an id, no position, an origin",
						i, e.StreamVersion, e.ID, e.Position, e.SourcePosition, tt.wantVers[i])
				}
			}
		})
	}

	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "fraud-ada", ExpectedVersion: 0,
		Events: []events.Event{stockEvent("FraudCheckPassed")}}); err == nil {
		t.Error("the inventory stage took an event of the fraud context")
	}

	if p := s.Pending("stock-kettle", 2); len(p) != 2 || p[0].StreamVersion != 3 || p[1].StreamVersion != 4 {
		t.Errorf("Pending(stock-kettle, after 2) = %v, want versions 3 and 4", p)
	}
	staged := s.take()
	var origins []int64
	for _, e := range staged {
		origins = append(origins, e.SourcePosition)
	}
	for i := 1; i < len(origins); i++ {
		if origins[i] <= origins[i-1] {
			t.Errorf("origins %v do not grow", origins)
		}
	}
	if len(staged) != 5 || len(s.take()) != 0 || len(s.Pending("stock-kettle", 0)) != 0 {
		t.Errorf("take gave %d events (want 5) and did not empty the stage", len(staged))
	}
	if v, err := store.Version(ctx, "stock-kettle"); err != nil || v != 1 {
		t.Errorf("the log holds stock-kettle at version %d (%v), want 1: a stage never writes the log", v, err)
	}
}

// TestStageRemembersWhatItCommitted: once a transaction committed, the
// stage checks the next append to its streams against the versions it
// published (without asking the log); after Forget it asks the log again,
// so a version another member wrote meanwhile conflicts.
func TestStageRemembersWhatItCommitted(t *testing.T) {
	ctx := context.Background()
	store := newStageStore(t)
	s := NewStage("inventory", store)
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "stock-kettle", ExpectedVersion: 0,
		Events: []events.Event{stockEvent("StockAdded"), stockEvent("StockReserved")}}); err != nil {
		t.Fatal(err)
	}
	published := s.take()
	if _, err := store.Import(ctx, published, nil); err != nil {
		t.Fatal(err)
	}
	s.Committed(published)
	// Another member took the partition and wrote version 3 to the topic;
	// this log got it from its copy.
	other := events.Event{ID: events.NewID(), StreamID: "stock-kettle", StreamVersion: 3, Type: "StockReserved", Data: []byte(`{}`), SourcePosition: 1}
	if _, err := store.Import(ctx, []events.Event{other}, nil); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name     string
		forget   bool
		expected int64
		wantErr  error
	}{
		{"remembered: follows what it committed", false, 2, nil},
		{"forgotten: the log says 3", true, 2, events.ErrVersionConflict},
		{"forgotten: follows the log", true, 3, nil},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			s.take()
			if tt.forget {
				s.Forget()
			}
			_, err := s.Append(ctx, events.StreamAppend{StreamID: "stock-kettle", ExpectedVersion: tt.expected,
				Events: []events.Event{stockEvent("StockReserved")}})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Append at %d: %v, want %v", tt.expected, err, tt.wantErr)
			}
		})
	}
}
