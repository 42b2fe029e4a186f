package kafkabus

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands"
	"orderflow/events"
)

// Replica keeps this process's copy of the families it reads: every
// partition of their topics, imported into the local log in order. How far
// each partition was imported is saved in the same transaction as the
// events, so each record is imported exactly once, across crashes.
//
// It is the talk's "move the data to the code": the customer check reads
// customers from its copy, the API's read models are built from theirs,
// and a process that takes over inventory partitions finds the stock
// another process wrote in its own log before it decides.
type Replica struct {
	store    *events.Store
	families []string
	log      *slog.Logger
	cl       *kgo.Client

	mu   sync.Mutex
	next map[string]map[int32]int64 // topic → partition → next offset to import
	// moved is closed (and replaced) whenever next moves: a catch-up
	// waits for it rather than polling.
	moved chan struct{}
	// unsaved are the offsets imported up to and not yet saved, since
	// saved (see importBatch); only Run touches them.
	unsaved map[string]map[int32]int64
	saved   time.Time

	// Causal, set before Run, makes the copy keep causes before what they
	// caused (see held): the read models of a process that copies every
	// family (the API's) fold a validation result into its order's row,
	// which its placement must have made.
	Causal bool
	// held are, per topic partition, the records kept back behind one
	// whose cause this log does not hold yet, in order; heldSince when
	// the first of them was.
	held      map[topicPartition][]*kgo.Record
	heldSince map[topicPartition]time.Time
	// paused are the partitions not fetched while records of theirs are
	// held: what a fetch brought beyond them would be held too, and
	// looked at again at every poll.
	paused map[topicPartition]bool

	// first is the first catch-up while it runs (see firstCopy); copied
	// is closed when it is done. firstSince is when it began.
	first      *firstCopy
	firstSince time.Time
	copied     chan struct{}
	copiedHead int64 // the log's head then
}

type topicPartition struct {
	topic     string
	partition int32
}

// causeWait bounds how long a record waits for its cause: a cause that
// does not come by then (it never will, or comes from a topic out of
// reach) no longer holds the partition back, and the record is imported as
// it is, with a warning.
const causeWait = 10 * time.Second

func replicaCheckpoint(topic string, partition int32) string {
	return "kafka:" + topic + ":" + strconv.Itoa(int(partition))
}

// NewReplica returns the replica of the given families (context names),
// starting from where the local log says it got to.
func NewReplica(ctx context.Context, store *events.Store, cluster Cluster, partitions int, families []string, log *slog.Logger) (*Replica, error) {
	r := &Replica{store: store, families: families, log: log, next: map[string]map[int32]int64{},
		unsaved: map[string]map[int32]int64{}, saved: time.Now(), moved: make(chan struct{}), copied: make(chan struct{})}
	consume := map[string]map[int32]kgo.Offset{}
	for _, f := range families {
		topic := FamilyTopic(f)
		r.next[topic] = map[int32]int64{}
		consume[topic] = map[int32]kgo.Offset{}
		for p := range int32(partitions) {
			next, err := store.DB().Checkpoint(ctx, replicaCheckpoint(topic, p))
			if err != nil {
				return nil, err
			}
			r.next[topic][p] = next
			consume[topic][p] = kgo.NewOffset().At(next)
		}
	}
	cl, err := newClient(cluster, append([]kgo.Opt{kgo.ConsumePartitions(consume), readControlRecords()}, cluster.fetchOpts()...)...)
	if err != nil {
		return nil, err
	}
	r.cl = cl
	return r, nil
}

// Next is the offset of a family's topic partition the copy goes on from:
// the log holds every event of the partition below it.
func (r *Replica) Next(family string, partition int32) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next[FamilyTopic(family)][partition]
}

// Copies says the replica copies a family whole.
func (r *Replica) Copies(family string) bool { return slices.Contains(r.families, family) }

// Ping says whether the broker is within reach.
func (r *Replica) Ping(ctx context.Context) error {
	if err := ping(ctx, r.cl); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// Close releases the client.
func (r *Replica) Close() { r.cl.Close() }

// Run imports until ctx ends.
func (r *Replica) Run(ctx context.Context) error {
	if len(r.families) == 0 {
		close(r.copied)
		<-ctx.Done()
		return nil
	}
	r.firstSince = time.Now()
	fc, err := r.newFirstCopy(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("kafka replica: %w", err)
	}
	r.mu.Lock()
	r.first = fc
	r.mu.Unlock()
	for {
		r.finishFirstCopy()
		first := r.first // only Run changes it
		poll, cancel := ctx, context.CancelFunc(func() {})
		if len(r.held) > 0 {
			// Records wait for their causes: look again soon, whether or
			// not anything new comes.
			poll, cancel = context.WithTimeout(ctx, 20*time.Millisecond)
		}
		fetches := r.cl.PollFetches(poll)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				r.log.Warn("kafka replica: fetch failed, retrying", "topic", topic, "partition", p, "err", err)
			}
		})
		polled := map[topicPartition][]*kgo.Record{}
		var order []topicPartition
		for tp, recs := range r.held {
			polled[tp], order = recs, append(order, tp)
		}
		r.held = nil
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			tp := topicPartition{p.Topic, p.Partition}
			if _, ok := polled[tp]; !ok {
				order = append(order, tp)
			}
			polled[tp] = append(polled[tp], p.Records...)
		})
		n := 0
		for _, tp := range order {
			n += len(polled[tp])
		}
		evs := make([]events.Event, 0, n)
		ends := map[string]map[int32]int64{}
		batch := map[string]bool{} // ids of the events this batch imports
		for _, tp := range order {
			recs := polled[tp]
			heldBack := false
			for i, rec := range recs {
				if first != nil && r.Causal && first.waits(rec) {
					// The first copy has not reached its stage, or it is
					// beyond where the first copy stops.
					r.hold(tp, recs[i:], false)
					heldBack = true
					break
				}
				if rec.Attrs.IsControl() {
					// The end of a transaction: nothing to import, but the
					// copy is past it.
				} else if _, ok := heldEvent(r.store, rec); ok {
					// Already in the log: this process's own output, or
					// an event a consumer group of it imported first.
				} else if e, err := decodeEvent(rec); err != nil {
					r.log.Error("kafka replica: a record that is not an event is skipped", "topic", rec.Topic,
						"partition", rec.Partition, "offset", rec.Offset, "err", err)
				} else if r.Causal && first == nil && !r.causeHeld(ctx, e, batch) && r.waitForCause(tp, e) {
					r.hold(tp, recs[i:], true)
					heldBack = true
					break
				} else {
					evs = append(evs, e)
					if r.Causal && first == nil {
						batch[e.ID] = true
					}
				}
				if ends[rec.Topic] == nil {
					ends[rec.Topic] = map[int32]int64{}
				}
				ends[rec.Topic][rec.Partition] = rec.Offset + 1
			}
			if !heldBack {
				delete(r.heldSince, tp)
				r.resume(tp)
			}
		}
		if len(ends) == 0 {
			continue
		}
		if err := r.importBatch(ctx, evs, ends); err != nil {
			if ctx.Err() != nil || errors.Is(err, events.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// causeHeld says the log (or this batch) holds the event that caused e, or
// that e names none: a command, or nothing.
func (r *Replica) causeHeld(ctx context.Context, e events.Event, batch map[string]bool) bool {
	cause := e.CausationID
	if cause == "" || strings.HasPrefix(cause, commands.CommandIDPrefix) || batch[cause] {
		return true
	}
	if _, ok := r.store.Recent(cause); ok {
		return true
	}
	_, ok, err := r.store.PositionOf(ctx, cause)
	return ok || err != nil // a read that failed does not hold the copy back
}

// waitForCause says a record whose cause is missing waits for it: for at
// most causeWait from the moment its partition was first held back.
func (r *Replica) waitForCause(tp topicPartition, e events.Event) bool {
	since, ok := r.heldSince[tp]
	if !ok {
		return true
	}
	if time.Since(since) < causeWait {
		return true
	}
	r.log.Warn("kafka replica: an event's cause did not arrive; imported without it", "stream", e.StreamID,
		"version", e.StreamVersion, "event", e.ID, "cause", e.CausationID, "waited", causeWait)
	delete(r.heldSince, tp)
	return false
}

// hold keeps records of a partition back until a later poll, and stops
// fetching the partition meanwhile. waiting says they wait for a cause
// (for at most causeWait from the first time), not for the first copy.
func (r *Replica) hold(tp topicPartition, recs []*kgo.Record, waiting bool) {
	if r.held == nil {
		r.held = map[topicPartition][]*kgo.Record{}
	}
	if r.heldSince == nil {
		r.heldSince = map[topicPartition]time.Time{}
	}
	r.held[tp] = append([]*kgo.Record(nil), recs...)
	if _, ok := r.heldSince[tp]; !ok && waiting {
		r.heldSince[tp] = time.Now()
	}
	if !r.paused[tp] {
		if r.paused == nil {
			r.paused = map[topicPartition]bool{}
		}
		r.paused[tp] = true
		r.cl.PauseFetchPartitions(map[string][]int32{tp.topic: {tp.partition}})
	}
}

// resume fetches a partition again once none of its records is held.
func (r *Replica) resume(tp topicPartition) {
	if r.paused[tp] {
		delete(r.paused, tp)
		r.cl.ResumeFetchPartitions(map[string][]int32{tp.topic: {tp.partition}})
	}
}

// saveEvery bounds how long the replica goes without saving how far it
// got when it has nothing to import (what it read was in the log already):
// a restart reads at most that much again, and finds it there by id.
const saveEvery = time.Second

// importBatch imports one poll's events and records the offsets, retrying
// while the database is unavailable. With nothing to import, the offsets
// are saved only every saveEvery: importing is idempotent (by event id), so
// offsets saved late cost a restart a little reading, not a duplicate.
func (r *Replica) importBatch(ctx context.Context, evs []events.Event, ends map[string]map[int32]int64) error {
	for topic, ps := range ends {
		for p, next := range ps {
			if r.unsaved[topic] == nil {
				r.unsaved[topic] = map[int32]int64{}
			}
			r.unsaved[topic][p] = next
		}
	}
	if len(evs) == 0 && time.Since(r.saved) < saveEvery {
		r.imported(ends)
		return nil
	}
	unsaved := r.unsaved
	r.unsaved = map[string]map[int32]int64{}
	_, err := retryUnavailable(ctx, r.log, func() ([]events.Imported, error) {
		return importEvents(ctx, r.store, r.log, evs, func(ctx context.Context, tx *sql.Tx) error {
			for topic, ps := range unsaved {
				for p, next := range ps {
					if err := events.SaveCheckpoint(ctx, tx, replicaCheckpoint(topic, p), next); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("kafka replica: import: %w", err)
	}
	r.saved = time.Now()
	r.imported(ends)
	return nil
}

// imported records that the log holds everything of the topics' partitions
// below the given offsets (CatchUp waits for it).
func (r *Replica) imported(ends map[string]map[int32]int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for topic, ps := range ends {
		for p, next := range ps {
			r.next[topic][p] = next
		}
	}
	close(r.moved)
	r.moved = make(chan struct{})
}

// CatchUp returns once the copy holds everything the topics of the given
// families held when it was called: a decision taken after it sees every
// event that was published before (see Relay on table families).
func (r *Replica) CatchUp(ctx context.Context, families ...string) error {
	var topics []string
	for _, f := range families {
		topic, err := r.topicOf(f)
		if err != nil {
			return err
		}
		topics = append(topics, topic)
	}
	if len(topics) == 0 {
		return nil
	}
	// The broker out of reach is not the caller's fault: a reaction
	// retries it for as long as it lasts, never sets its event aside.
	ends, err := endOffsets(ctx, r.cl, topics...)
	if err != nil {
		return fmt.Errorf("kafka replica: %w", err)
	}
	for {
		behind := false
		r.mu.Lock()
		ends.Each(func(o kadm.ListedOffset) {
			if r.next[o.Topic][o.Partition] < o.Offset {
				behind = true
			}
		})
		moved := r.moved
		r.mu.Unlock()
		if !behind {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka replica: catching up on %v: %w", topics, ctx.Err())
		case <-moved:
		}
	}
}

// CatchUpSettled returns once the copy holds everything of the given
// partitions of a family's topic, after no transaction is left open on
// them: what a member that owned them before committed is then all there,
// and what it left open (a member fenced, or killed, mid-transaction) is
// aborted. A member that takes partitions over decides only after it,
// against every decision of the previous owner. It waits at most for the
// broker's transaction timeout (a transaction of a member that died open
// is aborted then, or when that member starts again).
func (r *Replica) CatchUpSettled(ctx context.Context, family string, partitions []int32) error {
	topic, err := r.topicOf(family)
	if err != nil {
		return err
	}
	for {
		stable, err := endOffsets(ctx, r.cl, topic)
		if err != nil {
			return fmt.Errorf("kafka replica: %w", err)
		}
		high, err := highWatermarks(ctx, r.cl, topic)
		if err != nil {
			return fmt.Errorf("kafka replica: %w", err)
		}
		settled, behind := true, false
		r.mu.Lock()
		for _, p := range partitions {
			s, okS := stable.Lookup(topic, p)
			h, okH := high.Lookup(topic, p)
			if !okS || !okH || s.Offset < h.Offset {
				settled = false
			}
			if r.next[topic][p] < h.Offset {
				behind = true
			}
		}
		r.mu.Unlock()
		if settled && !behind {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka replica: catching up on %s %v: %w", topic, partitions, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// topicOf is the topic of a family this process copies.
func (r *Replica) topicOf(family string) (string, error) {
	topic := FamilyTopic(family)
	r.mu.Lock()
	_, ok := r.next[topic]
	r.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("kafka replica: %s is not copied by this process", topic)
	}
	return topic, nil
}
