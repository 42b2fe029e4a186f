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

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"orderflow/commands"
	"orderflow/domain/fault"
	"orderflow/events"
)

// Feed is one context's consumer group: it reads the context's command
// topic and the topics its reaction consumes, imports the events its
// reaction takes into the local log, hands them to the reaction (a fed
// events.Consumer) and carries out the commands, every poll in one Kafka
// transaction (see runTransactions for the guarantees): every context
// scales out, and decides in its group's transactions.
type Feed struct {
	Context  string
	Store    *events.Store
	Registry *events.Registry
	Reaction *events.Consumer // nil for a context without one
	// Repartitioned says the reaction reads a topic keyed by what it
	// writes (inventory: orders by product), and takes from each record
	// only the key it was published under.
	Repartitioned bool
	// Topics are the reaction's input topics. They are not this process's
	// copy of them (the feed reads only its partitions, and the replica
	// copies what the process reads of other contexts): the feed imports
	// only the events its reaction takes.
	Topics   []string
	Handlers *commands.Handlers
	Replica  *Replica
	// ReadModelsAt, when set, returns once the read models the commands
	// decide against (the products read model: placeOrder's prices,
	// addStock's known products) have applied the local log up to position.
	ReadModelsAt func(ctx context.Context, position int64) error
	// Stage is the context's outbox: the handlers append its events
	// there, and the feed publishes them in its transactions.
	Stage *Stage
	// TransactionalID names this member's transactional producer: the same
	// for the same member across restarts, so that a restarted member
	// fences its previous incarnation at once.
	TransactionalID string
	// Partitions is the number of partitions of every orderflow topic.
	Partitions int
	Log        *slog.Logger
	// JoinAfter, when set, holds the feed out of its group until it is
	// closed: the process's first copy of the topics (Replica.Copied). A
	// member given partitions decides on them only once its copy holds
	// them; one that joined with its copy far behind would hold the
	// partitions it took, and their orders, until then, while the members
	// that had them could go on deciding.
	JoinAfter <-chan struct{}

	cluster Cluster
	cl      *kgo.Client
	// local are the commands of this process's API waiting for the next
	// transaction (see Offer); wake ends the wait of a poll for them.
	local   chan localCommand
	wake    context.CancelFunc
	session *kgo.GroupTransactSession
	txPub   *Publisher
	mu      sync.Mutex
	// given are the partitions (by number) given to the feed since its
	// last transaction: it catches up on them before it decides.
	given map[int32]bool
	// owned are the partitions (by number) the feed owns, and rounds what
	// it wrote of its context's changelog (see changelogRound).
	owned  map[int32]bool
	rounds rounds
	// losses counts the partition losses and revocations: a delivery of a
	// poll taken before the last one is dropped, not decided. deciding
	// counts the deliveries in the lanes.
	losses   atomic.Int64
	deciding atomic.Int64
	// inPoll is how many records the poll in hand holds and the time of its oldest (unix nanoseconds), until its
	// transaction ended.
	inPoll, inPollSince atomic.Int64
	// Transactions committed and aborted, decisions dropped by aborts.
	committed, aborted, dropped atomic.Uint64
	// Local commands carried out and handed back (see Offer).
	localCarried, localHanded atomic.Uint64
}

// Start joins the context's group, or, with JoinAfter, checks the
// options it will join with (Run joins once JoinAfter is closed).
func (f *Feed) Start(cluster Cluster) error {
	f.cluster = cluster
	f.local = make(chan localCommand, localQueue)
	if f.Stage == nil || f.TransactionalID == "" {
		return fmt.Errorf("kafka feed of %s: a feed needs its context's stage and a transactional id", f.Context)
	}
	if f.JoinAfter != nil {
		if err := kgo.ValidateOpts(f.sessionOpts()...); err != nil {
			return fmt.Errorf("kafka transactional feed of %s for %s: %w", f.Context, f.cluster, err)
		}
		return nil
	}
	return f.startSession()
}

// heartbeatInterval is how often a member tells its group's coordinator it
// is alive, and so how soon it hears of a rebalance: a member that joins
// (a new one, or one taking over) is given partitions once every member
// has heard of the rebalance on a heartbeat and rejoined, twice over with
// cooperative rebalancing. A second made a member seeded from a backup
// ready 0.7–1.9 s after its start in a small deployment, a quarter of a
// second 0.5–0.6 s, for about 4 small requests a second per member and
// group. The session (6 s) is what decides that a silent member is gone.
const heartbeatInterval = 250 * time.Millisecond

// groupOpts are the options of the feed's group membership. A feed of
// its context's commands only (no reaction) fetches as a quiet reader.
func (f *Feed) groupOpts() []kgo.Opt {
	fetch := f.cluster.fetchOpts()
	if len(f.Topics) == 0 {
		fetch = quietFetchOpts()
	}
	return append([]kgo.Opt{
		kgo.ConsumerGroup(GroupName(f.Context)),
		kgo.ConsumeTopics(append([]string{CommandTopic(f.Context)}, f.Topics...)...),
		kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(heartbeatInterval),
		kgo.OnPartitionsAssigned(f.assigned),
		kgo.OnPartitionsRevoked(f.revoked),
		kgo.OnPartitionsLost(f.lostPartitions),
	}, fetch...)
}

// startSession joins the group as a transactional member. Rebalances are
// not blocked while a poll is in hand: one that takes partitions from this
// member aborts its transaction instead (see runTransactions).
func (f *Feed) startSession() error {
	sess, err := kgo.NewGroupTransactSession(f.sessionOpts()...)
	if err != nil {
		return fmt.Errorf("kafka transactional feed of %s for %s: %w", f.Context, f.cluster, err)
	}
	f.mu.Lock()
	f.session, f.cl = sess, sess.Client()
	f.mu.Unlock()
	f.txPub = newTxPublisher(f.cl)
	return nil
}

// sessionOpts are the options of the feed's transactional session.
func (f *Feed) sessionOpts() []kgo.Opt {
	opts := append(baseOpts(f.cluster), f.groupOpts()...)
	return append(opts,
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
}

// transactionTimeout bounds a transaction of a transactional feed.
const transactionTimeout = 10 * time.Second

// Run reads until ctx ends, a transaction per poll, then leaves the group.
func (f *Feed) Run(ctx context.Context) error { return f.runTransactions(ctx) }

func (f *Feed) logFetchErrors(fetches kgo.Fetches) {
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.Canceled) {
			f.Log.Warn("kafka feed: fetch failed, retrying", "group", GroupName(f.Context), "topic", topic, "partition", p, "err", err)
		}
	})
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
		if !f.takes(rec) {
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

// answer carries out one command, once caught up (catchUpForCommands), and
// returns its reply (false for a record that is not a command, which is
// skipped).
func (f *Feed) answer(ctx context.Context, rec *kgo.Record) (outgoing, bool, error) {
	cmd, err := decodeCommand(rec, f.Context)
	if err != nil {
		f.Log.Error("kafka feed: a record that is not a command is skipped", "topic", rec.Topic, "offset", rec.Offset, "err", err)
		return outgoing{}, false, nil
	}
	rep, ctx, err := f.execute(traceOf(ctx, rec), cmd)
	if err != nil {
		return outgoing{}, false, err
	}
	msg, err := replyMessage(f.Context, rep, time.Now())
	if err != nil {
		return outgoing{}, false, err
	}
	return outgoing{topic: RepliesTopic, key: cmd.ID, msg: withTraceOf(ctx, msg)}, true, nil
}

// execute carries out a command, in the trace ctx carries, and returns the
// reply its caller gets (a refusal is a reply too; an error only when ctx
// ended, or its event's id could not be read) and the context of the
// execution's span, which its reply travels in.
func (f *Feed) execute(ctx context.Context, cmd commands.Command) (reply, context.Context, error) {
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
		var span trace.Span
		ctx, span = events.StartSpan(ctx, "execute "+string(cmd.Name), trace.SpanKindConsumer, nil,
			attribute.String("orderflow.command", string(cmd.Name)), attribute.String("orderflow.key", cmd.Key))
		res, err := retryUnavailable(ctx, f.Log, func() (commands.Result, error) { return f.Handlers.Execute(ctx, cmd) })
		events.EndSpan(span, err)
		switch {
		case ctx.Err() != nil:
			return reply{}, ctx, ctx.Err()
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
					return reply{}, ctx, err
				}
				rep.EventID = id
			}
		}
	}
	return rep, ctx, nil
}

// refusal is the code and message a remote caller gets for err.
func refusal(err error) (fault.Code, string) { return fault.KindOf(err).Code(), err.Error() }

// assigned records the partitions given: the feed catches up on them when
// it next decides (takeOver), once their offsets were fetched (a fetch
// waits for the previous owner's last transaction to end, this callback
// does not).
func (f *Feed) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	if len(assigned) == 0 {
		return // a cooperative rebalance that gave this member nothing
	}
	f.Log.Info("kafka feed: partitions assigned", "group", GroupName(f.Context), "partitions", assigned)
	f.mu.Lock()
	defer f.mu.Unlock()
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
}

// revoked aborts the transaction in flight (the session sees the
// revocation): its deliveries not yet decided are dropped, and the
// partitions go once the lanes let go of the others.
func (f *Feed) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	if len(revoked) == 0 {
		return // a cooperative rebalance that took nothing from this member
	}
	f.Log.Info("kafka feed: partitions revoked", "group", GroupName(f.Context), "partitions", revoked)
	f.losses.Add(1)
	f.disown(revoked)
	f.settle(ctx)
}

// lostPartitions drops the deliveries of partitions taken away without a
// chance to commit that were not decided yet; the transaction in flight
// aborts, and the next owner has the records again.
func (f *Feed) lostPartitions(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	if len(lost) == 0 {
		return
	}
	f.Log.Warn("kafka feed: partitions lost", "group", GroupName(f.Context), "partitions", lost)
	f.losses.Add(1)
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
	// The feed holds one poll at a time, until its transaction ended.
	n, since := int(f.inPoll.Load()), f.inPollSince.Load()
	if n == 0 {
		return 0, 0
	}
	return n, max(now.Sub(time.Unix(0, since)), 0)
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
