package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/events"
)

// Reread reads the topics of the given families from their beginning to
// their ends as they are when it is called, and imports into the log what
// it lacks. Import goes by event id, so what the log holds already (all of
// it, as the replica copies exactly once) is left as it is; it returns how
// many events it added. It saves no offsets: the replica and the consumer
// groups go on from where they were. A broker out of reach is waited for
// until ctx ends.
//
// A rebuild of the API's read models runs it first, so that they are
// rebuilt from what the topics hold, not only from the copy of them.
func Reread(ctx context.Context, store *events.Store, cluster Cluster, families []string, log *slog.Logger) (int64, error) {
	topics := make([]string, len(families))
	for i, f := range families {
		topics[i] = FamilyTopic(f)
	}
	cl, err := newClient(cluster, kgo.ConsumeTopics(topics...), readControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ends, err := retryUnavailable(ctx, log, func() (kadm.ListedOffsets, error) { return endOffsets(ctx, cl, topics...) })
	if err != nil {
		return 0, fmt.Errorf("kafka: re-reading the topics: %w", err)
	}
	left := map[string]map[int32]int64{} // topic → partition → its end, when records are left to read
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			if left[o.Topic] == nil {
				left[o.Topic] = map[int32]int64{}
			}
			left[o.Topic][o.Partition] = o.Offset
		}
	})
	var added int64
	for len(left) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return added, fmt.Errorf("kafka: re-reading the topics: %w", ctx.Err())
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				log.Warn("kafka: re-reading the topics: fetch failed, retrying", "topic", topic, "partition", p, "err", err)
			}
		})
		var evs []events.Event
		fetches.EachRecord(func(rec *kgo.Record) {
			end, ok := left[rec.Topic][rec.Partition]
			if !ok || rec.Offset >= end {
				return // past what the topic held at the start
			}
			if rec.Attrs.IsControl() {
				// the end of a transaction: counted, not read
			} else if e, err := decodeEvent(rec); err == nil {
				evs = append(evs, e)
			}
			if rec.Offset+1 >= end {
				delete(left[rec.Topic], rec.Partition)
				if len(left[rec.Topic]) == 0 {
					delete(left, rec.Topic)
				}
			}
		})
		imported, err := retryUnavailable(ctx, log, func() ([]events.Imported, error) { return importEvents(ctx, store, log, evs, nil) })
		if err != nil {
			return added, fmt.Errorf("kafka: re-reading the topics: import: %w", err)
		}
		for _, imp := range imported {
			if imp.New {
				added++
			}
		}
	}
	return added, nil
}
