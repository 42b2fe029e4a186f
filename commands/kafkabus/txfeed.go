package kafkabus

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"orderflow/events"
)

// runTransactions is the feed of a context that scales out: every poll is
// one Kafka transaction (KIP-447, franz-go's GroupTransactSession).
//
// Guarantees, before the mechanism:
//   - Fenced: what a member decides takes effect only if its transaction
//     commits, and the transaction commits the offsets of the records that
//     caused the decisions with the member's group generation. A member
//     that lost its partitions (stalled past its session, cut off from the
//     broker) is no longer of that generation: its commit is refused, its
//     transaction aborted, and readers at read_committed (every orderflow
//     reader) never see its records. Its own log never held them (Stage).
//   - Exactly once: the decisions, the replies to commands and the input
//     offsets commit together or not at all. An aborted transaction's
//     records come again, from the committed offsets, and are decided anew
//     against the log, which holds only committed decisions.
//   - Rebalances pause only what moves (a cooperative, co-partitioned
//     balancer). A revocation or a loss aborts the transaction in flight
//     and drops its deliveries not yet decided. A member given partitions
//     decides on them only after the previous owner's last transaction
//     ended and its own copy of the context's topic holds all of it
//     (takeOver).
//   - Durable before visible: the topic is the record, the local log a
//     cache of it; a reply is published in the transaction of the events
//     it reports, after them.
//
// A transaction that cannot end (the broker out of reach for longer than
// the client retries) leaves the client in a state it cannot go on from:
// the member leaves the group, drops what it decided, and joins again
// with the same transactional id, which aborts whatever was left open.
func (f *Feed) runTransactions(ctx context.Context) error {
	if f.JoinAfter != nil {
		select {
		case <-ctx.Done():
			return nil
		case <-f.JoinAfter:
		}
		if err := f.startSession(); err != nil {
			return err
		}
	}
	wait := 100 * time.Millisecond
	for {
		err := f.transactUntil(ctx)
		member, _ := f.cl.GroupMetadata()
		f.session.Close()
		if ctx.Err() != nil || err == nil || errors.Is(err, events.ErrClosed) {
			f.leave(member)
			return nil
		}
		f.Stage.take()
		f.forget()
		f.Log.Warn("kafka feed: the transactional member starts again", "group", GroupName(f.Context), "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
		if err := f.startSession(); err != nil {
			return err
		}
	}
}

// leave takes this member out of its group after a clean stop, so that its
// partitions move to the others at once. A static member's client does not
// leave by itself (a restart with the same instance takes its partitions
// back without a rebalance); a member that crashed leaves when its session
// times out.
func (f *Feed) leave(member string) {
	cl, err := newClient(f.cluster)
	if err != nil {
		f.Log.Warn("kafka feed: could not leave the group; its partitions move when the session times out", "group", GroupName(f.Context), "err", err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = GroupName(f.Context)
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID, m.InstanceID = member, &f.TransactionalID
	req.Members = append(req.Members, m)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err == nil && len(resp.Members) > 0 {
		err = kerr.ErrorForCode(resp.Members[0].ErrorCode)
	}
	if err != nil {
		f.Log.Warn("kafka feed: could not leave the group; its partitions move when the session times out", "group", GroupName(f.Context), "err", err)
	}
}

// transactUntil runs a transaction per poll until ctx ends (nil) or one
// fails.
func (f *Feed) transactUntil(ctx context.Context) error {
	for {
		fetches := f.poll(ctx)
		locals := f.takeLocal()
		if ctx.Err() != nil {
			f.settleLocal(locals, nil, false, nil)
			return nil
		}
		f.logFetchErrors(fetches)
		recs := fetches.Records()
		if len(recs) == 0 {
			// Nothing to commit offsets of, so nothing would fence a
			// transaction of the local commands alone: they take the topic.
			f.settleLocal(locals, nil, false, nil)
			continue
		}
		if err := f.transact(ctx, recs, locals); err != nil {
			return err
		}
	}
}

// poll returns the next records. With local commands waiting, it waits
// at most about one fetch linger (they go with what comes, or take the
// topic when nothing does); otherwise until records come, and a local
// command offered meanwhile ends that wait (see Offer).
func (f *Feed) poll(ctx context.Context) kgo.Fetches {
	if len(f.local) > 0 {
		wait, cancel := context.WithTimeout(ctx, f.cluster.FetchLinger+5*time.Millisecond)
		defer cancel()
		return f.session.PollRecords(wait, 4096)
	}
	wait, wake := context.WithCancel(ctx)
	defer wake()
	f.mu.Lock()
	f.wake = wake
	f.mu.Unlock()
	if len(f.local) > 0 { // offered before the wake was in place
		wake()
	}
	fetches := f.session.PollRecords(wait, 4096)
	f.mu.Lock()
	f.wake = nil
	f.mu.Unlock()
	return fetches
}

// takeOver prepares the partitions given since the last transaction:
// their own-topic partitions are caught up once settled (see
// Replica.CatchUpSettled), and the lanes read their streams from the log
// again. Nothing is staged and no delivery is in the lanes meanwhile.
func (f *Feed) takeOver(ctx context.Context) error {
	f.mu.Lock()
	given := f.given
	f.given = nil
	f.mu.Unlock()
	if len(given) == 0 {
		return nil
	}
	parts := make([]int32, 0, len(given))
	for p := range given {
		parts = append(parts, p)
	}
	started := time.Now()
	_, err := retryUnavailable(ctx, f.Log, func() (struct{}, error) {
		return struct{}{}, f.Replica.CatchUpSettled(ctx, f.Context, parts)
	})
	if err != nil {
		return err
	}
	f.forget()
	f.Log.Info("kafka feed: took partitions over", "group", GroupName(f.Context), "partitions", len(parts), "caught_up_in", time.Since(started).Round(time.Millisecond))
	return nil
}

// transact handles one poll's records in one transaction.
func (f *Feed) transact(ctx context.Context, recs []*kgo.Record, locals []localCommand) error {
	outcomes := make([]localOutcome, len(locals))
	committed := false
	var endErr error
	defer func() { f.settleLocal(locals, outcomes, committed, endErr) }()
	oldest := recs[0].Timestamp
	for _, rec := range recs {
		if rec.Timestamp.Before(oldest) {
			oldest = rec.Timestamp
		}
	}
	f.inPollSince.Store(oldest.UnixNano())
	f.inPoll.Store(int64(len(recs)))
	defer f.inPoll.Store(0)
	if err := f.takeOver(ctx); err != nil {
		return err
	}
	if err := f.session.Begin(); err != nil {
		return fmt.Errorf("kafka feed of %s: begin transaction: %w", f.Context, err)
	}
	caughtUp := false
	replies, err := f.decide(ctx, recs, &caughtUp)
	if err == nil {
		err = f.decideLocal(ctx, locals, outcomes, &caughtUp)
	}
	staged := f.Stage.take()
	if err != nil {
		// Nothing of it takes effect; the records come again.
		f.end(context.WithoutCancel(ctx), kgo.TryAbort, staged)
		return err
	}
	round, err := f.changelogRound(ctx)
	if err != nil {
		f.end(context.WithoutCancel(ctx), kgo.TryAbort, staged)
		return err
	}
	commit := kgo.TryCommit
	if err := f.publishStaged(ctx, staged, append(replies, round...)); err != nil {
		f.Log.Warn("kafka feed: could not publish a transaction's decisions; aborting it, its records come again", "group", GroupName(f.Context), "err", err)
		commit = kgo.TryAbort
	}
	committed, endErr = f.end(ctx, commit, staged)
	if endErr != nil {
		return endErr
	}
	if !committed {
		return nil
	}
	f.roundCommitted()
	// Kafka holds them now: the local log, a cache of the topics, takes
	// them too (the replica may have been first), before the local
	// commands' callers hear of them.
	_, err = retryUnavailable(ctx, f.Log, func() ([]events.Imported, error) {
		return importEvents(ctx, f.Store, f.Log, staged, nil)
	})
	if err == nil {
		f.Stage.Committed(staged)
	}
	return err
}

// forget makes the lanes start afresh and the stage read its streams'
// versions from the log again: after an abort, and when partitions moved.
func (f *Feed) forget() {
	f.Handlers.ForgetLanes()
	f.Stage.Forget()
}

// end ends the transaction and says whether it committed. An abort, asked
// for or forced by a rebalance or a fence, drops what was staged and makes
// the lanes read their streams from the log again.
func (f *Feed) end(ctx context.Context, try kgo.TransactionEndTry, staged []events.Event) (bool, error) {
	committed, err := f.session.End(ctx, try)
	if committed {
		f.committed.Add(1)
		return true, nil
	}
	f.aborted.Add(1)
	f.dropped.Add(uint64(len(staged)))
	f.forget()
	if err != nil {
		return false, fmt.Errorf("kafka feed of %s: end transaction: %w", f.Context, err)
	}
	if try == kgo.TryCommit {
		f.Log.Info("kafka feed: transaction aborted (the group rebalanced, or this member lost its partitions); its decisions are dropped and its records come again",
			"group", GroupName(f.Context), "decisions", len(staged))
	}
	return false, nil
}

// decide imports a poll's events, hands them to the reaction, carries out
// its commands, and returns once every delivery was decided (staged) or
// dropped, with the replies to publish.
func (f *Feed) decide(ctx context.Context, recs []*kgo.Record, caughtUp *bool) ([]outgoing, error) {
	polled, err := f.importPoll(ctx, recs)
	if err != nil {
		return nil, err
	}
	poll := f.losses.Load()
	dropped := func() bool { return f.losses.Load() != poll }
	var pending sync.WaitGroup
	seen := map[string]bool{} // event id and key: a record published twice is decided once
	for i, rec := range recs {
		p, ok := polled[i]
		once := p.ID + "\x00" + string(rec.Key)
		if !ok || p.Stale || f.Reaction == nil || seen[once] {
			continue
		}
		seen[once] = true
		pending.Add(1)
		f.deciding.Add(1)
		done := func() { f.deciding.Add(-1); pending.Done() }
		if !f.Reaction.Deliver(ctx, p.Event, f.keep(rec), dropped, done) {
			return nil, ctx.Err()
		}
	}
	var replies []outgoing
	for _, rec := range recs {
		if rec.Topic != CommandTopic(f.Context) {
			continue
		}
		if !*caughtUp {
			f.catchUpForCommands(ctx)
			*caughtUp = true
		}
		rep, ok, err := f.answer(ctx, rec)
		if err != nil {
			return nil, err
		}
		if ok {
			replies = append(replies, rep)
		}
	}
	pending.Wait()
	return replies, nil
}

// publishStaged hands the staged events and then the replies to the
// transaction (flushed when it ends).
func (f *Feed) publishStaged(ctx context.Context, staged []events.Event, replies []outgoing) error {
	var out []outgoing
	for _, e := range staged {
		recs, _, err := recordsOf(e, func(e events.Event) (events.Payload, error) { return f.Store.Decode(f.Registry, e) }, f.Log)
		if err != nil {
			return err
		}
		out = append(out, recs...)
	}
	out = append(out, replies...)
	for _, rec := range out {
		rec.msg.Metadata.Set(keyMetadata, rec.key)
		rec.msg.SetContext(ctx)
		if err := f.txPub.Publish(rec.topic, rec.msg); err != nil {
			return err
		}
	}
	if err := f.cl.Flush(ctx); err != nil {
		return err
	}
	return f.txPub.Err()
}

// importEvents imports events received from Kafka into the local log and
// raises every one that diverged (see events.DB.RecordDivergence).
func importEvents(ctx context.Context, store *events.Store, log *slog.Logger, evs []events.Event,
	also func(ctx context.Context, tx *sql.Tx) error) ([]events.Imported, error) {
	got, err := store.Import(ctx, evs, also)
	if err != nil {
		return nil, err
	}
	for i, imp := range got {
		if !imp.Stale {
			continue
		}
		e := evs[i]
		log.Error("kafka: a stream diverged: another process published a version of a stream this log holds as another event (two processes wrote one stream); set aside as a dead letter, /readyz is red until it is looked at",
			"stream", e.StreamID, "version", e.StreamVersion, "event", e.ID, "held", imp.Held)
		if err := store.DB().RecordDivergence(ctx, e, imp.Held); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// TransactionStats are a transactional feed's counts: transactions
// committed and aborted, and decisions the aborts dropped.
func (f *Feed) TransactionStats() (committed, aborted, dropped uint64) {
	return f.committed.Load(), f.aborted.Load(), f.dropped.Load()
}

// Ready says what keeps the feed from working: the broker out of reach, or
// the process not (yet) a member of its group. nil when it is.
func (f *Feed) Ready(ctx context.Context) error {
	f.mu.Lock()
	cl := f.cl
	f.mu.Unlock()
	if cl == nil {
		return fmt.Errorf("%s: joins the group once the first copy of the topics is done", GroupName(f.Context))
	}
	if err := ping(ctx, cl); err != nil {
		return fmt.Errorf("%s: %w", GroupName(f.Context), err)
	}
	if member, generation := cl.GroupMetadata(); member == "" || generation < 0 {
		return fmt.Errorf("%s: not a member of the group yet", GroupName(f.Context))
	}
	return nil
}
