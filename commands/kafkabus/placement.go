package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands"
)

// CheckPlacement refuses topics whose records are not where this version
// places their keys (partitionOf): topics written by a version before the
// Java client's partitioner (FNV-1a), or by a producer with another
// partitioner. A member that takes partition n over catches up on
// partition n of its own topic only, so such a topic would hide the history
// of keys from it, silently. It reads the first record of every partition
// of the family and re-keyed topics that holds any (one fetch at a start),
// and names each topic that breaks the rule, a key, and the fix.
//
// A topic is read once in its life: one that passed, or was empty (this
// version writes it from then on), is recorded on PlacementTopic, and later
// starts pass it by (reading the first batches of a long history costs
// seconds, and a new member must be ready fast).
func CheckPlacement(ctx context.Context, cluster Cluster) error {
	adm, err := newClient(cluster)
	if err != nil {
		return err
	}
	defer adm.Close()
	checked, err := checkedPlacements(ctx, adm)
	if err != nil {
		return fmt.Errorf("check where the topics' keys are: %w", err)
	}
	var topics []string
	for _, c := range commands.Declared() {
		if c.Streams != "" && !checked[FamilyTopic(c.Name)] {
			topics = append(topics, FamilyTopic(c.Name))
		}
	}
	for _, r := range repartitions {
		if !checked[r.Topic] {
			topics = append(topics, r.Topic)
		}
	}
	if len(topics) == 0 {
		return nil
	}
	starts, err := listOffsets(ctx, topics, "start offsets", kadm.NewClient(adm).ListStartOffsets)
	if err != nil {
		return fmt.Errorf("check where the topics' keys are: %w", err)
	}
	ends, err := highWatermarks(ctx, adm, topics...)
	if err != nil {
		return fmt.Errorf("check where the topics' keys are: %w", err)
	}
	counts := map[string]int{}
	left := map[string]map[int32]int64{} // topic → partition → its end, while unread
	from := map[string]map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		counts[o.Topic]++
		s, ok := starts.Lookup(o.Topic, o.Partition)
		if !ok || s.Offset >= o.Offset {
			return
		}
		if left[o.Topic] == nil {
			left[o.Topic], from[o.Topic] = map[int32]int64{}, map[int32]kgo.Offset{}
		}
		left[o.Topic][o.Partition] = o.Offset
		from[o.Topic][o.Partition] = kgo.NewOffset().At(s.Offset)
	})
	if len(left) == 0 {
		return recordChecked(ctx, adm, topics)
	}
	// Uncommitted records too: an aborted transaction's were placed by
	// the same partitioner. Control records are read to pass them.
	// Only the first record of each partition is needed: fetches of a few
	// batches per partition, not a megabyte of each (a long history is not
	// read at every start).
	cl, err := newClient(cluster, kgo.ConsumePartitions(from), kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.KeepControlRecords(), kgo.FetchMaxWait(250*time.Millisecond), kgo.FetchMaxPartitionBytes(256<<10), kgo.FetchMaxBytes(8<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	misplaced := map[string]error{}
	done := func(topic string, p int32) {
		delete(left[topic], p)
		if len(left[topic]) == 0 {
			delete(left, topic)
		}
	}
	reading, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for len(left) > 0 {
		fetches := cl.PollFetches(reading)
		if reading.Err() != nil {
			return fmt.Errorf("check where the topics' keys are: reading the first records of %d topics: %w", len(left), reading.Err())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Topic][r.Partition]
			if !ok {
				return
			}
			if r.Attrs.IsControl() || r.Key == nil {
				if r.Offset+1 >= end {
					done(r.Topic, r.Partition)
				}
				return
			}
			if want := partitionOf(r.Key, counts[r.Topic]); want != int(r.Partition) && misplaced[r.Topic] == nil {
				misplaced[r.Topic] = fmt.Errorf("topic %s holds key %q on partition %d, where this version does not put it "+
					"(it puts it on %d, as the Java client's partitioner does): the topic was written by a version before "+
					"the Java partitioner, or by a producer with another partitioner; move its records first "+
					"(README: Upgrading topics written before the Java partitioner)", r.Topic, r.Key, r.Partition, want)
			}
			done(r.Topic, r.Partition)
		})
	}
	var errs []error
	for _, t := range topics {
		if err := misplaced[t]; err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return recordChecked(ctx, adm, topics)
}

// recordChecked records topics as placed the way this version places keys:
// those read, and those empty, which this version writes from now on.
func recordChecked(ctx context.Context, cl *kgo.Client, topics []string) error {
	recs := make([]*kgo.Record, len(topics))
	for i, t := range topics {
		recs[i] = &kgo.Record{Topic: PlacementTopic, Key: []byte(t), Value: []byte(placementChecked)}
	}
	if err := deliver(ctx, cl, recs...); err != nil {
		return fmt.Errorf("check where the topics' keys are: record the topics checked: %w", err)
	}
	return nil
}

// PlacementTopic records, keyed by topic, the topics CheckPlacement found
// placed as this version places keys; compacted.
const PlacementTopic = prefix + "placement"

const placementChecked = "murmur2"

// checkedPlacements are the topics recorded on PlacementTopic.
func checkedPlacements(ctx context.Context, cl *kgo.Client) (map[string]bool, error) {
	ends, err := heldEnds(ctx, cl, PlacementTopic)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	reading, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = readToEnds(reading, cl.Opts(), PlacementTopic, ends, func(r *kgo.Record) {
		if string(r.Value) == placementChecked {
			out[string(r.Key)] = true
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", PlacementTopic, err)
	}
	return out, nil
}

// heldEnds are the ends of the partitions of topic that hold records:
// what readToEnds reads a compacted topic up to.
func heldEnds(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	listed, err := highWatermarks(ctx, cl, topic)
	if err != nil {
		return nil, err
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			ends[o.Partition] = o.Offset
		}
	})
	return ends, nil
}

// readToEnds reads partitions of a topic from their beginning up to the
// given offsets (the ends listed before), handing each record below them
// to each, control records passed by. It returns once every partition was
// read to its end, with ctx's error when ctx ends first, or with the
// fetch errors of a poll.
func readToEnds(ctx context.Context, opts []kgo.Opt, topic string, ends map[int32]int64, each func(*kgo.Record)) error {
	if len(ends) == 0 {
		return nil
	}
	left := maps.Clone(ends)
	from := map[int32]kgo.Offset{}
	for p := range left {
		from[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(slices.Clone(opts), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}), readControlRecords())...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for len(left) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				ferr = errors.Join(ferr, fmt.Errorf("%s[%d]: %w", t, p, err))
			}
		})
		if ferr != nil {
			return ferr
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			end, ok := left[rec.Partition]
			if !ok {
				return
			}
			if !rec.Attrs.IsControl() && rec.Offset < end {
				each(rec)
			}
			if rec.Offset+1 >= end {
				delete(left, rec.Partition)
			}
		})
	}
	return nil
}
