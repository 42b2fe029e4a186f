package events_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"orderflow/events"
)

// recorder is a Publisher that records what it was given and can be told
// to fail some publishes or to block until released.
type recorder struct {
	mu       sync.Mutex
	got      []events.Event
	failures int // how many publishes still fail before one succeeds
	gate     chan struct{}
}

func (r *recorder) Publish(topic string, msgs ...*message.Message) error {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return errors.New("broker unavailable")
	}
	for _, m := range msgs {
		e, err := events.FromMessage(m)
		if err != nil {
			return err
		}
		if want := events.PartitionTopic(events.Family(e.StreamID), events.Partition(e.StreamID, 4)); topic != want {
			return fmt.Errorf("event of %s published to %s, want %s", e.StreamID, topic, want)
		}
		r.got = append(r.got, e)
	}
	return nil
}

func (r *recorder) Close() error { return nil }

func (r *recorder) events() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.got...)
}

func appendMany(t *testing.T, s *events.Store, streams, each int) {
	t.Helper()
	for v := range each {
		for i := range streams {
			_, err := s.Append(context.Background(), events.StreamAppend{StreamID: fmt.Sprintf("order-%d", i), ExpectedVersion: int64(v), Events: []events.Event{ev("E", v)}})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// runRelay starts a relay; stop cancels it, runs between (if any) while it
// stops, and waits for it.
func runRelay(t *testing.T, s *events.Store, pub message.Publisher) (stop func(between func())) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	relay := events.NewRelay(s, pub, 4, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go func() { done <- relay.Run(ctx) }()
	return func(between func()) {
		cancel()
		if between != nil {
			between()
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkStreamOrder fails unless each stream's events come in version order.
func checkStreamOrder(t *testing.T, got []events.Event) {
	t.Helper()
	last := map[string]int64{}
	for _, e := range got {
		if e.StreamVersion <= last[e.StreamID] && e.StreamVersion != 1 {
			t.Fatalf("%s: version %d published after %d", e.StreamID, e.StreamVersion, last[e.StreamID])
		}
		last[e.StreamID] = e.StreamVersion
	}
}

// TestRelayPublishesEverythingInStreamOrderAndCheckpoints: events stored
// before the relay starts and events appended by concurrent writers while it
// tails are all published, each position once: none is skipped however the
// appends interleave with the relay's reads.
func TestRelayPublishesEverythingInStreamOrderAndCheckpoints(t *testing.T) {
	s, _ := openStore(t)
	appendMany(t, s, 10, 10)
	pub := &recorder{failures: 3} // the first publishes fail: they are retried
	stop := runRelay(t, s, pub)
	// While it tails: writers appending to streams of their own and to
	// shared ones, interleaving with its reads.
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				stream := fmt.Sprintf("order-w%d", w)
				if i%5 == 0 {
					stream = fmt.Sprintf("order-%d", i%10)
				}
				if _, err := s.Append(context.Background(), events.StreamAppend{
					StreamID: stream, ExpectedVersion: events.AnyVersion, Events: []events.Event{ev("E", i)},
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	const total = 100 + writers*each
	waitFor(t, "all events", func() bool { return len(pub.events()) >= total })
	waitFor(t, "the checkpoint", func() bool {
		pos, _ := s.DB().Checkpoint(context.Background(), events.RelayCheckpoint)
		return pos == s.DB().Head()
	})
	stop(nil)
	got := pub.events()
	if len(got) != total {
		t.Fatalf("published %d events, want exactly %d", len(got), total)
	}
	seen := make(map[int64]bool, total)
	for _, e := range got {
		if seen[e.Position] {
			t.Fatalf("position %d published twice", e.Position)
		}
		seen[e.Position] = true
	}
	for pos := int64(1); pos <= total; pos++ {
		if !seen[pos] {
			t.Fatalf("position %d was never published", pos)
		}
	}
	checkStreamOrder(t, got)
}

func TestRelayResumesFromItsCheckpointWithoutLosingEvents(t *testing.T) {
	s, _ := openStore(t)
	appendMany(t, s, 8, 10)
	gate := make(chan struct{})
	first := &recorder{gate: gate}
	stop := runRelay(t, s, first)
	for range 30 { // let 30 publishes through, then stop mid-way
		gate <- struct{}{}
	}
	// Stop while lanes wait in Publish; then let those publishes finish.
	stop(func() { close(gate) })
	delivered := len(first.events())
	checkpoint, err := s.DB().Checkpoint(context.Background(), events.RelayCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	if checkpoint > int64(delivered) {
		t.Fatalf("checkpoint %d is past what was delivered (%d events)", checkpoint, delivered)
	}

	second := &recorder{}
	stop = runRelay(t, s, second)
	waitFor(t, "the rest", func() bool {
		seen := map[string]bool{}
		for _, e := range append(first.events(), second.events()...) {
			seen[e.ID] = true
		}
		return len(seen) == 80
	})
	stop(nil)
	checkStreamOrder(t, second.events())
	for _, e := range second.events() {
		if e.Position <= checkpoint {
			t.Fatalf("event %d published again although the checkpoint was %d", e.Position, checkpoint)
		}
	}
}
