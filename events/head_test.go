package events_test

import (
	"context"
	"database/sql"
	"testing"

	"orderflow/events"
)

// TestHeadOf reads where the log ends through a connection of its own, as
// a backup does on its copy: 0 while empty, then the last position.
func TestHeadOf(t *testing.T) {
	s, path := openStore(t)
	ctx := context.Background()
	conn, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, step := range []struct{ append, want int64 }{{0, 0}, {1, 1}, {3, 4}} {
		for i := range step.append {
			if _, err := s.Append(ctx, events.StreamAppend{StreamID: "order-1", ExpectedVersion: events.AnyVersion,
				Events: []events.Event{ev("A", int(i))}}); err != nil {
				t.Fatal(err)
			}
		}
		head, err := events.HeadOf(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if head != step.want || head != s.DB().Head() {
			t.Fatalf("HeadOf = %d, want %d (the store's head is %d)", head, step.want, s.DB().Head())
		}
	}
}
