package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands"
	"orderflow/domain/fault"
	"orderflow/events"
)

// Feed is one context's consumer group: it reads the context's command
// topic and the topics its reaction consumes, imports their events into the
// local log, hands them to the reaction (a fed events.Consumer) and
// carries out the commands.
//
// A context that scales out (several members share its group) runs its
// feed in transactions (Stage set): see runTransactions. The others, one
// process each, run it as below.
//
// Guarantees, before the mechanism:
//   - At least once: a record's offset is committed only when what it
//     caused is done and published: its reaction's batch committed here and
//     the relay published that batch's events, or its command carried out,
//     answered and its events published. A process that dies leaves the
//     rest to the member that takes its partitions over.
//   - One writer per key: a partition is read by one member at a time and
//     one key's records are in one partition, in their writer's order; the
//     reaction's lanes keep one key to one lane.
//   - Before a member reads partitions it was given, OnAssigned runs
//     (inventory catches up on the stock topic then, so it decides against
//     what the previous owner wrote).
type Feed struct {
	Context  string
	Store    *events.Store
	Registry *events.Registry
	Reaction *events.Consumer // nil for a context without one
	// Repartitioned says the reaction reads a topic keyed by what it
	// writes (inventory: orders by product), and takes from each record
	// only the key it was published under.
	Repartitioned bool
	Topics        []string // the reaction's input topics
	// Partial says the feed's topics are not this process's copy of them
	// (a context that scales out reads only its partitions, and the
	// replica copies what the process reads of other contexts): the feed
	// imports only the events its reaction takes.
	Partial    bool
	Handlers   *commands.Handlers
	Replica    *Replica
	Relay      *Relay
	Publisher  message.Publisher
	OnAssigned func(ctx context.Context) error
	// ReadModelsAt, when set, returns once the read models the commands
	// decide against (the products read model: placeOrder's prices,
	// addStock's known products) have applied the local log up to position.
	ReadModelsAt func(ctx context.Context, position int64) error
	// Stage, when set, is the context's outbox (the handlers append its
	// events there), and the feed runs in transactions (runTransactions).
	Stage *Stage
	// TransactionalID names this member's transactional producer: the same
	// for the same member across restarts, so that a restarted member
	// fences its previous incarnation at once.
	TransactionalID string
	// Partitions is the number of partitions of every orderflow topic.
	Partitions int
	Log        *slog.Logger

	cluster Cluster
	cl      *kgo.Client
	session *kgo.GroupTransactSession
	txPub   *Publisher
	mu      sync.Mutex
	pending map[partitionKey][]*tracked
	// given are the partitions (by number) given to a transactional feed
	// since its last transaction: it catches up on them before it decides.
	given map[int32]bool
	// owned are the partitions (by number) a transactional feed owns, and
	// rounds what it wrote of its context's changelog (see changelogRound).
	owned  map[int32]bool
	rounds rounds
	// losses counts the partition losses (and, transactional, the
	// revocations): a delivery of a poll taken before the last one is
	// dropped, not decided. deciding counts the deliveries in the lanes.
	losses   atomic.Int64
	deciding atomic.Int64
	// inPoll, for a transactional feed, is how many records the poll in
	// hand holds and the time of its oldest (unix nanoseconds), until its
	// transaction ended.
	inPoll, inPollSince atomic.Int64
	// Transactions committed and aborted, decisions dropped by aborts.
	committed, aborted, dropped atomic.Uint64
}

type partitionKey struct {
	topic     string
	partition int32
}

// tracked is a record in hand, not yet committed.
type tracked struct {
	rec  *kgo.Record
	done atomic.Bool
	// head is the local log's head when it was done: everything it caused
	// is at or below it.
	head atomic.Int64
}

func (t *tracked) finish(head int64) {
	t.head.Store(head)
	t.done.Store(true)
}

// Start joins the context's group.
func (f *Feed) Start(cluster Cluster) error {
	f.cluster = cluster
	f.pending = map[partitionKey][]*tracked{}
	if f.Stage == nil {
		// Partition n of every topic of the group goes to the same member:
		// the commands for a product reach the member that reserves it.
		cl, err := newClient(cluster, append(f.groupOpts(), kgo.BlockRebalanceOnPoll(), kgo.DisableAutoCommit(),
			kgo.Balancers(kgo.RangeBalancer()))...)
		if err != nil {
			return err
		}
		f.cl = cl
		return nil
	}
	if f.TransactionalID == "" {
		return fmt.Errorf("kafka feed of %s: a transactional feed needs a transactional id", f.Context)
	}
	return f.startSession()
}

// groupOpts are the options of the feed's group membership.
func (f *Feed) groupOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumerGroup(GroupName(f.Context)),
		kgo.ConsumeTopics(append([]string{CommandTopic(f.Context)}, f.Topics...)...),
		kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(time.Second),
		kgo.FetchMaxWait(time.Second),
		kgo.OnPartitionsAssigned(f.assigned),
		kgo.OnPartitionsRevoked(f.revoked),
		kgo.OnPartitionsLost(f.lostPartitions),
	}
}

// startSession joins the group as a transactional member. Rebalances are
// not blocked while a poll is in hand: one that takes partitions from this
// member aborts its transaction instead (see runTransactions).
func (f *Feed) startSession() error {
	opts := append(baseOpts(f.cluster), f.groupOpts()...)
	opts = append(opts,
		// Static membership: a member restarted on its database takes its
		// partitions back at once instead of after the dead one's session,
		// and a stalled one that comes back as it is fenced by its instance.
		kgo.InstanceID(f.TransactionalID),
		kgo.TransactionalID(f.TransactionalID),
		kgo.RecordPartitioner(keyPartitioner()),
		// Longer than any transaction of a live member; a member stalled
		// longer has its transaction aborted by the broker.
		kgo.TransactionTimeout(transactionTimeout),
		kgo.RequireStableFetchOffsets(),
		kgo.Balancers(copartitionedBalancer()),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("kafka transactional feed of %s for %s: %w", f.Context, f.cluster, err)
	}
	f.mu.Lock()
	f.session, f.cl = sess, sess.Client()
	f.mu.Unlock()
	f.txPub = newTxPublisher(f.cl)
	return nil
}

// transactionTimeout bounds a transaction of a transactional feed.
const transactionTimeout = 10 * time.Second

// Run reads until ctx ends, then commits what is done and leaves the group.
func (f *Feed) Run(ctx context.Context) error {
	if f.Stage != nil {
		return f.runTransactions(ctx)
	}
	commits := make(chan struct{})
	go func() {
		defer close(commits)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f.commit(ctx)
			}
		}
	}()
	defer func() {
		<-commits
		final, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		f.commit(final)
		cancel()
		// Leaving the group is a rebalance, which waits for the last poll
		// to be allowed one.
		f.cl.AllowRebalance()
		f.cl.Close()
	}()
	for {
		fetches := f.cl.PollRecords(ctx, 4096)
		if ctx.Err() != nil {
			return nil
		}
		f.logFetchErrors(fetches)
		if err := f.handle(ctx, fetches.Records()); err != nil {
			if ctx.Err() != nil || errors.Is(err, events.ErrClosed) {
				return nil
			}
			return err
		}
		f.cl.AllowRebalance()
	}
}

func (f *Feed) logFetchErrors(fetches kgo.Fetches) {
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.Canceled) {
			f.Log.Warn("kafka feed: fetch failed, retrying", "group", GroupName(f.Context), "topic", topic, "partition", p, "err", err)
		}
	})
}

// handle takes one poll's records in hand: events are imported in one
// transaction and handed to the reaction, commands carried out in order.
func (f *Feed) handle(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	ts := make([]*tracked, len(recs))
	f.mu.Lock()
	for i, rec := range recs {
		ts[i] = &tracked{rec: rec}
		k := partitionKey{rec.Topic, rec.Partition}
		f.pending[k] = append(f.pending[k], ts[i])
	}
	f.mu.Unlock()

	polled, err := f.importPoll(ctx, recs)
	if err != nil {
		return err
	}
	commandTopic := CommandTopic(f.Context)
	for i, rec := range recs {
		t := ts[i]
		if rec.Topic == commandTopic {
			if err := f.execute(ctx, rec); err != nil {
				return err
			}
			t.finish(f.Store.DB().Head())
			continue
		}
		p, ok := polled[i]
		if !ok || p.Stale || f.Reaction == nil {
			t.finish(0)
			continue
		}
		if !f.Reaction.Deliver(ctx, p.Event, f.keep(rec), nil, func() { t.finish(f.Store.DB().Head()) }) {
			return ctx.Err()
		}
	}
	return nil
}

// polledEvent is an event of a poll's record as the local log took it in.
type polledEvent struct {
	events.Event // at its position in this log
	events.Imported
}

// importPoll decodes the events of a poll's records (a record that is not
// an event is logged and skipped; commands are left out) and imports them
// in one transaction. A record whose event the log holds already is not
// decoded; a partial feed passes by, undecoded, the records of types its
// reaction does not take. The result is keyed by the record's index in
// recs.
func (f *Feed) importPoll(ctx context.Context, recs []*kgo.Record) (map[int]polledEvent, error) {
	commandTopic := CommandTopic(f.Context)
	out := make(map[int]polledEvent, len(recs))
	var evs []events.Event
	var at []int
	var copied []string
	for i, rec := range recs {
		if rec.Topic == commandTopic {
			continue
		}
		if f.Partial && !f.takes(rec) {
			continue
		}
		if e, ok := heldEvent(f.Store, rec); ok {
			out[i] = polledEvent{Event: e, Imported: events.Imported{Position: e.Position}}
			continue
		}
		e, err := decodeEvent(rec)
		if err != nil {
			f.Log.Error("kafka feed: a record that is not an event is skipped", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
			continue
		}
		if family := commands.StreamContext(e.StreamID); f.Repartitioned && rec.Topic != FamilyTopic(family) &&
			f.Replica != nil && f.Replica.Copies(family) && !slices.Contains(copied, family) {
			copied = append(copied, family)
		}
		evs = append(evs, e)
		at = append(at, i)
	}
	// A re-keyed record carries a stream's events in another order than
	// its family's topic (the order process gets stock-p's results keyed by
	// order). When the replica copies that family whole, it alone imports
	// it, in its order, so that this log holds every stream in version
	// order; the feed waits until it has. The family's record was committed
	// with the re-keyed one, so it is below the replica's target.
	if len(copied) > 0 {
		if _, err := retryUnavailable(ctx, f.Log, func() (struct{}, error) { return struct{}{}, f.Replica.CatchUp(ctx, copied...) }); err != nil {
			return nil, err
		}
	}
	imported, err := retryUnavailable(ctx, f.Log, func() ([]events.Imported, error) { return importEvents(ctx, f.Store, f.Log, evs, nil) })
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		e := evs[j]
		e.Position = imported[j].Position
		out[i] = polledEvent{Event: e, Imported: imported[j]}
	}
	return out, nil
}

// takes says the feed's reaction may take the record's event: it does not
// when the record's headers name a type it does not consume (a record
// without a type header, written by an early version, is decoded to see).
func (f *Feed) takes(rec *kgo.Record) bool {
	t := eventType(rec)
	return t == "" || (f.Reaction != nil && f.Reaction.Wants(t))
}

// keep is, for a reaction that reads a topic re-keyed by what it writes,
// the filter that takes from an event only the key its record was
// published under; nil (everything) otherwise.
func (f *Feed) keep(rec *kgo.Record) func(string) bool {
	if !f.Repartitioned {
		return nil
	}
	key := string(rec.Key)
	return func(k string) bool { return k == key }
}

// catchUpForCommands returns once whatever the callers of the commands
// about to be carried out had published before they sent them is in the
// copies this context reads of others (a product defined just before its
// stock is added), and in the read models built from them: once per poll,
// not per command. The context's own family needs nothing: this member is
// its writer, and took its partitions over caught up.
func (f *Feed) catchUpForCommands(ctx context.Context) {
	if f.Replica == nil {
		return
	}
	var copies []string
	for _, family := range commands.Needs(f.Context) {
		if family != f.Context {
			copies = append(copies, family)
		}
	}
	if len(copies) == 0 {
		return
	}
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := f.Replica.CatchUp(wait, copies...)
	if err == nil && f.ReadModelsAt != nil {
		err = f.ReadModelsAt(wait, f.Store.DB().Head())
	}
	if err != nil {
		f.Log.Warn("kafka feed: could not catch up before commands; carrying them out with the copy as it is", "context", f.Context, "err", err)
	}
}

// execute carries out one command and publishes its reply once the events
// it reports are published.
func (f *Feed) execute(ctx context.Context, rec *kgo.Record) error {
	f.catchUpForCommands(ctx)
	rep, ok, err := f.answer(ctx, rec)
	if err != nil || !ok {
		return err
	}
	if err := f.Relay.WaitPublished(ctx, f.Store.DB().Head()); err != nil {
		return err
	}
	if !publish(ctx, f.Publisher, f.Log, rep) {
		return ctx.Err()
	}
	return nil
}

// answer carries out one command, once caught up (catchUpForCommands), and
// returns its reply (false for a record that is not a command, which is
// skipped).
func (f *Feed) answer(ctx context.Context, rec *kgo.Record) (outgoing, bool, error) {
	cmd, err := decodeCommand(rec, f.Context)
	if err != nil {
		f.Log.Error("kafka feed: a record that is not a command is skipped", "topic", rec.Topic, "offset", rec.Offset, "err", err)
		return outgoing{}, false, nil
	}
	rep := reply{CommandID: cmd.ID}
	if cmd.Context != f.Context {
		rep.Code, rep.Message = fault.CodeInternal, "command "+string(cmd.Name)+" for "+cmd.Context+" reached "+f.Context
	} else if !strings.HasPrefix(cmd.ID, commands.CommandIDPrefix) {
		// A command from outside orderflow: its id must be one the log
		// finds its events by, or a second delivery would be carried out
		// again.
		rep.Code, rep.Message = fault.CodeBadUserInput, "command "+string(cmd.Name)+" "+cmd.ID+": a command's id (ce_id) must start with "+
			commands.CommandIDPrefix+", so that a command delivered twice is carried out once; nothing was done"
	} else {
		res, err := retryUnavailable(ctx, f.Log, func() (commands.Result, error) { return f.Handlers.Execute(ctx, cmd) })
		switch {
		case ctx.Err() != nil:
			return outgoing{}, false, ctx.Err()
		case err != nil:
			rep.Code, rep.Message = refusal(err)
			if rep.Code == "INTERNAL" {
				f.Log.Error("kafka feed: command failed", "command", cmd.Name, "id", cmd.ID, "err", err)
				rep.Message = "the " + f.Context + " service could not carry out " + string(cmd.Name) + " (see its log, command " + cmd.ID + ")"
			}
		default:
			rep.ResultID, rep.EventID = res.ID, res.EventID
			if rep.EventID == "" && res.Position > 0 {
				id, err := f.Store.IDAt(ctx, res.Position)
				if err != nil {
					return outgoing{}, false, err
				}
				rep.EventID = id
			}
		}
	}
	msg, err := replyMessage(f.Context, rep, time.Now())
	if err != nil {
		return outgoing{}, false, err
	}
	return outgoing{topic: RepliesTopic, key: cmd.ID, msg: msg}, true, nil
}

// refusal is the code and message a remote caller gets for err.
func refusal(err error) (fault.Code, string) { return fault.KindOf(err).Code(), err.Error() }

// commit commits, per partition, the records done and published from the
// oldest on.
func (f *Feed) commit(ctx context.Context) {
	published := f.Relay.Published()
	var recs []*kgo.Record
	f.mu.Lock()
	for k, ts := range f.pending {
		n := 0
		for n < len(ts) && ts[n].done.Load() && ts[n].head.Load() <= published {
			n++
		}
		if n > 0 {
			recs = append(recs, ts[n-1].rec)
			f.pending[k] = ts[n:]
		}
	}
	f.mu.Unlock()
	if len(recs) == 0 {
		return
	}
	if err := f.cl.CommitRecords(ctx, recs...); err != nil && ctx.Err() == nil {
		// The records were handled; they come again only if this process
		// stops before a later commit, and their effects are idempotent.
		f.Log.Warn("kafka feed: commit failed", "group", GroupName(f.Context), "err", err)
	}
}

func (f *Feed) assigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	if len(assigned) == 0 {
		return // a cooperative rebalance that gave this member nothing
	}
	f.Log.Info("kafka feed: partitions assigned", "group", GroupName(f.Context), "partitions", assigned)
	if f.Stage != nil {
		// A transactional feed catches up when it next decides (take over),
		// once its offsets were fetched: a fetch waits for the previous
		// owner's last transaction to end, this callback does not.
		f.mu.Lock()
		if f.given == nil {
			f.given = map[int32]bool{}
		}
		if f.owned == nil {
			f.owned = map[int32]bool{}
		}
		for _, ps := range assigned {
			for _, p := range ps {
				f.given[p] = true
				f.owned[p] = true
			}
		}
		f.mu.Unlock()
		return
	}
	if f.OnAssigned != nil {
		// The broker may go away right after it assigned the partitions:
		// wait for it (or the database) rather than decide without the
		// previous owner's last decisions.
		_, err := retryUnavailable(ctx, f.Log, func() (struct{}, error) { return struct{}{}, f.OnAssigned(ctx) })
		if err != nil && ctx.Err() == nil {
			f.Log.Error("kafka feed: preparing assigned partitions failed", "group", GroupName(f.Context), "err", err)
		}
	}
}

// revoked waits (a while) until what was taken from the partitions going
// away is done, and commits it, so that the next owner starts after it.
// A transactional feed's transaction in flight aborts instead: the feed
// drops the deliveries it had not decided and waits for the lanes to let
// go of the others.
func (f *Feed) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	if len(revoked) == 0 {
		return // a cooperative rebalance that took nothing from this member
	}
	f.Log.Info("kafka feed: partitions revoked", "group", GroupName(f.Context), "partitions", revoked)
	if f.Stage != nil {
		// The transaction in flight aborts (the session sees the
		// revocation): its deliveries not yet decided are dropped, and the
		// partitions go once the lanes let go of them.
		f.losses.Add(1)
		f.disown(revoked)
		f.settle(ctx)
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		f.commit(ctx)
		if f.inHand(revoked) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.drop(revoked)
}

// lostPartitions forgets the records of partitions taken away without a
// chance to commit: the next owner has them again. A transactional feed
// drops the deliveries it had not decided yet; its transaction aborts.
func (f *Feed) lostPartitions(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	if len(lost) == 0 {
		return
	}
	f.Log.Warn("kafka feed: partitions lost", "group", GroupName(f.Context), "partitions", lost)
	f.losses.Add(1)
	f.drop(lost)
	f.disown(lost)
	f.settle(ctx)
}

// disown forgets that the feed owns partitions taken from it.
func (f *Feed) disown(parts map[string][]int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ps := range parts {
		for _, p := range ps {
			delete(f.owned, p)
		}
	}
}

// settle returns once no delivery is in the lanes (decided or dropped), or
// ctx ends.
func (f *Feed) settle(ctx context.Context) {
	for f.deciding.Load() > 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
}

func (f *Feed) inHand(parts map[string][]int32) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for topic, ps := range parts {
		for _, p := range ps {
			n += len(f.pending[partitionKey{topic, p}])
		}
	}
	return n
}

func (f *Feed) drop(parts map[string][]int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for topic, ps := range parts {
		for _, p := range ps {
			delete(f.pending, partitionKey{topic, p})
		}
	}
}

// retryUnavailable runs fn until it does not fail for the database or the
// broker being unavailable (events.Unavailable), or ctx ends.
func retryUnavailable[T any](ctx context.Context, log *slog.Logger, fn func() (T, error)) (T, error) {
	wait := 10 * time.Millisecond
	for {
		v, err := fn()
		if err == nil || !events.Unavailable(err) {
			return v, err
		}
		log.Warn("kafka: the database or broker is unavailable, retrying", "err", err)
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// InHand is how many records the feed took and has not committed yet, and
// the age of the oldest (by its record time): how far behind the context is
// in handling what reached it.
func (f *Feed) InHand(now time.Time) (int, time.Duration) {
	if f.Stage != nil {
		// A transactional feed holds one poll at a time, until its
		// transaction ended.
		n, since := int(f.inPoll.Load()), f.inPollSince.Load()
		if n == 0 {
			return 0, 0
		}
		return n, max(now.Sub(time.Unix(0, since)), 0)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	var oldest time.Time
	for _, ts := range f.pending {
		n += len(ts)
		if len(ts) > 0 && (oldest.IsZero() || ts[0].rec.Timestamp.Before(oldest)) {
			oldest = ts[0].rec.Timestamp
		}
	}
	if oldest.IsZero() {
		return n, 0
	}
	return n, max(now.Sub(oldest), 0)
}

// Owns says this member holds, now, the partition of its context's topics
// that a key is in (partitions is how many each topic has): it is the
// writer of the key's stream until a rebalance takes the partition away.
// Every topic of the group is co-partitioned, so the partition numbers
// the feed owns say it for all of them. Only a transactional feed (every
// context split into services that writes streams) keeps them.
func (f *Feed) Owns(key string, partitions int) bool {
	p := int32(partitionOf([]byte(key), partitions))
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.owned[p]
}
