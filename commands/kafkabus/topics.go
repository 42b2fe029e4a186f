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
	"strconv"
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

// ChangelogTopics lists the compacted topics of state: the changelogs of
// the contexts that keep one (see ChangelogTopic), the record of the
// topics whose placement was checked (PlacementTopic), and where the
// members serve (MembersTopic).
func ChangelogTopics() []string {
	out := []string{PlacementTopic, MembersTopic}
	for _, c := range commands.Declared() {
		if commands.KeepsChangelog(c.Name) {
			out = append(out, ChangelogTopic(c.Name))
		}
	}
	return out
}

// TopicSettings are how orderflow creates its topics, and what it
// requires of those that exist.
type TopicSettings struct {
	// Partitions of every topic: the same for all, so that one key lands
	// in the same partition of each.
	Partitions int
	// ReplicationFactor of the topics created; 0 for 3, or the number of
	// brokers when there are fewer. An existing topic is checked against
	// it only when it is set.
	ReplicationFactor int
	// MinInsyncReplicas of the topics created (min.insync.replicas: a
	// write acknowledged by all in-sync replicas is on at least that
	// many); 0 for one less than the replication factor, at least 1. An
	// existing topic is checked against it only when it is set.
	MinInsyncReplicas int
}

// EnsureTopics creates the topics that are missing, with the settings'
// partitions, replication and min.insync.replicas, and unlimited retention:
// the topics are the log of record between services, as in the talk, and a
// service that starts from nothing rebuilds its copy from their beginning
// (the changelogs are compacted instead: the latest state of each stream is
// what they keep). An existing topic that contradicts them (another number of partitions,
// so keys would not be co-partitioned; a family or re-keyed topic that does
// not keep everything; another replication or min.insync.replicas than
// the settings name) is an error naming the topic and the fix, and the
// process does not start.
func EnsureTopics(ctx context.Context, cl *kgo.Client, settings TopicSettings) error {
	adm := kadm.NewClient(cl)
	topics := append(AllTopics(), ChangelogTopics()...)
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var missing, existing []string
	for _, t := range topics {
		d, ok := details[t]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			missing = append(missing, t)
			continue
		}
		if d.Err != nil {
			return fmt.Errorf("topic %s: %w", t, d.Err)
		}
		existing = append(existing, t)
	}
	if err := checkTopics(ctx, adm, details, existing, settings); err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	replication, minISR, err := replicationOf(ctx, adm, settings)
	if err != nil {
		return err
	}
	retention, compact, isr := "-1", "compact", strconv.Itoa(minISR)
	var logs, changelogs []string
	for _, t := range missing {
		if slices.Contains(ChangelogTopics(), t) {
			changelogs = append(changelogs, t)
		} else {
			logs = append(logs, t)
		}
	}
	if err := createTopics(ctx, adm, settings, replication, minISR, map[string]*string{"retention.ms": &retention, "min.insync.replicas": &isr}, logs); err != nil {
		return err
	}
	return createTopics(ctx, adm, settings, replication, minISR, map[string]*string{"cleanup.policy": &compact, "min.insync.replicas": &isr}, changelogs)
}

// createTopics creates topics with the settings' partitions, the given
// replication and configs.
func createTopics(ctx context.Context, adm *kadm.Client, settings TopicSettings, replication, minISR int, configs map[string]*string, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	resp, err := adm.CreateTopics(ctx, int32(settings.Partitions), int16(replication), configs, topics...)
	if err != nil {
		return fmt.Errorf("create topics %s: %w", strings.Join(topics, ", "), err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s (%d partitions, replication factor %d, min.insync.replicas %d): %w",
				r.Topic, settings.Partitions, replication, minISR, r.Err)
		}
	}
	return nil
}

// replicationOf is the replication factor and min.insync.replicas of the
// topics to create: the settings', or what they default to on this cluster.
func replicationOf(ctx context.Context, adm *kadm.Client, settings TopicSettings) (int, int, error) {
	replication := settings.ReplicationFactor
	if replication == 0 {
		brokers, err := adm.ListBrokers(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("list brokers: %w", err)
		}
		replication = max(1, min(3, len(brokers)))
	}
	minISR := settings.MinInsyncReplicas
	if minISR == 0 {
		minISR = max(1, replication-1)
	}
	return replication, minISR, nil
}

// checkTopics refuses existing topics that contradict the settings, all of
// them in one error, each with the command that mends it.
func checkTopics(ctx context.Context, adm *kadm.Client, details kadm.TopicDetails, existing []string, settings TopicSettings) error {
	if len(existing) == 0 {
		return nil
	}
	configs, err := adm.DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		return fmt.Errorf("describe the configs of topics %s: %w", strings.Join(existing, ", "), err)
	}
	var errs []error
	for _, t := range existing {
		d := details[t]
		if n := len(d.Partitions); n != settings.Partitions {
			errs = append(errs, fmt.Errorf("topic %s has %d partitions, not %d (--kafka-partitions): every orderflow topic must have the same number, "+
				"so that one key lands in the same partition of each; start with --kafka-partitions %d if every topic has %d", t, n, settings.Partitions, n, n))
		}
		if want := settings.ReplicationFactor; want > 0 {
			if n := d.Partitions.NumReplicas(); n != want {
				errs = append(errs, fmt.Errorf("topic %s has %d replicas, not %d (--kafka-replication-factor): "+
					"reassign its partitions (kafka-reassign-partitions.sh) or start with --kafka-replication-factor %d", t, n, want, n))
			}
		}
		rc, err := configs.On(t, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("topic %s: its configs: %w", t, err))
			continue
		}
		value := func(key string) string {
			for _, c := range rc.Configs {
				if c.Key == key {
					return c.MaybeValue()
				}
			}
			return ""
		}
		alter := func(key, value string) string {
			return fmt.Sprintf("kafka-configs.sh --bootstrap-server BROKER --alter --entity-type topics --entity-name %s --add-config %s=%s", t, key, value)
		}
		if isLogTopic(t) {
			for _, key := range []string{"retention.ms", "retention.bytes"} {
				if v := value(key); v != "" && v != "-1" {
					errs = append(errs, fmt.Errorf("topic %s has %s=%s: orderflow's family and re-keyed topics are the log of record "+
						"and must keep every record; fix: %s", t, key, v, alter(key, "-1")))
				}
			}
		}
		if want := settings.MinInsyncReplicas; want > 0 {
			if v := value("min.insync.replicas"); v != strconv.Itoa(want) {
				errs = append(errs, fmt.Errorf("topic %s has min.insync.replicas=%s, not %d (--kafka-min-insync-replicas); fix: %s",
					t, v, want, alter("min.insync.replicas", strconv.Itoa(want))))
			}
		}
	}
	return errors.Join(errs...)
}

// isLogTopic says a topic holds events (a family's or a repartition's),
// which must be kept for ever; commands and replies need not be.
func isLogTopic(topic string) bool {
	for _, c := range commands.Declared() {
		if c.Streams != "" && topic == FamilyTopic(c.Name) {
			return true
		}
	}
	return slices.ContainsFunc(repartitions, func(r repartition) bool { return r.Topic == topic })
}

// baseOpts are the options of every client: the cluster, retries for as
// long as the context allows, and reading only what transactions committed
// (a decision of a member whose transaction was aborted, a member fenced
// after it lost its partitions, is never read).
func baseOpts(cluster Cluster) []kgo.Opt {
	return append(cluster.ClientOpts(),
		kgo.RetryTimeout(0),
		kgo.RetryBackoffFn(func(int) time.Duration { return 250 * time.Millisecond }),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
}

// copartitionedBalancer assigns the partitions of a group's topics so that
// partition n of every topic belongs to the same member (the commands for
// a product reach the member that reserves it), cooperatively: a join or a
// leave moves only the partitions that change hands.
func copartitionedBalancer() kgo.GroupBalancer { return copartition.Balancer() }

// newClient is a franz-go client of the cluster with the given options.
func newClient(cluster Cluster, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append(baseOpts(cluster), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %s: %w", cluster, err)
	}
	return cl, nil
}

// deliver produces rs and waits for the broker's answers until ctx ends.
// Not ProduceSync: its context bounds only the wait for room in the
// client's buffer, and a record buffered is retried for ever, so with the
// broker away its caller would wait for ever (a process that stops, a
// registration). A record given up on here may still be delivered later,
// once the broker is back: what it says must bear being written again.
func deliver(ctx context.Context, cl *kgo.Client, rs ...*kgo.Record) error {
	done := make(chan error, len(rs))
	for _, r := range rs {
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) { done <- err })
	}
	var errs []error
	for range rs {
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
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
func NewAdminClient(cluster Cluster) (*kgo.Client, error) { return newClient(cluster) }
