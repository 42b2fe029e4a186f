package kafkabus

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"orderflow/commands"
)

// A command of this process's API whose key belongs to a partition a feed
// of this same process owns is carried out by that feed without crossing
// Kafka: no command record, no reply record, no fetch of either. It is
// decided in the feed's next transaction that also commits the offsets of
// records it polled, so it is fenced as a command from the topic is: a
// member that lost its partitions (stalled past its session, cut off) has
// that transaction refused, and its decision never takes effect. The
// caller hears of it only once the transaction committed.
//
// A command the feed does not carry out (its partition moved, the poll
// brought no records to commit with, the transaction aborted) is handed
// back, and the sender publishes it on the command topic as any other: a
// command carried out twice is carried out once (its id), and an aborted
// transaction left nothing of it anywhere.

// localCommand is a command handed to a feed by the sender of its process.
type localCommand struct {
	ctx  context.Context // the caller's: its trace, and whether it still waits
	cmd  commands.Command
	done chan localOutcome // told once
}

// localOutcome is what became of a local command: carried out (taken,
// with the reply a remote caller would have had), handed back (not taken),
// or not known (err: the transaction's end failed).
type localOutcome struct {
	taken bool
	rep   reply
	err   error
}

// localQueue bounds the commands waiting for a feed's next transaction;
// past it, commands take the topic.
const localQueue = 1024

// Offer hands cmd to the feed when it would carry it out here: the feed
// reads with a fetch linger, and owns the partition of cmd's key. A feed
// waiting for records stops waiting; it carries the command out with the
// records it has in hand, or hands it back at once when it has none (an
// idle shop's commands take the topic). The outcome comes on the channel;
// false when the feed does not take it.
func (f *Feed) Offer(ctx context.Context, cmd commands.Command) (<-chan localOutcome, bool) {
	if cmd.Context != f.Context || f.cluster.FetchLinger <= 0 || f.Partitions < 1 ||
		!strings.HasPrefix(cmd.ID, commands.CommandIDPrefix) || !f.ownsKey(cmd.Key) {
		return nil, false
	}
	l := localCommand{ctx: ctx, cmd: cmd, done: make(chan localOutcome, 1)}
	select {
	case f.local <- l:
	default:
		return nil, false
	}
	f.mu.Lock()
	if f.wake != nil {
		f.wake()
	}
	f.mu.Unlock()
	return l.done, true
}

// ownsKey says the feed owns the partition of a key of its command topic.
func (f *Feed) ownsKey(key string) bool {
	p := int32(partitionOf([]byte(key), f.Partitions))
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.owned[p]
}

// takeLocal takes the commands waiting for this transaction.
func (f *Feed) takeLocal() []localCommand {
	var out []localCommand
	for {
		select {
		case l := <-f.local:
			out = append(out, l)
		default:
			return out
		}
	}
}

// decideLocal carries out the local commands the feed still owns the
// keys of, inside the transaction begun; the outcomes are told once it
// ended (settleLocal). Those it does not own any longer stay not taken.
func (f *Feed) decideLocal(ctx context.Context, locals []localCommand, out []localOutcome, caughtUp *bool) error {
	for i, l := range locals {
		if l.ctx.Err() != nil || !f.ownsKey(l.cmd.Key) {
			continue
		}
		if !*caughtUp {
			f.catchUpForCommands(ctx)
			*caughtUp = true
		}
		rep, _, err := f.execute(trace.ContextWithSpanContext(ctx, trace.SpanContextFromContext(l.ctx)), l.cmd)
		if err != nil {
			return err
		}
		out[i] = localOutcome{taken: true, rep: rep}
	}
	return nil
}

// settleLocal tells each local command's caller what became of it once
// the transaction ended (out is nil when none was begun): committed, the
// outcomes as decided; aborted, all handed back (nothing of them took
// effect); not known, an error for those carried out.
func (f *Feed) settleLocal(locals []localCommand, out []localOutcome, committed bool, endErr error) {
	for i, l := range locals {
		var o localOutcome
		switch {
		case out == nil:
		case committed:
			o = out[i]
		case endErr != nil && out[i].taken:
			o.err = fmt.Errorf("the %s service carried out %s in a transaction whose end failed (%w): %w",
				l.cmd.Context, l.cmd.Name, endErr, commands.ErrOutcomeUnknown)
		}
		if o.taken {
			f.localCarried.Add(1)
		} else if o.err == nil {
			f.localHanded.Add(1)
		}
		l.done <- o
	}
}

// LocalCommands counts the commands of this process's API the feed
// carried out (committed) and handed back to take the topic.
func (f *Feed) LocalCommands() (carried, handedBack uint64) {
	return f.localCarried.Load(), f.localHanded.Load()
}
