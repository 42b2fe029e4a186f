package kafkabus

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands"
	"orderflow/events"
)

// The changelog of a context whose streams grow with every order (a
// product's stock, a customer's fraud window; commands.KeepsChangelog) is
// the talk's state store backed by a changelog topic: a compacted topic,
// co-partitioned with the context's own, that holds each stream's folded
// state at a version, and for each partition a watermark: the offset of the
// context's topic below which every event is folded into the states.
//
// Guarantees, before the mechanism:
//   - A member of the context writes the changelog of the partitions it
//     owns, in the Kafka transaction of one of its polls, so a member that
//     lost them (fenced) writes nothing there either.
//   - Every state is a fold of committed events only, read from the
//     member's log, which holds every event of the partition below the
//     watermark it writes with it: a state is never older than its
//     watermark (it may be newer, by events the member imported meanwhile).
//   - A new member (nothing of the context's topic in its log) restores the
//     states and starts copying each partition at its watermark: the events
//     after it that a state holds already are skipped by version when the
//     stream is loaded, so it decides as if it had read the whole history,
//     having read the states and the last moments of it.
//
// A round (one per changelogEvery at most, while the member has records to
// decide, and less often when large or slow) writes the streams changed since the member's last committed
// round, and every stream of a partition the member was given since. A
// state larger than one record takes is cut into parts written together.

// ChangelogTopic is the compacted topic of a context's streams' state.
func ChangelogTopic(context string) string { return prefix + context + ".changelog" }

// changelogEvery is how often a member writes its changelog at most: a new
// member reads that much more of the context's topic after the watermarks.
// Large states are written less often: at most changelogRate bytes a
// second on average (a product whose open reservations run into the
// hundreds of thousands is megabytes), and rounds take at most a
// changelogShare of the member's time (each reads its streams' states).
const (
	changelogEvery = 5 * time.Second
	changelogRate  = 1 << 20
	changelogShare = 50
)

// changelogReadLimit bounds how long a new member reads the changelog
// before it gives up on it and copies the context's topic instead.
const changelogReadLimit = 30 * time.Second

// changelogPart bounds one record's share of a state (a broker's default
// largest record is 1 MiB).
const changelogPart = 256 << 10

// changelogValue is a changelog record: a stream's state (or a part of
// it), or a partition's watermark.
type changelogValue struct {
	Stream  string `json:"stream,omitempty"`
	Version int64  `json:"version,omitempty"`
	// State is the whole state; Chunk a part of it, Part of Parts, when it
	// is larger than changelogPart.
	State     json.RawMessage `json:"state,omitempty"`
	Chunk     []byte          `json:"chunk,omitempty"`
	Part      int             `json:"part,omitempty"`
	Parts     int             `json:"parts,omitempty"`
	Watermark *watermark      `json:"watermark,omitempty"`
}

type watermark struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

// keyOn returns the nth key (from 0) built on base that lands on partition
// p of n: the parts of a state after the first and the watermarks, which
// are keyed to the partition whose streams they belong to.
func keyOn(base string, p int32, n, nth int) string {
	for i := 0; ; i++ {
		k := base + "\x00" + strconv.Itoa(i)
		if int32(partitionOf([]byte(k), n)) == p {
			if nth == 0 {
				return k
			}
			nth--
		}
	}
}

const watermarkKey = "orderflow.watermark"

// stateRecords are the records of one stream's state.
func stateRecords(topic, stream string, version int64, state []byte, partitions int) ([]outgoing, error) {
	key := commands.StreamKey(stream)
	p := int32(partitionOf([]byte(key), partitions))
	var values []changelogValue
	if len(state) <= changelogPart {
		values = append(values, changelogValue{Stream: stream, Version: version, State: state})
	} else {
		parts := (len(state) + changelogPart - 1) / changelogPart
		for i := range parts {
			chunk := state[i*changelogPart : min((i+1)*changelogPart, len(state))]
			values = append(values, changelogValue{Stream: stream, Version: version, Chunk: chunk, Part: i, Parts: parts})
		}
	}
	out := make([]outgoing, len(values))
	for i, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("changelog of %q: %w", stream, err)
		}
		k := key
		if i > 0 {
			k = keyOn(key, p, partitions, i-1)
		}
		out[i] = outgoing{topic: topic, key: k, msg: message.NewMessage(events.NewID(), b)}
	}
	return out, nil
}

// watermarkRecord is the record of a partition's watermark.
func watermarkRecord(topic string, p int32, offset int64, partitions int) outgoing {
	b, _ := json.Marshal(changelogValue{Watermark: &watermark{Partition: p, Offset: offset}})
	return outgoing{topic: topic, key: keyOn(watermarkKey, p, partitions, 0), msg: message.NewMessage(events.NewID(), b)}
}

// rounds is what a transactional feed remembers of its changelog.
type rounds struct {
	// due is when the next round may be written.
	due time.Time
	// through is the local log position the last committed round read
	// from: a stream with an event after it changed since.
	through int64
	// covered are the partitions the last committed round covered.
	covered map[int32]bool
	// next is the round of the transaction in flight.
	next *rounds
}

// changelogRound returns the records of a round of the changelog, when one
// is due: the states of the streams of the partitions this member owns
// that changed since its last round, and those partitions' watermarks.
func (f *Feed) changelogRound(ctx context.Context) ([]outgoing, error) {
	f.rounds.next = nil
	if !commands.KeepsChangelog(f.Context) || f.Partitions <= 0 || time.Now().Before(f.rounds.due) {
		return nil, nil
	}
	f.mu.Lock()
	owned := make(map[int32]bool, len(f.owned))
	for p := range f.owned {
		owned[p] = true
	}
	f.mu.Unlock()
	if len(owned) == 0 {
		return nil, nil
	}
	// The log position first, then the watermarks, then the states: an
	// event imported meanwhile is in a state (newer than its watermark,
	// which is harmless) and in the next round's changes.
	started := time.Now()
	head := f.Store.DB().Head()
	marks := map[int32]int64{}
	for p := range owned {
		marks[p] = f.Replica.Next(f.Context, p)
	}
	// The streams changed since the last round; every stream when a
	// partition was given since (its round is whole).
	after := f.rounds.through
	for p := range owned {
		if !f.rounds.covered[p] {
			after = 0
		}
	}
	streams, err := f.Store.StreamsOf(ctx, commands.Lookup(f.Context).Streams, after)
	if err != nil {
		return nil, err
	}
	topic := ChangelogTopic(f.Context)
	var out []outgoing
	for _, stream := range streams {
		if !owned[int32(partitionOf([]byte(commands.StreamKey(stream)), f.Partitions))] {
			continue
		}
		state, version, err := f.Handlers.Snapshot(ctx, stream)
		if err != nil {
			return nil, err
		}
		if version == 0 {
			continue
		}
		recs, err := stateRecords(topic, stream, version, state, f.Partitions)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	for p, offset := range marks {
		out = append(out, watermarkRecord(topic, p, offset, f.Partitions))
	}
	size := 0
	for _, rec := range out {
		size += len(rec.msg.Payload)
	}
	wait := max(changelogEvery, time.Duration(float64(size)/changelogRate*float64(time.Second)), changelogShare*time.Since(started))
	f.rounds.next = &rounds{due: time.Now().Add(wait), through: head, covered: owned}
	return out, nil
}

// roundCommitted makes the round of the transaction that just committed
// the last one.
func (f *Feed) roundCommitted() {
	if n := f.rounds.next; n != nil {
		f.rounds.due, f.rounds.through, f.rounds.covered = n.due, n.through, n.covered
		f.rounds.next = nil
	}
}

// RestoreFromChangelog restores a new member's state of a context from its
// changelog: for each partition of the context's topic this log holds
// nothing of yet and whose changelog has a watermark, the states of its
// streams, and the replica's starting point there at the watermark. It
// returns the streams restored; none when the log held the topic already
// or no member wrote a changelog yet (the replica then copies the topic
// from its beginning).
func RestoreFromChangelog(ctx context.Context, store *events.Store, cluster Cluster, partitions int, name string, log *slog.Logger) (int, error) {
	started := time.Now()
	family := FamilyTopic(name)
	var empty []int32
	for p := range int32(partitions) {
		next, err := store.DB().Checkpoint(ctx, replicaCheckpoint(family, p))
		if err != nil {
			return 0, err
		}
		if next == 0 {
			empty = append(empty, p)
		}
	}
	if len(empty) == 0 {
		return 0, nil
	}
	topic := ChangelogTopic(name)
	cl, err := newClient(cluster)
	if err != nil {
		return 0, err
	}
	listed, err := endOffsets(ctx, cl, topic)
	cl.Close()
	if err != nil {
		return 0, fmt.Errorf("changelog %s: %w", topic, err)
	}
	// The latest record of each key, per partition, read to the last
	// stable offsets.
	latest := map[int32]map[string]changelogValue{}
	ends := map[int32]int64{}
	for _, p := range empty {
		if o, ok := listed.Lookup(topic, p); ok && o.Offset > 0 {
			ends[p] = o.Offset
			latest[p] = map[string]changelogValue{}
		}
	}
	read, cancel := context.WithTimeout(ctx, changelogReadLimit)
	defer cancel()
	err = readToEnds(read, baseOpts(cluster), topic, ends, func(rec *kgo.Record) {
		var v changelogValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			log.Error("kafka: a changelog record that is not one is skipped", "topic", topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
		} else {
			latest[rec.Partition][string(rec.Key)] = v
		}
	})
	switch {
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case read.Err() != nil:
		log.Warn("kafka: the changelog could not be read in time; this member copies the context's topic from its beginning",
			"topic", topic, "limit", changelogReadLimit)
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("changelog %s: %w", topic, err)
	}
	var snaps []events.Snapshot
	starts := map[int32]int64{}
	for p, byKey := range latest {
		var mark *watermark
		parts := map[string][]changelogValue{}
		for _, v := range byKey {
			switch {
			case v.Watermark != nil:
				mark = v.Watermark
			case v.Stream != "":
				parts[v.Stream] = append(parts[v.Stream], v)
			}
		}
		if mark == nil || mark.Partition != p {
			continue
		}
		var states []events.Snapshot
		var broken error
		for stream, vs := range parts {
			sn, err := assemble(stream, vs)
			if err != nil {
				broken = err
				break
			}
			states = append(states, sn)
		}
		if broken != nil {
			// Not a state to decide from: this partition is copied from
			// the topic's beginning instead.
			log.Warn("kafka: a changelog partition holds a broken state; its partition of the context's topic is copied from the beginning",
				"topic", topic, "partition", p, "err", broken)
			continue
		}
		starts[p] = mark.Offset
		snaps = append(snaps, states...)
	}
	if len(starts) == 0 {
		return 0, nil
	}
	err = store.RestoreSnapshots(ctx, snaps, func(ctx context.Context, tx *sql.Tx) error {
		for p, offset := range starts {
			if err := events.SaveCheckpoint(ctx, tx, replicaCheckpoint(family, p), offset); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	log.Info("kafka: a new member restored its state from the changelog", "topic", topic, "partitions", len(starts),
		"streams", len(snaps), "took", time.Since(started).Round(time.Millisecond))
	return len(snaps), nil
}

// assemble puts a stream's state back together from the latest records of
// its keys: the whole state, or every part of the version its first part
// names.
func assemble(stream string, vs []changelogValue) (events.Snapshot, error) {
	var first *changelogValue
	for i := range vs {
		if vs[i].Part == 0 {
			first = &vs[i]
		}
	}
	if first == nil {
		return events.Snapshot{}, fmt.Errorf("the state of %q has no first part", stream)
	}
	if first.Parts <= 1 {
		return events.Snapshot{StreamID: stream, Version: first.Version, State: first.State}, nil
	}
	chunks := make([][]byte, first.Parts)
	for _, v := range vs {
		if v.Version == first.Version && v.Parts == first.Parts && v.Part < len(chunks) {
			chunks[v.Part] = v.Chunk
		}
	}
	var state []byte
	for i, c := range chunks {
		if c == nil {
			return events.Snapshot{}, fmt.Errorf("the state of %q at version %d lacks part %d of %d", stream, first.Version, i+1, first.Parts)
		}
		state = append(state, c...)
	}
	return events.Snapshot{StreamID: stream, Version: first.Version, State: state}, nil
}
