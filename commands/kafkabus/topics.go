// Package kafkabus carries orderflow over Kafka when it is split into
// services: every process publishes the events its contexts write to one
// topic per family (the relay), keeps a local copy of the families it reads
// (the replica), feeds each of its reactions from a consumer group named
// after its context (the feed), sends commands for contexts that run
// elsewhere as messages, waiting for their reply (the command bus), and
// shares the customers' keys on a compacted topic (the keys).
//
// The log of each process stays the SQLite event store: Kafka carries what
// was committed there, and what a process reads from Kafka is imported into
// its own log before anything acts on it, so history, projections and
// replay work the same in one process and in many.
package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands"
	"orderflow/commands/kafkabus/copartition"
	"orderflow/events"
)

// Topic names. Every family of streams has its own topic keyed by the
// stream's key (so one stream's events keep their order in one partition);
// order events are also repartitioned by product for inventory, the
// talk's "re-key by product id" step; each context has a command topic
// keyed like its streams, and all replies share one topic.
const prefix = "orderflow."

// FamilyTopic is the topic of the events of a context's streams.
func FamilyTopic(context string) string { return prefix + context }

// A repartition re-keys a family's events by what a reaction writes, so
// that one member of its group owns each key and sees its events in the
// order they were written: the talk's "re-key by product id".
type repartition struct {
	Topic    string
	Families []string // whose events it carries
	Context  string   // whose reaction reads it
	Keys     func(events.Payload) []string
}

// repartitions are the re-keyed topics, one per reaction that declares one
// (commands.Reaction.Rekey): order events by the product of each line (one
// record per product of the order) for inventory, placements by customer
// for fraud, and the validation results by order for the order process.
var repartitions = func() []repartition {
	var out []repartition
	for _, c := range commands.Declared() {
		if r := c.Reaction; r != nil && r.Rekey != nil {
			out = append(out, repartition{Topic: prefix + r.Rekey.Topic, Families: r.Rekey.Families, Context: c.Name, Keys: r.Keys})
		}
	}
	return out
}()

// ReactionTopic is the topic a context's reaction reads the events of a
// family from, and whether it is re-keyed (then the reaction takes from a
// record only the key it was published under).
func ReactionTopic(context, family string) (string, bool) {
	for _, r := range repartitions {
		if r.Context == context && slices.Contains(r.Families, family) {
			return r.Topic, true
		}
	}
	return FamilyTopic(family), false
}

// CommandTopic carries the commands for a context, keyed by the key of
// the stream they are about.
func CommandTopic(context string) string { return prefix + context + ".commands" }

// RepliesTopic carries the answers to commands, keyed by command id.
const RepliesTopic = prefix + "replies"

// GroupName is the consumer group of a context.
func GroupName(context string) string { return prefix + context }

// AllTopics lists every topic orderflow uses.
func AllTopics() []string {
	var out []string
	for _, c := range commands.Declared() {
		if c.Streams != "" {
			out = append(out, FamilyTopic(c.Name), CommandTopic(c.Name))
		}
	}
	for _, r := range repartitions {
		out = append(out, r.Topic)
	}
	return append(out, RepliesTopic)
}

// EnsureTopics creates the topics that are missing, with the given number
// of partitions and unlimited retention: the topics are the log of record
// between services, as in the talk, and a service that starts from nothing
// rebuilds its copy from their beginning. A topic that exists with another
// number of partitions is an error, since keys would not be co-partitioned.
func EnsureTopics(ctx context.Context, cl *kgo.Client, partitions int) error {
	adm := kadm.NewClient(cl)
	topics := AllTopics()
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var missing []string
	for _, t := range topics {
		d, ok := details[t]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			missing = append(missing, t)
			continue
		}
		if d.Err != nil {
			return fmt.Errorf("topic %s: %w", t, d.Err)
		}
		if n := len(d.Partitions); n != partitions {
			return fmt.Errorf("topic %s has %d partitions, not %d (--kafka-partitions): every orderflow topic must have the same number, so that one key lands in the same partition of each", t, n, partitions)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	retention := "-1"
	resp, err := adm.CreateTopics(ctx, int32(partitions), -1, map[string]*string{"retention.ms": &retention}, missing...)
	if err != nil {
		return fmt.Errorf("create topics %s: %w", strings.Join(missing, ", "), err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// baseOpts are the options of every client: the brokers, retries for as
// long as the context allows, and reading only what transactions committed
// (a decision of a member whose transaction was aborted, a member fenced
// after it lost its partitions, is never read).
func baseOpts(brokers []string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.RetryTimeout(0),
		kgo.RetryBackoffFn(func(int) time.Duration { return 250 * time.Millisecond }),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	}
}

// copartitionedBalancer assigns the partitions of a group's topics so that
// partition n of every topic belongs to the same member (the commands for
// a product reach the member that reserves it), cooperatively: a join or a
// leave moves only the partitions that change hands.
func copartitionedBalancer() kgo.GroupBalancer { return copartition.Balancer() }

// newClient is a franz-go client of the brokers with the given options.
func newClient(brokers []string, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append(baseOpts(brokers), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %s: %w", strings.Join(brokers, ","), err)
	}
	return cl, nil
}

// endOffsets lists the end offsets of the topics' partitions as a reader
// at read_committed sees them (the last stable offsets): everything
// committed when it was called lies below them, and a transaction still
// open does not hold a reader back. Its error, the broker out of reach or
// a partition it could not list, is marked events.Unavailable: retried for
// as long as it lasts where that applies.
//
// A reader that compares its position with them must count the control
// records (the markers that end transactions) it passes: see
// readControlRecords.
func endOffsets(ctx context.Context, cl *kgo.Client, topics ...string) (kadm.ListedOffsets, error) {
	return listOffsets(ctx, topics, "end offsets", kadm.NewClient(cl).ListCommittedOffsets)
}

// highWatermarks lists the offsets after the last record of the topics'
// partitions, committed or not (a transaction still open lies below them),
// with errors marked as endOffsets marks them.
func highWatermarks(ctx context.Context, cl *kgo.Client, topics ...string) (kadm.ListedOffsets, error) {
	return listOffsets(ctx, topics, "high watermarks", kadm.NewClient(cl).ListEndOffsets)
}

// listOffsets runs one of kadm's listings of offsets, with the broker out
// of reach or a partition it could not list marked events.Unavailable.
func listOffsets(ctx context.Context, topics []string, what string,
	list func(context.Context, ...string) (kadm.ListedOffsets, error)) (kadm.ListedOffsets, error) {
	offsets, err := list(ctx, topics...)
	if err == nil {
		err = offsets.Error()
	}
	if err != nil {
		return nil, events.MarkUnavailable(fmt.Errorf("%s of %v: %w", what, topics, err))
	}
	return offsets, nil
}

// ping says whether the broker is within reach, waiting at most 2 s.
func ping(ctx context.Context, cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("the broker is out of reach: %w", err)
	}
	return nil
}

// readControlRecords makes a reader see the markers that end transactions:
// the last offset below an end may be one, and a reader that never sees it
// never reaches the end. Such a record is skipped for its content (see
// Record.Attrs.IsControl) and counted for its offset.
func readControlRecords() kgo.Opt { return kgo.KeepControlRecords() }

// NewAdminClient is a client for setting topics up.
func NewAdminClient(brokers []string) (*kgo.Client, error) { return newClient(brokers) }
