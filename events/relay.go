package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// RelayCheckpoint is the checkpoint name of the relay.
const RelayCheckpoint = "relay"

// Relay publishes committed events to the bus: the log is the outbox. It
// tails the store from its checkpoint in position order and moves the
// checkpoint only past events the bus accepted, so publishing is
// at-least-once: after a crash it publishes again from the checkpoint, and
// consumers are idempotent. Nothing is published that was not committed.
//
// Events are spread over partitions by stream id, and each partition has
// its own lane that publishes its events in log order: one stream's events
// stay in order while different streams' events are handled in parallel,
// and a slow event holds up only its own partition. The checkpoint is the
// last position below which every lane has delivered everything.
type Relay struct {
	store      *Store
	publisher  message.Publisher
	partitions int
	batch      int
	log        *slog.Logger
}

// NewRelay returns a relay publishing the store's events with publisher
// over the given number of partitions.
func NewRelay(store *Store, publisher message.Publisher, partitions int, log *slog.Logger) *Relay {
	return &Relay{store: store, publisher: publisher, partitions: max(partitions, 1), batch: 512, log: log}
}

// lane publishes one partition's events in order.
type lane struct {
	events chan Event
	mu     sync.Mutex
	queued []int64 // positions handed to the lane and not yet delivered, in order
}

// oldest is the position of the lane's oldest undelivered event, if any.
func (l *lane) oldest() (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queued) == 0 {
		return 0, false
	}
	return l.queued[0], true
}

// checkpointEvery is how often the relay records its progress.
const checkpointEvery = 50 * time.Millisecond

// Run publishes until ctx ends. It returns nil on cancellation after each
// lane finished the publish it was in, and records how far it got.
func (r *Relay) Run(ctx context.Context) error {
	db := r.store.db
	pos, err := db.Checkpoint(ctx, RelayCheckpoint)
	if err != nil {
		return err
	}
	lanes := make([]*lane, r.partitions)
	var wg sync.WaitGroup
	for p := range lanes {
		l := &lane{events: make(chan Event, r.batch)}
		lanes[p] = l
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runLane(ctx, p, l)
		}()
	}
	dispatched, saved := pos, pos
	save := func() error {
		safe := dispatched
		for _, l := range lanes {
			if oldest, ok := l.oldest(); ok {
				safe = min(safe, oldest-1)
			}
		}
		if safe <= saved {
			return nil
		}
		err := db.Write(context.Background(), func(tx *sql.Tx) error {
			return SaveCheckpoint(context.Background(), tx, RelayCheckpoint, safe)
		})
		if err == nil {
			saved = safe
		}
		return err
	}
	stop := func() error {
		for _, l := range lanes {
			close(l.events)
		}
		wg.Wait()
		// The lanes stopped after their current publish; what they still
		// held stays behind the checkpoint and is published after a restart.
		if err := save(); err != nil && !errors.Is(err, ErrClosed) {
			return fmt.Errorf("relay: %w", err)
		}
		return nil
	}
	lastSave := time.Now()
	for {
		if time.Since(lastSave) >= checkpointEvery {
			if err := save(); err != nil {
				if errors.Is(err, ErrClosed) {
					return stop()
				}
				r.log.Warn("relay: could not save checkpoint", "err", err)
			}
			lastSave = time.Now()
		}
		evs, err := r.store.ReadAll(ctx, dispatched, r.batch)
		if err != nil {
			if ctx.Err() != nil {
				return stop()
			}
			return errors.Join(err, stop())
		}
		if len(evs) == 0 {
			wait, cancel := context.WithTimeout(ctx, checkpointEvery)
			_, err := db.WaitBeyond(wait, dispatched)
			cancel()
			if ctx.Err() != nil || errors.Is(err, ErrClosed) {
				return stop()
			}
			continue
		}
		for _, e := range evs {
			l := lanes[Partition(e.StreamID, r.partitions)]
			l.mu.Lock()
			l.queued = append(l.queued, e.Position)
			l.mu.Unlock()
			select {
			case l.events <- e:
				dispatched = e.Position
			case <-ctx.Done():
				// e stays queued: it was not delivered.
				return stop()
			}
		}
	}
}

// runLane delivers one partition's events in order until its channel is
// closed or ctx ends.
func (r *Relay) runLane(ctx context.Context, partition int, l *lane) {
	for e := range l.events {
		if ctx.Err() != nil {
			return
		}
		if err := r.publish(ctx, PartitionTopic(Family(e.StreamID), partition), e); err != nil {
			return
		}
		l.mu.Lock()
		l.queued = l.queued[1:]
		l.mu.Unlock()
	}
}

// publish retries a failing publish with backoff until it succeeds or ctx ends.
func (r *Relay) publish(ctx context.Context, topic string, e Event) error {
	wait := 10 * time.Millisecond
	for {
		err := r.publisher.Publish(topic, ToMessage(e))
		if err == nil {
			return nil
		}
		r.log.Warn("relay: publish failed, retrying", "position", e.Position, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait = min(2*wait, 2*time.Second)
	}
}
