package kafkabus

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"orderflow/commands"
	"orderflow/events"
)

// RelayCheckpoint names the relay's cursor in the local log.
const RelayCheckpoint = "kafka-relay"

// Unpublished counts the events this process wrote (not copied) after the
// relay's saved cursor: none after a clean stop, usually some after a
// crash (the cursor is saved every 50 ms; what it passed was acknowledged).
func Unpublished(ctx context.Context, db *events.DB) (int64, error) {
	after, err := db.Checkpoint(ctx, RelayCheckpoint)
	if err != nil {
		return 0, err
	}
	n, err := db.CountWrittenHere(ctx, after)
	if err != nil {
		return 0, fmt.Errorf("kafka relay: events not yet published: %w", err)
	}
	return n, nil
}

// Relay publishes the events written in this process to Kafka: the log is
// the outbox. Guarantees, before the mechanism:
//   - Nothing is published that was not committed here, and events copied
//     from other processes are never published again.
//   - Every event is published at least once, across crashes: the cursor
//     moves only past events Kafka acknowledged (acks from all in-sync
//     replicas). Readers import by event id, so a repeat is harmless.
//   - One stream's events are published in order (one key, one partition,
//     one publisher at a time).
//   - An event of a table family (catalog, customers) is acknowledged
//     before any later event is published, so a reader that sees an order
//     finds the customer and the products it refers to by catching up on
//     their topics.
//
// It reads a batch of the log, hands all of it to the publisher at once
// (which packs it into a few produce requests and keeps each partition's
// records in order) and moves on once all of it was acknowledged.
type Relay struct {
	store     *events.Store
	reg       *events.Registry
	publisher message.Publisher
	log       *slog.Logger
	published atomic.Int64

	mu sync.Mutex
	// moved is closed (and replaced) whenever published moves, so that
	// WaitPublished does not poll.
	moved chan struct{}
}

// NewRelay returns a relay of store's events through publisher.
func NewRelay(store *events.Store, reg *events.Registry, publisher message.Publisher, log *slog.Logger) *Relay {
	return &Relay{store: store, reg: reg, publisher: publisher, log: log, moved: make(chan struct{})}
}

// Published is the position of this log up to which every event written
// here is acknowledged by Kafka.
func (r *Relay) Published() int64 { return r.published.Load() }

// WaitPublished returns once everything up to pos is published, or ctx's
// error.
func (r *Relay) WaitPublished(ctx context.Context, pos int64) error {
	for {
		r.mu.Lock()
		moved := r.moved
		r.mu.Unlock()
		if r.published.Load() >= pos {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the relay to publish up to %d (at %d): %w", pos, r.published.Load(), ctx.Err())
		case <-moved:
		}
	}
}

// publishedUpTo moves the relay's published position and wakes those
// waiting for it.
func (r *Relay) publishedUpTo(pos int64) {
	r.published.Store(pos)
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.moved)
	r.moved = make(chan struct{})
}

// outgoing is one record to publish.
type outgoing struct {
	topic, key string
	msg        *message.Message
}

// Run publishes until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	db := r.store.DB()
	pos, err := db.Checkpoint(ctx, RelayCheckpoint)
	if err != nil {
		return err
	}
	r.publishedUpTo(pos)
	saved := pos
	lastSave := time.Now()
	save := func() {
		if pos == saved {
			return
		}
		at := pos
		err := db.Write(context.Background(), func(tx *sql.Tx) error {
			return events.SaveCheckpoint(context.Background(), tx, RelayCheckpoint, at)
		})
		if err != nil {
			if !errors.Is(err, events.ErrClosed) {
				r.log.Warn("kafka relay: could not save its cursor", "err", err)
			}
			return
		}
		saved, lastSave = at, time.Now()
	}
	defer save()
	for {
		if ctx.Err() != nil {
			return nil
		}
		evs, err := r.store.ReadAll(ctx, pos, 512)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, events.ErrClosed) {
				return nil
			}
			r.log.Warn("kafka relay: reading the log failed, retrying", "after", pos, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		if len(evs) == 0 {
			if time.Since(lastSave) > 50*time.Millisecond {
				save()
			}
			wait, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			_, err := db.WaitBeyond(wait, pos)
			cancel()
			if ctx.Err() != nil || errors.Is(err, events.ErrClosed) {
				return nil
			}
			continue
		}
		if own := slices.ContainsFunc(evs, func(e events.Event) bool { return !e.Imported() }); own {
			// Durable before visible: what goes out survives a crash of
			// this machine, so no other process ever holds an event this
			// log could lose.
			if err := db.Sync(ctx); err != nil {
				if ctx.Err() != nil || errors.Is(err, events.ErrClosed) {
					return nil
				}
				r.log.Warn("kafka relay: could not make the log durable before publishing, retrying", "err", err)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
		}
		var segment []outgoing
		for _, e := range evs {
			out, table, err := r.records(e)
			if err != nil {
				return err
			}
			segment = append(segment, out...)
			if table {
				if !r.publishAll(ctx, segment) {
					return nil
				}
				segment = segment[:0]
			}
		}
		if !r.publishAll(ctx, segment) {
			return nil
		}
		pos = evs[len(evs)-1].Position
		r.publishedUpTo(pos)
		if time.Since(lastSave) > 50*time.Millisecond {
			save()
		}
	}
}

// records are what an event becomes in Kafka, and whether it belongs to a
// table family (its publication is a barrier). An event copied from
// another process is not published again.
func (r *Relay) records(e events.Event) ([]outgoing, bool, error) {
	if e.Imported() {
		return nil, false, nil
	}
	return recordsOf(e, func(e events.Event) (events.Payload, error) { return r.store.Decode(r.reg, e) }, r.log)
}

// recordsOf is what an event becomes in Kafka: a record on its family's
// topic keyed by its stream's key, and one on each repartition of its
// family per key the repartition gives it, each a CloudEvent in binary
// mode (see wire.go); and whether it belongs to a table family. decode is asked for the payload only when a repartition
// needs it.
func recordsOf(e events.Event, decode func(events.Event) (events.Payload, error), log *slog.Logger) ([]outgoing, bool, error) {
	family := commands.StreamContext(e.StreamID)
	if family == "" {
		log.Warn("kafka: an event of a stream of no known family is not published", "stream", e.StreamID, "position", e.Position)
		return nil, false, nil
	}
	key := commands.StreamKey(e.StreamID)
	msg := func() *message.Message { return eventMessage(e) }
	out := []outgoing{{topic: FamilyTopic(family), key: key, msg: msg()}}
	var p events.Payload
	var err error
	for _, rp := range repartitions {
		if !slices.Contains(rp.Families, family) {
			continue
		}
		if p == nil {
			if p, err = decode(e); err != nil {
				// Published on its family's topic all the same: a binary
				// that knows the type can read it there.
				log.Error("kafka: an event this binary cannot decode is not repartitioned", "event", e.ID, "type", e.Type, "err", err)
				break
			}
		}
		for _, k := range rp.Keys(p) {
			out = append(out, outgoing{topic: rp.Topic, key: k, msg: msg()})
		}
	}
	return out, commands.Lookup(family).Table, nil
}

// publishAll publishes records, all at once (one Publish per topic, in
// parallel), each key's in order, retrying until all were acknowledged;
// false when ctx ended first.
func (r *Relay) publishAll(ctx context.Context, recs []outgoing) bool {
	if len(recs) == 0 {
		return true
	}
	byTopic := map[string][]outgoing{}
	for _, rec := range recs {
		byTopic[rec.topic] = append(byTopic[rec.topic], rec)
	}
	var wg sync.WaitGroup
	var stopped atomic.Bool
	for _, q := range byTopic {
		wg.Go(func() {
			if !publish(ctx, r.publisher, r.log, q...) {
				stopped.Store(true)
			}
		})
	}
	wg.Wait()
	return !stopped.Load()
}

// publish sends records of one topic until Kafka acknowledged all of
// them; false when ctx ended first. A retry sends them all again: a record
// acknowledged before is then written twice, after its first copy, which
// readers import once (by event id).
func publish(ctx context.Context, pub message.Publisher, log *slog.Logger, recs ...outgoing) bool {
	if len(recs) == 0 {
		return true
	}
	msgs := make([]*message.Message, len(recs))
	for i, rec := range recs {
		rec.msg.Metadata.Set(keyMetadata, rec.key)
		rec.msg.SetContext(ctx)
		msgs[i] = rec.msg
	}
	wait := 50 * time.Millisecond
	for {
		err := pub.Publish(recs[0].topic, msgs...)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		log.Warn("kafka: publish failed, retrying", "topic", recs[0].topic, "records", len(recs), "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
