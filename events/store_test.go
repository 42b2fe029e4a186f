package events_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"orderflow/events"
	"orderflow/migrations"
)

func openStore(t *testing.T) (*events.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	db, err := events.Open(context.Background(), path, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return events.NewStore(db), path
}

func ev(typ string, n int) events.Event {
	data, _ := json.Marshal(map[string]int{"n": n})
	return events.Event{Type: typ, Data: data, CorrelationID: "corr", CausationID: "cause"}
}

func TestAppendAndReadStream(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	stored, err := s.Append(ctx, events.StreamAppend{StreamID: "order-1", ExpectedVersion: 0, Events: []events.Event{ev("A", 1), ev("B", 2)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0].StreamVersion != 1 || stored[1].StreamVersion != 2 || stored[1].Position != stored[0].Position+1 {
		t.Fatalf("stored = %+v", stored)
	}
	got, err := s.ReadStream(ctx, "order-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Type != "A" || got[1].Type != "B" || got[0].CorrelationID != "corr" || got[0].CausationID != "cause" ||
		got[0].ID == "" || got[0].SchemaVersion != 1 || got[0].OccurredAt.IsZero() || string(got[0].Data) != `{"n":1}` {
		t.Fatalf("read = %+v", got)
	}
	if after, _ := s.ReadStream(ctx, "order-1", 1); len(after) != 1 || after[0].Type != "B" {
		t.Fatalf("read after version 1 = %+v", after)
	}
	if none, _ := s.ReadStream(ctx, "order-unknown", 0); len(none) != 0 {
		t.Fatalf("unknown stream has events: %+v", none)
	}
}

func TestVersionConflict(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "x-1", ExpectedVersion: 0, Events: []events.Event{ev("A", 1)}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		expected int64
		wantErr  bool
	}{
		{"stale expectation", 0, true},
		{"future expectation", 5, true},
		{"current version", 1, false},
		{"any version", events.AnyVersion, false},
	}
	for _, tt := range tests {
		_, err := s.Append(ctx, events.StreamAppend{StreamID: "x-1", ExpectedVersion: tt.expected, Events: []events.Event{ev("B", 1)}})
		var conflict *events.VersionConflictError
		if got := errors.As(err, &conflict); got != tt.wantErr || (tt.wantErr && !errors.Is(err, events.ErrVersionConflict)) {
			t.Errorf("%s: err = %v, want conflict %v", tt.name, err, tt.wantErr)
		}
		if tt.wantErr && (conflict.StreamID != "x-1" || conflict.Expected != tt.expected) {
			t.Errorf("%s: conflict = %+v", tt.name, conflict)
		}
	}
}

func TestMultiStreamAppendIsAllOrNothing(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "stock-b", ExpectedVersion: 0, Events: []events.Event{ev("Added", 1)}}); err != nil {
		t.Fatal(err)
	}
	head := s.DB().Head()
	// stock-a is fine, stock-b's expectation is stale: nothing may be written.
	_, err := s.Append(ctx,
		events.StreamAppend{StreamID: "stock-a", ExpectedVersion: 0, Events: []events.Event{ev("Reserved", 1)}},
		events.StreamAppend{StreamID: "stock-b", ExpectedVersion: 0, Events: []events.Event{ev("Reserved", 1)}},
	)
	if !errors.Is(err, events.ErrVersionConflict) {
		t.Fatalf("err = %v, want conflict", err)
	}
	if a, _ := s.ReadStream(ctx, "stock-a", 0); len(a) != 0 {
		t.Fatalf("stock-a got %d events from a failed append", len(a))
	}
	if all, _ := s.ReadAll(ctx, 0, 100); len(all) != 1 || s.DB().Head() != head {
		t.Fatalf("log has %d events, head %d (was %d)", len(all), s.DB().Head(), head)
	}
	// With both expectations right, both streams get their event in one go.
	stored, err := s.Append(ctx,
		events.StreamAppend{StreamID: "stock-a", ExpectedVersion: 0, Events: []events.Event{ev("Reserved", 1)}},
		events.StreamAppend{StreamID: "stock-b", ExpectedVersion: 1, Events: []events.Event{ev("Reserved", 1)}},
	)
	if err != nil || len(stored) != 2 || stored[1].StreamVersion != 2 {
		t.Fatalf("stored %+v, err %v", stored, err)
	}
}

func TestConcurrentAppendsOfOneVersionOnlyOneWins(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	const writers = 20
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.Append(ctx, events.StreamAppend{StreamID: "order-race", ExpectedVersion: 0, Events: []events.Event{ev("Placed", i)}})
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, events.ErrVersionConflict):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	got, _ := s.ReadStream(ctx, "order-race", 0)
	if wins != 1 || len(got) != 1 {
		t.Fatalf("%d writers won, stream has %d events; want exactly 1", wins, len(got))
	}
}

func TestConcurrentAppendsToDistinctStreamsAllCommitWithoutGaps(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	const writers, each = 16, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := s.Append(ctx, events.StreamAppend{StreamID: fmt.Sprintf("s-%d", w), ExpectedVersion: int64(i), Events: []events.Event{ev("E", i)}})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var all []events.Event
	for pos := int64(0); ; {
		batch, err := s.ReadAll(ctx, pos, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 {
			break
		}
		all = append(all, batch...)
		pos = batch[len(batch)-1].Position
	}
	if len(all) != writers*each {
		t.Fatalf("read %d events, want %d", len(all), writers*each)
	}
	for i, e := range all {
		if e.Position != int64(i+1) {
			t.Fatalf("event %d has position %d: positions must be 1..n without gaps", i, e.Position)
		}
	}
}

func TestEventsCannotBeChangedOrDeleted(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "x-1", ExpectedVersion: 0, Events: []events.Event{ev("A", 1)}}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"UPDATE events SET data = '{}'", "DELETE FROM events"} {
		err := s.DB().Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, stmt)
			return err
		})
		if err == nil {
			t.Errorf("%s succeeded; the database must refuse it", stmt)
		}
	}
	if got, _ := s.ReadStream(ctx, "x-1", 0); len(got) != 1 || string(got[0].Data) != `{"n":1}` {
		t.Fatalf("event changed: %+v", got)
	}
}

func TestAFailingWriteDoesNotUndoOthersInTheSameBatch(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			expected := int64(0)
			if i%2 == 1 {
				expected = 3 // never right: a conflict
			}
			_, errs[i] = s.Append(ctx, events.StreamAppend{StreamID: fmt.Sprintf("g-%d", i), ExpectedVersion: expected, Events: []events.Event{ev("E", i)}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		got, _ := s.ReadStream(ctx, fmt.Sprintf("g-%d", i), 0)
		if i%2 == 0 && (err != nil || len(got) != 1) {
			t.Errorf("writer %d: err %v, %d events; want committed", i, err, len(got))
		}
		if i%2 == 1 && (!errors.Is(err, events.ErrVersionConflict) || len(got) != 0) {
			t.Errorf("writer %d: err %v, %d events; want conflict and nothing written", i, err, len(got))
		}
	}
}

func TestReopenKeepsEverythingAndTheHead(t *testing.T) {
	s, path := openStore(t)
	ctx := context.Background()
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "x-1", ExpectedVersion: 0, Events: []events.Event{ev("A", 1), ev("B", 2)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Close(); err != nil {
		t.Fatal(err)
	}
	db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Head() != 2 {
		t.Fatalf("head after reopen = %d, want 2", db.Head())
	}
	if _, err := events.NewStore(db).Append(ctx, events.StreamAppend{StreamID: "x-1", ExpectedVersion: 2, Events: []events.Event{ev("C", 3)}}); err != nil {
		t.Fatal(err)
	}
}

func TestASecondWriterOfTheSameFileIsRefused(t *testing.T) {
	_, path := openStore(t)
	_, err := events.Open(context.Background(), path, events.Options{Migrate: migrations.Apply})
	if !errors.Is(err, events.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
}

// TestALockTakenBeforeOpen: a lock taken before Open (TakeLock, as a
// process seeding its database does) refuses another writer from the
// start, is kept by the Open it is handed to, and is released by an Open
// that fails.
func TestALockTakenBeforeOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "of.db")
	lock, err := events.TakeLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.TakeLock(path); !errors.Is(err, events.ErrLocked) {
		t.Fatalf("a second TakeLock = %v, want ErrLocked", err)
	}
	if _, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply}); !errors.Is(err, events.ErrLocked) {
		t.Fatalf("Open without the lock = %v, want ErrLocked", err)
	}
	db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply, Lock: lock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.TakeLock(path); !errors.Is(err, events.ErrLocked) {
		t.Fatalf("TakeLock while the database is open = %v, want ErrLocked", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	lock, err = events.TakeLock(path)
	if err != nil {
		t.Fatalf("TakeLock after Close: %v", err)
	}
	if _, err := events.Open(ctx, path, events.Options{Durability: "sometimes", Lock: lock}); err == nil {
		t.Fatal("Open with durability sometimes succeeded")
	}
	again, err := events.TakeLock(path)
	if err != nil {
		t.Fatalf("TakeLock after a failed Open: %v, want the lock released", err)
	}
	again.Release()
}

// TestASecondWriterThroughASymlinkIsRefused: the lock is the database's,
// not its name's: the same file reached through a symlink of the file, of
// its directory, or through a symlink made before the file existed is
// refused as a second writer.
func TestASecondWriterThroughASymlinkIsRefused(t *testing.T) {
	open := func(path string) (*events.DB, error) {
		return events.Open(context.Background(), path, events.Options{Migrate: migrations.Apply})
	}
	for _, tt := range []struct {
		name string
		// paths returns the path the first writer opens and the one the
		// second tries, given an empty directory.
		paths func(t *testing.T, dir string) (first, second string)
	}{
		{"symlink to the file", func(t *testing.T, dir string) (string, string) {
			db := filepath.Join(dir, "real.db")
			link := filepath.Join(dir, "link.db")
			symlink(t, db, link)
			return db, link
		}},
		{"symlink to the directory", func(t *testing.T, dir string) (string, string) {
			real := filepath.Join(dir, "data")
			if err := os.Mkdir(real, 0o755); err != nil {
				t.Fatal(err)
			}
			symlink(t, real, filepath.Join(dir, "alias"))
			return filepath.Join(real, "o.db"), filepath.Join(dir, "alias", "o.db")
		}},
		{"relative symlink opened first, before the file exists", func(t *testing.T, dir string) (string, string) {
			link := filepath.Join(dir, "link.db")
			symlink(t, "real.db", link)
			return link, filepath.Join(dir, "real.db")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			first, second := tt.paths(t, t.TempDir())
			db, err := open(first)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if other, err := open(second); !errors.Is(err, events.ErrLocked) {
				if err == nil {
					other.Close()
				}
				t.Fatalf("second Open through %s = %v, want ErrLocked", second, err)
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("cannot make symlinks here: %v", err)
	}
}

func TestFirstOccurredAfter(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	first, second := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)
	a, b := ev("A", 1), ev("B", 2)
	a.OccurredAt, b.OccurredAt = first, second
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "t-1", ExpectedVersion: 0, Events: []events.Event{a, b}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		after  int64
		want   time.Time
		wantOK bool
	}{
		{"from the start", 0, first, true},
		{"after the first", 1, second, true},
		{"caught up", 2, time.Time{}, false},
		{"past the head", 9, time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok, err := s.FirstOccurredAfter(ctx, tt.after)
		if err != nil || ok != tt.wantOK || !got.Equal(tt.want) {
			t.Errorf("%s: FirstOccurredAfter(%d) = %v, %v, %v; want %v, %v", tt.name, tt.after, got, ok, err, tt.want, tt.wantOK)
		}
	}
}

// TestExpectedNewStreamThatExistsIsAConflict covers streams expected to be
// new that the writer does not know (after a reopen it has no cached
// versions): the unique index refuses them, as a conflict, leaving nothing
// of the append behind, alone or among several new streams.
func TestExpectedNewStreamThatExistsIsAConflict(t *testing.T) {
	ctx := context.Background()
	s, path := openStore(t)
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "order-1", Events: []events.Event{ev("Placed", 1)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Close(); err != nil {
		t.Fatal(err)
	}
	db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s = events.NewStore(db)

	_, err = s.Append(ctx, events.StreamAppend{StreamID: "order-1", Events: []events.Event{ev("Placed", 2)}})
	var conflict *events.VersionConflictError
	if !errors.As(err, &conflict) || conflict.Expected != 0 || conflict.Actual != 1 {
		t.Fatalf("alone: err = %v, want a conflict expecting 0, finding 1", err)
	}
	// Several new streams, the last one existing: the first is undone.
	_, err = s.Append(ctx,
		events.StreamAppend{StreamID: "check-1", Events: []events.Event{ev("Checked", 1)}},
		events.StreamAppend{StreamID: "check-2", Events: []events.Event{ev("Checked", 2)}},
		events.StreamAppend{StreamID: "order-1", Events: []events.Event{ev("Placed", 3)}},
	)
	if !errors.Is(err, events.ErrVersionConflict) {
		t.Fatalf("among several: err = %v, want a conflict", err)
	}
	if all, _ := s.ReadAll(ctx, 0, 100); len(all) != 1 || db.Head() != 1 {
		t.Fatalf("log has %d events, head %d; want only the first", len(all), db.Head())
	}
	// And the writer's idea of the versions was not spoiled by the undone writes.
	stored, err := s.Append(ctx,
		events.StreamAppend{StreamID: "check-1", Events: []events.Event{ev("Checked", 1)}},
		events.StreamAppend{StreamID: "check-2", Events: []events.Event{ev("Checked", 2)}},
	)
	if err != nil || len(stored) != 2 || stored[0].StreamVersion != 1 || stored[1].StreamVersion != 1 {
		t.Fatalf("stored %+v, err %v", stored, err)
	}
}

// TestReadStreamsReadsSeveralStreamsInOneQuery: each stream whole, in
// version order, the streams in the order of their ids; an unknown stream
// adds nothing.
func TestReadStreamsReadsSeveralStreamsInOneQuery(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if _, err := s.Append(ctx,
		events.StreamAppend{StreamID: "payment-1", Events: []events.Event{ev("P", 1)}},
		events.StreamAppend{StreamID: "order-1", Events: []events.Event{ev("A", 1), ev("B", 2)}},
		events.StreamAppend{StreamID: "order-2", Events: []events.Event{ev("C", 1)}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadStreams(ctx, "order-1", "payment-1", "notification-1")
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, e := range got {
		read = append(read, fmt.Sprintf("%s@%d", e.StreamID, e.StreamVersion))
	}
	if want := []string{"order-1@1", "order-1@2", "payment-1@1"}; !slices.Equal(read, want) {
		t.Errorf("read %v, want %v", read, want)
	}
}
