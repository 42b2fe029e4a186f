package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// RelayCheckpoint is the checkpoint name of the relay.
const RelayCheckpoint = "relay"

// Relay publishes committed events to the bus: the log is the outbox. It
// tails the store from its checkpoint in position order and moves the
// checkpoint only after the bus accepted the events, so publishing is
// at-least-once: after a crash it publishes again from the checkpoint, and
// consumers are idempotent. Nothing is published that was not committed.
//
// Events are spread over partitions by stream id. Each partition of a batch
// is published by its own lane, in log order, so one stream's events stay in
// order while different streams' events are handled in parallel. The
// checkpoint moves past a batch only when every lane has delivered its part.
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

// Run publishes until ctx ends. It returns nil on cancellation; the
// publish in progress is finished first, so a graceful stop loses nothing.
func (r *Relay) Run(ctx context.Context) error {
	db := r.store.db
	pos, err := db.Checkpoint(ctx, RelayCheckpoint)
	if err != nil {
		return err
	}
	for {
		evs, err := r.store.ReadAll(ctx, pos, r.batch)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(evs) == 0 {
			if _, err := db.WaitBeyond(ctx, pos); err != nil {
				return nil
			}
			continue
		}
		if !r.publishBatch(ctx, evs) {
			return nil // cancelled: the batch is published again after a restart
		}
		pos = evs[len(evs)-1].Position
		save := func(tx *sql.Tx) error { return SaveCheckpoint(context.Background(), tx, RelayCheckpoint, pos) }
		if err := db.Write(context.Background(), save); err != nil {
			if errors.Is(err, ErrClosed) {
				return nil
			}
			return fmt.Errorf("relay: %w", err)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// publishBatch delivers a batch over its partitions' lanes and reports
// whether every event was delivered (false only when ctx ended).
func (r *Relay) publishBatch(ctx context.Context, evs []Event) bool {
	lanes := make([][]Event, r.partitions)
	for _, e := range evs {
		p := Partition(e.StreamID, r.partitions)
		lanes[p] = append(lanes[p], e)
	}
	var wg sync.WaitGroup
	var failed atomic.Bool
	for p, lane := range lanes {
		if len(lane) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := func(e Event) string { return PartitionTopic(Family(e.StreamID), p) }
			for _, e := range lane {
				if err := r.publish(ctx, topic(e), e); err != nil {
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return !failed.Load()
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
