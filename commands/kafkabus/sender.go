package kafkabus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands"
	"orderflow/domain/fault"
	"orderflow/events"
)

// Sender carries commands to the contexts that run in other processes and
// waits for their replies: a refusal decided there comes back with its
// kind (so the API answers with the same code), a success once the events
// it wrote reached this process's log (so a query right after it sees
// them).
type Sender struct {
	store     *events.Store
	publisher message.Publisher
	log       *slog.Logger
	cl        *kgo.Client

	mu      sync.Mutex
	waiting map[string]chan reply
	// feeds are this process's feeds, which carry out the commands whose
	// keys they own without crossing Kafka (see Feed.Offer).
	feeds atomic.Pointer[[]*Feed]
}

// CarryOutLocally lets the feeds of this process carry out the commands
// whose keys they own (see Feed.Offer); the others still cross Kafka.
func (s *Sender) CarryOutLocally(feeds []*Feed) { s.feeds.Store(&feeds) }

// local carries cmd out in this process when a feed here takes it: the
// result, and true; false when it must cross Kafka.
func (s *Sender) local(ctx context.Context, cmd commands.Command) (commands.Result, bool, error) {
	feeds := s.feeds.Load()
	if feeds == nil {
		return commands.Result{}, false, nil
	}
	for _, f := range *feeds {
		done, ok := f.Offer(ctx, cmd)
		if !ok {
			continue
		}
		select {
		case out := <-done:
			if out.err != nil {
				return commands.Result{}, true, out.err
			}
			if !out.taken {
				return commands.Result{}, false, nil
			}
			res, err := s.result(ctx, cmd, out.rep)
			return res, true, err
		case <-ctx.Done():
			return commands.Result{}, true, s.late(cmd, ctx.Err())
		}
	}
	return commands.Result{}, false, nil
}

// NewSender returns a sender that reads replies from now on.
func NewSender(ctx context.Context, store *events.Store, publisher message.Publisher, cluster Cluster, log *slog.Logger) (*Sender, error) {
	admCl, err := newClient(cluster)
	if err != nil {
		return nil, err
	}
	ends, err := endOffsets(ctx, admCl, RepliesTopic)
	admCl.Close()
	if err != nil {
		return nil, err
	}
	from := map[string]map[int32]kgo.Offset{RepliesTopic: {}}
	ends.Each(func(o kadm.ListedOffset) { from[RepliesTopic][o.Partition] = kgo.NewOffset().At(o.Offset) })
	cl, err := newClient(cluster, append([]kgo.Opt{kgo.ConsumePartitions(from)}, cluster.fetchOpts()...)...)
	if err != nil {
		return nil, err
	}
	return &Sender{store: store, publisher: publisher, log: log, cl: cl, waiting: map[string]chan reply{}}, nil
}

// Run reads replies until ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	defer s.cl.Close()
	for {
		fetches := s.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			s.log.Warn("kafka: reading replies failed, retrying", "partition", p, "err", err)
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			var rep reply
			if err := json.Unmarshal(rec.Value, &rep); err != nil {
				s.log.Error("kafka: a record that is not a reply is skipped", "offset", rec.Offset, "err", err)
				return
			}
			s.mu.Lock()
			ch, ok := s.waiting[rep.CommandID]
			delete(s.waiting, rep.CommandID)
			s.mu.Unlock()
			if ok {
				ch <- rep
			}
		})
	}
}

// Send carries cmd to its context and returns its result there, as a
// result in this log.
func (s *Sender) Send(ctx context.Context, cmd commands.Command) (commands.Result, error) {
	if res, done, err := s.local(ctx, cmd); done {
		return res, err
	}
	// Causality needs nothing here: what this process's contexts decided
	// before the command (the product whose stock it adds) was published
	// in their transactions before it reached this log.
	ch := make(chan reply, 1)
	s.mu.Lock()
	s.waiting[cmd.ID] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiting, cmd.ID)
		s.mu.Unlock()
	}()
	if !publish(ctx, s.publisher, s.log, outgoing{topic: CommandTopic(cmd.Context), key: cmd.Key, msg: withTraceOf(ctx, commandMessage(cmd, time.Now()))}) {
		return commands.Result{}, s.late(cmd, ctx.Err())
	}
	var rep reply
	select {
	case rep = <-ch:
	case <-ctx.Done():
		return commands.Result{}, s.late(cmd, ctx.Err())
	}
	return s.result(ctx, cmd, rep)
}

// result is what a command's reply says: its refusal with its kind, or
// its result once the events it wrote reached this log.
func (s *Sender) result(ctx context.Context, cmd commands.Command, rep reply) (commands.Result, error) {
	if rep.Code != "" {
		if kind := fault.KindOfCode(rep.Code); kind != fault.Unknown {
			return commands.Result{}, fault.New(kind, rep.Message)
		}
		return commands.Result{}, errors.New(rep.Message)
	}
	res := commands.Result{ID: rep.ResultID}
	if rep.EventID == "" {
		return res, nil
	}
	pos, err := s.reached(ctx, rep.EventID)
	if err != nil {
		return res, fmt.Errorf("%s was carried out by the %s service, but its events did not reach this process in time: %w", cmd.Name, cmd.Context, err)
	}
	res.Position = pos
	return res, nil
}

// reached returns the position of an event in this log once it is there.
// It looks among the log's recent events each time the log's head moves,
// and in the table at first and then every 100 ms (an event may be older
// than the recent ones by the time it is looked for).
func (s *Sender) reached(ctx context.Context, eventID string) (int64, error) {
	var asked time.Time
	for {
		head := s.store.DB().Head()
		if e, ok := s.store.Recent(eventID); ok {
			return e.Position, nil
		}
		if time.Since(asked) >= 100*time.Millisecond {
			pos, ok, err := s.store.PositionOf(ctx, eventID)
			if err != nil || ok {
				return pos, err
			}
			asked = time.Now()
		}
		wait, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, err := s.store.DB().WaitBeyond(wait, head)
		cancel()
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if errors.Is(err, events.ErrClosed) {
			return 0, err
		}
	}
}

func (s *Sender) late(cmd commands.Command, err error) error {
	return fmt.Errorf("the %s service did not answer %s in time (is it running?): %w", cmd.Context, cmd.Name, err)
}

// Ask publishes cmd to its context's command topic without waiting for a
// reply: the member that owns its key carries it out (inside its
// transaction, for a context that decides in transactions). A command
// asked again is carried out again, so it must be one whose second time
// changes nothing (ExpireOrder).
func Ask(ctx context.Context, pub message.Publisher, log *slog.Logger, cmd commands.Command) error {
	value, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	if !publish(ctx, pub, log, outgoing{topic: CommandTopic(cmd.Context), key: cmd.Key, msg: message.NewMessage(cmd.ID, value)}) {
		return ctx.Err()
	}
	return nil
}
