package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"orderflow/events"
)

// keyed is the payload of the consumer tests: the key it is routed by and
// its number within that key.
type keyed struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

func (keyed) EventType() string { return "Keyed" }

type other struct{}

func (other) EventType() string { return "Other" }

// laneLog is a BatchHandler that records what each key received, checks
// one key is only ever handled by one lane, and fails one chosen attempt.
type laneLog struct {
	mu      sync.Mutex
	byKey   map[string][]int
	laneOf  map[string]int
	batches int
	failAt  int // the attempt that fails (1-based); 0 = none
	errs    []string
}

func (r *laneLog) lane(i int) events.BatchHandler { return laneLogger{r, i} }

type laneLogger struct {
	r    *laneLog
	lane int
}

func (l laneLogger) HandleBatch(_ context.Context, batch []events.Delivery) (int, error) {
	r := l.r
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches++
	if r.batches == r.failAt {
		return 0, errors.New("a passing failure")
	}
	for _, d := range batch {
		k := d.Payload.(keyed)
		if lane, ok := r.laneOf[k.Key]; ok && lane != l.lane {
			r.errs = append(r.errs, fmt.Sprintf("key %s handled by lanes %d and %d", k.Key, lane, l.lane))
		}
		r.laneOf[k.Key] = l.lane
		r.byKey[k.Key] = append(r.byKey[k.Key], k.N)
	}
	return 0, nil
}

func keyedSpec(name string, r *laneLog) events.ConsumerSpec {
	return events.ConsumerSpec{
		Name:  name,
		Types: []string{"Keyed"},
		Route: func(_ events.Event, p events.Payload) []events.Routed {
			return []events.Routed{{Key: p.(keyed).Key}}
		},
		NewLane: func(lane int, _ int64) events.BatchHandler { return r.lane(lane) },
	}
}

func appendKeyed(t *testing.T, s *events.Store, keys, perKey, from int) {
	t.Helper()
	for n := from; n < from+perKey; n++ {
		for k := range keys {
			data, _ := json.Marshal(keyed{Key: fmt.Sprintf("k%d", k), N: n})
			noise, _ := json.Marshal(other{})
			if _, err := s.Append(context.Background(), events.StreamAppend{StreamID: fmt.Sprintf("s-%d", k), ExpectedVersion: events.AnyVersion,
				Events: []events.Event{{Type: "Keyed", Data: data}, {Type: "Other", Data: noise}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// runUntil runs a consumer until it has handled the log up to the head.
func runUntil(t *testing.T, s *events.Store, spec events.ConsumerSpec) events.ConsumerStats {
	t.Helper()
	reg := events.NewRegistry(events.Registration{Payload: keyed{}}, events.Registration{Payload: other{}})
	c := events.NewConsumer(s, reg, spec, events.ConsumerOptions{Lanes: 4, MaxBatch: 7})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Position < s.DB().Head() {
		if time.Now().After(deadline) {
			t.Fatalf("consumer at %d, head %d", c.Stats().Position, s.DB().Head())
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return c.Stats()
}

// TestConsumerDeliversEachKeyInOrderToOneLane checks the consumer's
// guarantees: only its types, every event once when nothing fails, each
// key in log order and always on the same lane, a failed batch delivered
// again, and a restart resuming after what was handled.
func TestConsumerDeliversEachKeyInOrderToOneLane(t *testing.T) {
	s, _ := openStore(t)
	const keys, perKey = 10, 30
	appendKeyed(t, s, keys, perKey, 0)

	r := &laneLog{byKey: map[string][]int{}, laneOf: map[string]int{}, failAt: 3}
	stats := runUntil(t, s, keyedSpec("test", r))
	if len(r.errs) > 0 {
		t.Fatal(r.errs)
	}
	if stats.Handled != keys*perKey || stats.Retries != 1 {
		t.Errorf("handled %d with %d retries, want %d with 1", stats.Handled, stats.Retries, keys*perKey)
	}
	for k := range keys {
		got := r.byKey[fmt.Sprintf("k%d", k)]
		if len(got) != perKey {
			t.Fatalf("key k%d got %d deliveries, want %d", k, len(got), perKey)
		}
		for i, n := range got {
			if n != i {
				t.Fatalf("key k%d got %v, want 0..%d in order", k, got, perKey-1)
			}
		}
	}

	// A restart resumes from the checkpoint: only what came after.
	appendKeyed(t, s, keys, 2, perKey)
	again := &laneLog{byKey: map[string][]int{}, laneOf: map[string]int{}}
	stats = runUntil(t, s, keyedSpec("test", again))
	if stats.Handled != keys*2 {
		t.Errorf("after the restart handled %d, want %d", stats.Handled, keys*2)
	}
	for k := range keys {
		if got := again.byKey[fmt.Sprintf("k%d", k)]; len(got) != 2 || got[0] != perKey || got[1] != perKey+1 {
			t.Errorf("after the restart key k%d got %v, want [%d %d]", k, got, perKey, perKey+1)
		}
	}
	// Another consumer has its own cursor and reads from the start.
	fresh := &laneLog{byKey: map[string][]int{}, laneOf: map[string]int{}}
	if stats := runUntil(t, s, keyedSpec("another", fresh)); stats.Handled != keys*(perKey+2) {
		t.Errorf("another consumer handled %d, want %d", stats.Handled, keys*(perKey+2))
	}
}

// flaky is a BatchHandler whose deliveries of one key fail until healed,
// by error or by panic, and that can fail everything with a database error
// for a while.
type flaky struct {
	mu      sync.Mutex
	poison  string
	panics  bool
	healed  bool
	busy    int // attempts still to fail as if the database were busy or the broker away
	handled map[string]int
	retried int
}

func (f *flaky) HandleBatch(_ context.Context, batch []events.Delivery) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy > 0 {
		f.busy--
		if f.busy%2 == 0 {
			return 0, fmt.Errorf("catch up: %w", events.MarkUnavailable(errors.New("dial tcp: connection refused")))
		}
		return 0, fmt.Errorf("append: %w", sqlite3.Error{Code: sqlite3.ErrBusy})
	}
	for _, d := range batch {
		if d.Key == f.poison && !f.healed {
			if f.panics {
				panic("cannot handle " + d.Key)
			}
			return 0, errors.New("cannot handle " + d.Key)
		}
	}
	for _, d := range batch {
		f.handled[d.Key]++
		if d.Retry {
			f.retried++
		}
	}
	return 0, nil
}

// TestConsumerSetsAsideWhatKeepsFailing checks dead letters: a delivery that
// keeps failing (an error or a panic) is recorded and skipped after its
// attempts while every other delivery, of the same batch too, is handled;
// a database that is busy or a broker that is away for a while (more
// attempts than MaxAttempts) is waited out, never buried; and a
// retry after the cause is fixed handles the delivery and closes the
// dead letter.
func TestConsumerSetsAsideWhatKeepsFailing(t *testing.T) {
	for _, panics := range []bool{false, true} {
		t.Run(fmt.Sprintf("panics=%v", panics), func(t *testing.T) {
			s, _ := openStore(t)
			appendKeyed(t, s, 5, 4, 0)
			f := &flaky{poison: "k3", panics: panics, busy: 8, handled: map[string]int{}}
			reg := events.NewRegistry(events.Registration{Payload: keyed{}}, events.Registration{Payload: other{}})
			spec := events.ConsumerSpec{
				Name: "flaky", Types: []string{"Keyed"},
				Route:   func(_ events.Event, p events.Payload) []events.Routed { return []events.Routed{{Key: p.(keyed).Key}} },
				NewLane: func(int, int64) events.BatchHandler { return f },
			}
			c := events.NewConsumer(s, reg, spec, events.ConsumerOptions{Lanes: 1, MaxAttempts: 3})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			deadline := time.Now().Add(20 * time.Second)
			for c.Stats().Position < s.DB().Head() {
				if time.Now().After(deadline) {
					t.Fatalf("stuck at %d of %d", c.Stats().Position, s.DB().Head())
				}
				time.Sleep(5 * time.Millisecond)
			}
			f.mu.Lock()
			for k := range 5 {
				key := fmt.Sprintf("k%d", k)
				want := 4
				if key == "k3" {
					want = 0
				}
				if f.handled[key] != want {
					t.Errorf("%s handled %d times, want %d", key, f.handled[key], want)
				}
			}
			f.mu.Unlock()
			letters, err := s.DB().DeadLetters(ctx, true, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(letters) != 4 || c.Stats().DeadLetters != 4 {
				t.Fatalf("dead letters %+v (stats %d), want the 4 deliveries of k3", letters, c.Stats().DeadLetters)
			}
			for _, l := range letters {
				if l.Reader != "flaky" || l.Key != "k3" || l.EventType != "Keyed" || l.Attempts != 3 || l.State != events.DeadLetterOpen {
					t.Errorf("dead letter %+v", l)
				}
			}

			// Still broken: the retry fails and the letter stays open.
			if err := c.Retry(ctx, letters[0].ID); err == nil {
				t.Fatal("a retry of a delivery that still fails succeeded")
			}
			f.mu.Lock()
			f.healed = true
			f.mu.Unlock()
			for _, l := range letters {
				if err := c.Retry(ctx, l.ID); err != nil {
					t.Fatalf("retry %d: %v", l.ID, err)
				}
			}
			if open, _ := s.DB().DeadLetters(ctx, true, 100); len(open) != 0 {
				t.Errorf("open dead letters after the retries: %+v", open)
			}
			f.mu.Lock()
			if f.handled["k3"] != 4 || f.retried != 4 {
				t.Errorf("k3 handled %d times (%d retries), want 4", f.handled["k3"], f.retried)
			}
			f.mu.Unlock()
			if err := c.Retry(ctx, letters[0].ID); err == nil {
				t.Error("a dead letter was retried twice")
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestFedConsumerAcksOnceHandled checks the consumer fed from outside (a
// Kafka consumer group): only the kept keys are delivered, in the order
// handed over, and each event is acknowledged once all its deliveries
// were handled (at once when none is kept).
func TestFedConsumerAcksOnceHandled(t *testing.T) {
	s, _ := openStore(t)
	appendKeyed(t, s, 3, 5, 0)
	r := &laneLog{byKey: map[string][]int{}, laneOf: map[string]int{}}
	reg := events.NewRegistry(events.Registration{Payload: keyed{}}, events.Registration{Payload: other{}})
	c := events.NewConsumer(s, reg, keyedSpec("fed", r), events.ConsumerOptions{Lanes: 2, MaxBatch: 3})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.RunFed(ctx) }()

	evs, err := s.ReadAll(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var acked sync.WaitGroup
	acks := map[int64]int{}
	var mu sync.Mutex
	keep := func(key string) bool { return key != "k2" }
	for _, e := range evs {
		acked.Add(1)
		if !c.Deliver(ctx, e, keep, nil, func() {
			mu.Lock()
			acks[e.Position]++
			mu.Unlock()
			acked.Done()
		}) {
			t.Fatal("Deliver refused before the end")
		}
	}
	acked.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if acks[e.Position] != 1 {
			t.Errorf("event %d acknowledged %d times", e.Position, acks[e.Position])
		}
	}
	want := []int{0, 1, 2, 3, 4}
	for _, k := range []string{"k0", "k1"} {
		if fmt.Sprint(r.byKey[k]) != fmt.Sprint(want) {
			t.Errorf("key %s got %v, want %v", k, r.byKey[k], want)
		}
	}
	if len(r.byKey["k2"]) != 0 || len(r.errs) > 0 {
		t.Errorf("k2 (not kept) got %v; errors %v", r.byKey["k2"], r.errs)
	}
}

// TestUnavailable checks which failures are a dependency's (retried for as
// long as they last) rather than the event's.
func TestUnavailable(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:9092: connect: connection refused")
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("bad payload"), false},
		{"database busy", fmt.Errorf("append: %w", sqlite3.Error{Code: sqlite3.ErrBusy}), true},
		{"disk full", sqlite3.Error{Code: sqlite3.ErrFull}, true},
		{"constraint", sqlite3.Error{Code: sqlite3.ErrConstraint}, false},
		{"broker marked", events.MarkUnavailable(refused), true},
		{"broker marked, wrapped", fmt.Errorf("customer check: %w", events.MarkUnavailable(refused)), true},
		{"broker unmarked", refused, false},
		{"mark of nil", events.MarkUnavailable(nil), false},
	} {
		if got := events.Unavailable(c.err); got != c.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
	if err := events.MarkUnavailable(refused); err.Error() != refused.Error() || !errors.Is(err, refused) {
		t.Errorf("a marked error reads %q and unwraps to the cause: %v", err, errors.Is(err, refused))
	}
}
