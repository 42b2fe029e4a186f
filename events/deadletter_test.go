package events_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"orderflow/events"
)

// TestResolveDeadLetters: a reader that handled everything again resolves
// its own open dead letters, but not those of events nobody could decode,
// nor another reader's.
func TestResolveDeadLetters(t *testing.T) {
	s, _ := openStore(t)
	db := s.DB()
	ctx := context.Background()
	letters := []struct {
		reader, event, cause string
		wantState            string
	}{
		{"projection orders", "e1", "orders: apply OrderPlaced at 1: constraint failed", events.DeadLetterRetried},
		{"projection orders", "e2", "decode Nope at 2: decode event 2: unknown type \"Nope\"", events.DeadLetterOpen},
		{"projection stock", "e1", "stock: apply OrderPlaced at 1: constraint failed", events.DeadLetterOpen},
	}
	err := db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for i, l := range letters {
			e := events.Event{ID: l.event, Position: int64(i + 1), Type: "OrderPlaced"}
			if err := events.RecordDeadLetter(ctx, tx, l.reader, e, "", 1, errors.New(l.cause)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	err = db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return events.ResolveDeadLetters(ctx, tx, "projection orders", at)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.DeadLetters(ctx, false, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(letters) {
		t.Fatalf("%d dead letters, want %d", len(got), len(letters))
	}
	for _, l := range got {
		want := letters[l.ID-1]
		if l.State != want.wantState {
			t.Errorf("%s's dead letter of %s is %s, want %s", l.Reader, l.EventID, l.State, want.wantState)
		}
		if resolved := l.RetriedAt != nil && l.RetriedAt.Equal(at); resolved != (want.wantState == events.DeadLetterRetried) {
			t.Errorf("%s's dead letter of %s retried at %v, want %v only when resolved", l.Reader, l.EventID, l.RetriedAt, at)
		}
	}
}
