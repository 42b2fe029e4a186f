package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
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
type Relay struct {
	store     *Store
	publisher message.Publisher
	batch     int
	log       *slog.Logger
}

// NewRelay returns a relay publishing the store's events with publisher.
func NewRelay(store *Store, publisher message.Publisher, log *slog.Logger) *Relay {
	return &Relay{store: store, publisher: publisher, batch: 256, log: log}
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
		for _, e := range evs {
			if err := r.publish(ctx, e); err != nil {
				break // only cancellation stops publishing
			}
			pos = e.Position
		}
		// The checkpoint is saved even when ctx ended meanwhile: the events
		// up to pos were delivered.
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

// publish retries a failing publish with backoff until it succeeds or ctx ends.
func (r *Relay) publish(ctx context.Context, e Event) error {
	wait := 10 * time.Millisecond
	for {
		err := r.publisher.Publish(Topic(e.StreamID), ToMessage(e))
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
