package kafkabus

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/events"
)

// KeysTopic carries the subjects' data keys (see events.Keyring) between
// the processes of a split deployment, keyed by subject: the key as the
// record's value, and a tombstone (no value) once the subject is
// forgotten. It is compacted, so a tombstone removes the key's record from
// the topic once the log cleaner has passed (at most keysSegment after it,
// on a Kafka cluster), and tombstones are kept, so a process that starts
// later learns the subject was forgotten.
const KeysTopic = prefix + "keys"

// keysSegment bounds how long a key's record outlives its tombstone in the
// topic: Kafka compacts a segment once it is closed, and closes it at this
// age.
const keysSegment = time.Minute

// keyWait bounds how long a reader waits for a key to arrive.
const keyWait = 10 * time.Second

// Keys keeps this process's keyring in step with the keys topic: it
// publishes the keys this process makes and the tombstones of the subjects
// it forgets (synchronously, before the key is used or the erasure
// reported), and copies every other process's keys and tombstones into the
// local keyring. A tombstone from elsewhere deletes the local copy of the
// key, blanks what the local log holds of the subject in the clear, and
// scrubs the write-ahead log.
type Keys struct {
	cl    *kgo.Client
	ring  *events.Keyring
	reg   *events.Registry
	db    *events.DB
	log   *slog.Logger
	topic string

	mu    sync.Mutex
	next  map[int32]int64 // partition → next offset to apply
	moved chan struct{}

	stopped chan struct{} // closed once the reader stopped
}

// EnsureKeysTopic creates the keys topic when it is missing, compacted,
// with tombstones kept for good. It asks whether the topic is there
// first: a create request for a topic that exists is not free (a broker
// may write its metadata for it, and on a machine busy writing that
// waits its turn).
func EnsureKeysTopic(ctx context.Context, cl *kgo.Client, settings TopicSettings) error {
	adm := kadm.NewClient(cl)
	if listed, err := adm.ListTopics(ctx, KeysTopic); err == nil && listed.Has(KeysTopic) && listed[KeysTopic].Err == nil {
		return nil
	}
	replication, minISR, err := replicationOf(ctx, adm, settings)
	if err != nil {
		return err
	}
	compact, lag, segment, keep, isr := "compact", "0", fmt.Sprint(keysSegment.Milliseconds()), fmt.Sprint(int64(1<<63-1)), fmt.Sprint(minISR)
	resp, err := adm.CreateTopics(ctx, int32(settings.Partitions), int16(replication), map[string]*string{
		"cleanup.policy": &compact, "min.compaction.lag.ms": &lag, "segment.ms": &segment,
		"delete.retention.ms": &keep, "min.insync.replicas": &isr,
	}, KeysTopic)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", KeysTopic, err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// StartKeys wires the keyring to the keys topic and copies the topic into
// it until ctx ends; it returns once the copy has caught up with the
// topic, so that what this process reads next finds its keys.
func StartKeys(ctx, run context.Context, cluster Cluster, ring *events.Keyring, reg *events.Registry, db *events.DB, log *slog.Logger) (*Keys, error) {
	cl, err := newClient(cluster, kgo.ConsumeTopics(KeysTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(time.Second))
	if err != nil {
		return nil, err
	}
	k := &Keys{cl: cl, ring: ring, reg: reg, db: db, log: log, topic: KeysTopic, next: map[int32]int64{}, moved: make(chan struct{}),
		stopped: make(chan struct{})}
	ring.Published = k.publish
	ring.Wait = func(string) bool {
		wait, cancel := context.WithTimeout(context.Background(), keyWait)
		defer cancel()
		return k.CatchUp(wait) == nil
	}
	go func() {
		defer close(k.stopped)
		defer cl.Close()
		if err := k.run(run); err != nil && run.Err() == nil {
			log.Error("kafka keys reader stopped", "err", err)
		}
	}()
	if err := k.CatchUp(ctx); err != nil {
		return nil, fmt.Errorf("read the keys topic: %w", err)
	}
	return k, nil
}

// Stopped is closed once the reader stopped (its run context ended).
func (k *Keys) Stopped() <-chan struct{} { return k.stopped }

// publish produces a subject's key, or its tombstone (key nil), and
// returns once Kafka has it, or ctx ended first (the record may still be
// delivered later: a key or a tombstone written twice says the same).
func (k *Keys) publish(ctx context.Context, subject string, key []byte) error {
	if err := deliver(ctx, k.cl, &kgo.Record{Topic: k.topic, Key: []byte(subject), Value: key}); err != nil || key != nil {
		return err
	}
	// A tombstone twice, in two batches: a log cleaner never compacts the
	// batch (or segment) being written, so the key's record goes only once
	// the tombstone that supersedes it lies behind another record.
	return deliver(ctx, k.cl, &kgo.Record{Topic: k.topic, Key: []byte(subject)})
}

func (k *Keys) run(ctx context.Context) error {
	for {
		fs := k.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fs.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			k.log.Warn("kafka keys reader: fetch failed, retrying", "err", err)
			continue
		}
		// Keys are stored a fetch at a time, in one write; a tombstone
		// first stores the keys before it (a key made again after it is
		// never stored: the subject stays forgotten).
		var keys []events.SubjectKey
		var done []*kgo.Record
		flush := func() error {
			if len(keys) > 0 {
				if err := k.ring.Put(ctx, keys...); err != nil {
					return err
				}
			}
			for _, r := range done {
				k.advance(r.Partition, r.Offset+1)
			}
			keys, done = keys[:0], done[:0]
			return nil
		}
		var failed error
		fs.EachRecord(func(r *kgo.Record) {
			switch {
			case failed != nil:
			case r.Value != nil:
				keys = append(keys, events.SubjectKey{Subject: string(r.Key), Key: r.Value})
				done = append(done, r)
			default:
				if failed = flush(); failed == nil {
					if failed = k.forgotten(ctx, string(r.Key)); failed == nil {
						k.advance(r.Partition, r.Offset+1)
					}
				}
			}
		})
		if failed == nil {
			failed = flush()
		}
		if failed != nil {
			return failed
		}
	}
}

// forgotten applies a subject's tombstone.
func (k *Keys) forgotten(ctx context.Context, subject string) error {
	if gone, err := k.ring.Forgotten(subject); err != nil || gone {
		return err // forgotten here already (by this process, or an earlier tombstone)
	}
	plain, err := k.reg.PlaintextEvents(ctx, k.db, subject)
	if err != nil {
		return err
	}
	if err := k.ring.Drop(ctx, subject, func(tx *sql.Tx) error { return k.reg.BlankInPlace(tx, plain) }); err != nil {
		return err
	}
	k.log.Info("kafka: a forgotten subject's key deleted here", "subject", subject)
	return k.db.Scrub(ctx)
}

func (k *Keys) advance(partition int32, next int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.next[partition] = next
	close(k.moved)
	k.moved = make(chan struct{})
}

// CatchUp returns once every key and tombstone in the topic when it was
// called has been applied to the keyring.
func (k *Keys) CatchUp(ctx context.Context) error {
	ends, err := endOffsets(ctx, k.cl, k.topic)
	if err != nil {
		return err
	}
	for {
		k.mu.Lock()
		behind := []string{}
		ends.Each(func(o kadm.ListedOffset) {
			if k.next[o.Partition] < o.Offset {
				behind = append(behind, fmt.Sprint(o.Partition))
			}
		})
		moved := k.moved
		k.mu.Unlock()
		if len(behind) == 0 {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("keys topic partitions %s not read yet: %w", strings.Join(behind, ","), ctx.Err())
		}
	}
}
