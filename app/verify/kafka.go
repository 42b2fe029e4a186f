package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands"
	"orderflow/commands/kafkabus"
)

// Topics are the topics a split deployment's history is in: the family
// topic of every context that writes events (orderflow.orders,
// orderflow.inventory, …). Not the repartitioned copies of the order
// events (orderflow.orders-by-product, …), the command topics or the
// replies: every event is in its family's topic once (give or take a
// redelivery), and only there.
func Topics() []string {
	var out []string
	for _, c := range commands.Contexts() {
		if c != commands.ContextAPI {
			out = append(out, kafkabus.FamilyTopic(c))
		}
	}
	return out
}

// ReadKafka feeds c every event of the family topics (Topics), from each
// partition's beginning to its end as listed when it starts, and returns
// how many records it read. It reads committed records only (read_committed,
// to the last stable offset), partition by partition outside any consumer
// group, so it commits nothing and moves no group's offsets. A record that
// is not an event is handed to c as undecodable, with its topic, partition
// and offset; a topic that does not exist is an error (not an orderflow
// deployment, or not these brokers).
//
// The end offsets of the topics are listed at one moment, but a live
// deployment writes on meanwhile and the topics are not cut at one instant
// of its history: see the package comment.
func ReadKafka(ctx context.Context, cluster kafkabus.Cluster, c *Checker) (int64, error) {
	admin, err := kgo.NewClient(cluster.ClientOpts()...)
	if err != nil {
		return 0, fmt.Errorf("kafka client for %s: %w", cluster, err)
	}
	defer admin.Close()
	from, to, err := committedRange(ctx, kadm.NewClient(admin), Topics())
	if err != nil {
		return 0, err
	}
	if len(from) == 0 {
		return 0, nil
	}
	cl, err := kgo.NewClient(append(cluster.ClientOpts(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The markers that end transactions are delivered too, so the last
		// offset before a partition's end is always seen, even when it is
		// a marker (orderflow's relay writes none, but the topics may be
		// shared with a producer that does).
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(from),
	)...)
	if err != nil {
		return 0, fmt.Errorf("kafka client for %s: %w", cluster, err)
	}
	defer cl.Close()
	var records int64
	var batch []*kgo.Record
	for len(to) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return records, err
		}
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			fetchErr = errors.Join(fetchErr, fmt.Errorf("fetch %s partition %d: %w", topic, p, err))
		})
		if fetchErr != nil {
			return records, fetchErr
		}
		batch = batch[:0]
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			end, ok := to[fp.Topic][fp.Partition]
			if !ok {
				return // read to its end already
			}
			done := false
			for _, r := range fp.Records {
				if r.Offset >= end {
					done = true
					break
				}
				if !r.Attrs.IsControl() {
					batch = append(batch, r)
				}
				done = r.Offset+1 >= end
			}
			if done {
				delete(to[fp.Topic], fp.Partition)
				if len(to[fp.Topic]) == 0 {
					delete(to, fp.Topic)
				}
				cl.PauseFetchPartitions(map[string][]int32{fp.Topic: {fp.Partition}})
			}
		})
		records += int64(len(batch))
		for i, d := range decodeRecords(batch, c.reg) {
			if d.recordErr != nil {
				r := batch[i]
				c.AddUndecodable(fmt.Sprintf("%s partition %d offset %d", r.Topic, r.Partition, r.Offset), d.recordErr)
				continue
			}
			c.add(d.event, d.payload, d.payloadErr)
		}
	}
	return records, nil
}

// committedRange lists, for every partition of the topics that holds
// committed records, where to start reading and the end offset to read
// to: the last stable offset, what a read_committed consumer can reach.
func committedRange(ctx context.Context, adm *kadm.Client, topics []string) (map[string]map[int32]kgo.Offset, map[string]map[int32]int64, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("list the end offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("list the start offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	from := map[string]map[int32]kgo.Offset{}
	to := map[string]map[int32]int64{}
	var missing []string
	for _, t := range topics {
		if len(ends[t]) == 0 {
			missing = append(missing, t)
			continue
		}
		for p, end := range ends[t] {
			if errors.Is(end.Err, kerr.UnknownTopicOrPartition) {
				missing = append(missing, t)
				break
			}
			start, ok := starts.Lookup(t, p)
			if err := errors.Join(end.Err, start.Err); err != nil || !ok {
				return nil, nil, fmt.Errorf("offsets of %s partition %d: %w", t, p, cmp0(err, errors.New("no start offset listed")))
			}
			if end.Offset <= start.Offset {
				continue // empty
			}
			if from[t] == nil {
				from[t], to[t] = map[int32]kgo.Offset{}, map[int32]int64{}
			}
			from[t][p] = kgo.NewOffset().At(start.Offset)
			to[t][p] = end.Offset
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("topic(s) %s do not exist: these brokers hold no orderflow deployment (the services create every topic when they start)",
			strings.Join(missing, ", "))
	}
	return from, to, nil
}

// cmp0 is err, or def when err is nil.
func cmp0(err, def error) error {
	if err != nil {
		return err
	}
	return def
}
