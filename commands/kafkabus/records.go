package kafkabus

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"orderflow/commands"
	"orderflow/events"
)

// RelayCheckpoint names the cursor of the relay of earlier versions, which
// published what a process wrote in its own log: everything before it was
// published. A member of today's split writes its log only from committed
// Kafka transactions, and moves the cursor to its log's head as it starts
// (MarkPublished), so the next start counts only what came after.
const RelayCheckpoint = "kafka-relay"

// Unpublished counts the events this process wrote (not copied) after the
// relay's saved cursor: events an earlier version decided in its own log
// and may not have published (none in a log of today's split).
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

// outgoing is one record to publish.
type outgoing struct {
	topic, key string
	msg        *message.Message
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

// MarkPublished moves the relay's cursor to the log's head: a log with
// nothing unpublished (Unpublished) keeps nothing to publish, since today's
// split writes its log only from committed transactions.
func MarkPublished(ctx context.Context, db *events.DB) error {
	return db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return events.SaveCheckpoint(ctx, tx, RelayCheckpoint, db.Head())
	})
}
