package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"orderflow/migrations"
)

func openTestDB(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func testEvent(n int) Event {
	data, _ := json.Marshal(map[string]int{"n": n})
	return Event{Type: "E", Data: data}
}

// holdWriter occupies the writer with a write that blocks until release is
// called, so that everything submitted meanwhile queues up and is committed
// as one batch afterwards.
func holdWriter(t *testing.T, d *DB) (release func()) {
	t.Helper()
	started, gate := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- d.Write(context.Background(), func(context.Context, *sql.Tx) error {
			close(started)
			<-gate
			return nil
		})
	}()
	<-started
	return func() {
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("the holding write failed: %v", err)
		}
	}
}

// waitQueued waits until n requests wait in the writer's queue.
func waitQueued(t *testing.T, d *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(d.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", len(d.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// cancelledOnceLooked is a caller's context that is cancelled right after
// the writer first looks at it: the caller went away while its append was
// being written, inside the batch it shares with others.
type cancelledOnceLooked struct {
	context.Context
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelledOnceLooked) Err() error {
	err := c.Context.Err()
	c.once.Do(c.cancel)
	return err
}

func TestACancelledCallerDropsOnlyItsOwnAppend(t *testing.T) {
	d := openTestDB(t)
	s := NewStore(d)
	release := holdWriter(t, d)

	const n = 20
	type result struct {
		stream string
		err    error
	}
	results := make(chan result, n+2)
	appendTo := func(ctx context.Context, stream string, evs ...Event) {
		_, err := s.Append(ctx, StreamAppend{StreamID: stream, Events: evs})
		results <- result{stream, err}
	}
	for i := range n {
		go appendTo(context.Background(), fmt.Sprintf("ok-%d", i), testEvent(i))
	}
	queued, cancelQueued := context.WithCancel(context.Background())
	go appendTo(queued, "gone-while-queued", testEvent(0))
	base, cancelWriting := context.WithCancel(context.Background())
	defer cancelWriting()
	go appendTo(&cancelledOnceLooked{Context: base, cancel: cancelWriting}, "gone-while-written", testEvent(1), testEvent(2))
	waitQueued(t, d, n+2)
	cancelQueued()
	release()

	got := map[string]error{}
	for range n + 2 {
		r := <-results
		got[r.stream] = r.err
	}
	for i := range n {
		if err := got[fmt.Sprintf("ok-%d", i)]; err != nil {
			t.Errorf("ok-%d: %v; another caller's cancellation must not fail it", i, err)
		}
	}
	if err := got["gone-while-queued"]; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while queued: err = %v, want context.Canceled (dropped before it ran)", err)
	}
	// Once its statements ran inside the shared transaction, the caller's
	// cancellation no longer interrupts them: it commits with the rest.
	if err := got["gone-while-written"]; err != nil {
		t.Errorf("cancelled while written: err = %v, want committed", err)
	}
	wantEvents := map[string]int{"gone-while-queued": 0, "gone-while-written": 2, "ok-0": 1, fmt.Sprintf("ok-%d", n-1): 1}
	for stream, want := range wantEvents {
		evs, err := s.ReadStream(context.Background(), stream, 0)
		if err != nil || len(evs) != want {
			t.Errorf("%s: %d events (err %v), want %d", stream, len(evs), err, want)
		}
	}
}

func TestAWriteFailedAbortsTheWholeBatch(t *testing.T) {
	d := openTestDB(t)
	s := NewStore(d)
	ctx := context.Background()
	first, err := s.Append(ctx, StreamAppend{StreamID: "dup", Events: []Event{testEvent(0)}})
	if err != nil {
		t.Fatal(err)
	}
	head := d.Head()
	release := holdWriter(t, d)

	const n = 10
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Append(ctx, StreamAppend{StreamID: fmt.Sprintf("b-%d", i), Events: []Event{testEvent(i)}})
			errs <- err
		}()
	}
	// Its first event is written, its second repeats an event id: the insert
	// fails after this append changed the transaction, with no savepoint to
	// undo it alone (a writeFailed).
	reused := testEvent(2)
	reused.ID = first[0].ID
	failed := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, StreamAppend{StreamID: "dup", ExpectedVersion: 1, Events: []Event{testEvent(1), reused}})
		failed <- err
	}()
	waitQueued(t, d, n+1)
	release()

	var wf *writeFailed
	if err := <-failed; !errors.As(err, &wf) {
		t.Errorf("failing append: err = %v, want a writeFailed", err)
	}
	for range n {
		if err := <-errs; err == nil {
			t.Error("an append in the aborted batch was told it committed")
		}
	}
	if d.Head() != head {
		t.Errorf("head moved from %d to %d: an aborted batch must commit nothing", head, d.Head())
	}
	all, err := s.ReadAll(ctx, 0, 100)
	if err != nil || len(all) != 1 {
		t.Fatalf("store holds %d events (err %v), want only the first one", len(all), err)
	}
	// Nothing of the aborted batch is left in what the writer believes the
	// streams' versions are: the same appends succeed now.
	if _, err := s.Append(ctx, StreamAppend{StreamID: "dup", ExpectedVersion: 1, Events: []Event{testEvent(1)}}); err != nil {
		t.Errorf("append after the abort: %v", err)
	}
	if _, err := s.Append(ctx, StreamAppend{StreamID: "b-0", Events: []Event{testEvent(0)}}); err != nil {
		t.Errorf("append after the abort: %v", err)
	}
}

func TestAFailingWriteInASavepointIsUndoneAlone(t *testing.T) {
	d := openTestDB(t)
	s := NewStore(d)
	ctx := context.Background()
	if _, err := s.Append(ctx, StreamAppend{StreamID: "taken", Events: []Event{testEvent(0)}}); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, d)

	const n = 10
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Append(ctx, StreamAppend{StreamID: fmt.Sprintf("b-%d", i), Events: []Event{testEvent(i)}})
			errs <- err
		}()
	}
	// Two new streams run in a savepoint: "fresh" is written first, then
	// "taken" turns out to exist.
	appendFailed := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx,
			StreamAppend{StreamID: "taken", Events: []Event{testEvent(1)}},
			StreamAppend{StreamID: "fresh", Events: []Event{testEvent(1)}})
		appendFailed <- err
	}()
	// A plain write that changes a row and then fails.
	writeFailed := make(chan error, 1)
	go func() {
		writeFailed <- d.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if err := SaveCheckpoint(ctx, tx, "undone", 7); err != nil {
				return err
			}
			return errors.New("refused after writing")
		})
	}()
	waitQueued(t, d, n+2)
	release()

	if err := <-appendFailed; !errors.Is(err, ErrVersionConflict) {
		t.Errorf("append to an existing new stream: err = %v, want a version conflict", err)
	}
	if err := <-writeFailed; err == nil || err.Error() != "refused after writing" {
		t.Errorf("failing write: err = %v, want its own error", err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("an append sharing the batch failed: %v", err)
		}
	}
	if evs, _ := s.ReadStream(ctx, "fresh", 0); len(evs) != 0 {
		t.Errorf("fresh holds %d events: the failed append's savepoint must undo it", len(evs))
	}
	if pos, _ := d.Checkpoint(ctx, "undone"); pos != 0 {
		t.Errorf("checkpoint of the failed write is %d: its savepoint must undo it", pos)
	}
	if all, _ := s.ReadAll(ctx, 0, 100); len(all) != n+1 {
		t.Errorf("store holds %d events, want %d", len(all), n+1)
	}
}

// WriterStats counts the committed transactions and the writes they
// carried: writes queued behind a busy writer share one commit, and a
// write that failed (rolled back to its savepoint) is not counted.
func TestWriterStatsCountCommitsAndTheirWrites(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	c0, w0 := d.WriterStats() // opening may have written (migrations)
	if err := d.Write(ctx, func(context.Context, *sql.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, d)
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			err := d.Write(ctx, func(context.Context, *sql.Tx) error {
				if i == 4 {
					return errors.New("refused")
				}
				return nil
			})
			if (err != nil) != (i == 4) {
				t.Errorf("write %d: %v", i, err)
			}
		})
	}
	waitQueued(t, d, 5)
	release()
	wg.Wait()
	c, w := d.WriterStats()
	// The lone write, the holding write, then the four good queued writes
	// in one transaction.
	if c-c0 != 3 || w-w0 != 6 {
		t.Errorf("commits %d, writes %d; want 3 and 6", c-c0, w-w0)
	}
}

// WriterBusy counts the time the writer spends in transactions: a write
// that holds it for a while adds at least that long, and the writer is
// never busier than the time that passed. (The writer counts a
// transaction once it answered its writes, so the test waits for it.)
func TestWriterBusyCountsTheTimeInTransactions(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	b0, start := d.WriterBusy(), time.Now()
	const hold = 50 * time.Millisecond
	if err := d.Write(ctx, func(context.Context, *sql.Tx) error {
		time.Sleep(hold)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); d.WriterBusy()-b0 < hold && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	elapsed, busy := time.Since(start), d.WriterBusy()-b0
	if busy < hold || busy > elapsed {
		t.Errorf("writer busy %s for a write that held it %s, in %s", busy, hold, elapsed)
	}
}
