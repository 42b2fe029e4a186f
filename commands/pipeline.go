package commands

import (
	"context"

	"orderflow/events"
)

// Consumers lists the asynchronous half of the order flow: each bounded
// context's reaction to the others' events, as a consumer of the log.
//
// Every stream a reaction writes has one writer: the consumer routes its
// input by the key of the stream it writes (inventory by product, fraud by
// customer, the order process, the customer check, notifications and payments
// by order), and one lane owns each key. A lane keeps its keys' state in
// memory, decides a batch of deliveries against it and appends the whole
// batch in one writer request, so a steady state has no version conflicts
// and a popular product costs nothing extra. A conflict only comes from a
// command of the API on the same stream (addStock, cancelOrder): the lane
// forgets what the batch touched, reloads it and decides again.
func (h *Handlers) Consumers() []events.ConsumerSpec {
	var out []events.ConsumerSpec
	for _, c := range Declared() {
		if r := c.Reaction; r != nil {
			out = append(out, events.ConsumerSpec{Name: string(r.Name), Types: r.Types(), Route: r.Route,
				NewLane: func(_ int, startHead int64) events.BatchHandler {
					return &forgetting{h: h, newLane: func() events.BatchHandler { return r.Lane(h, startHead) }}
				}})
		}
	}
	return out
}

// forgetting is a lane as the consumer runs it: after ForgetLanes it starts
// afresh with a new lane, holding nothing, so that everything the old one
// kept in memory (a stream's state, decisions an aborted transaction
// dropped) is read from the log again.
type forgetting struct {
	h       *Handlers
	newLane func() events.BatchHandler
	lane    events.BatchHandler
	epoch   int64 // of the lane, see Handlers.laneEpoch
}

func (f *forgetting) HandleBatch(ctx context.Context, batch []events.Delivery) (int, error) {
	if e := f.h.laneEpoch.Load(); f.lane == nil || e != f.epoch {
		f.lane, f.epoch = f.newLane(), e
	}
	return f.lane.HandleBatch(ctx, batch)
}

// eventTypes names the event types of the given payloads.
func eventTypes(ps ...events.Payload) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.EventType()
	}
	return out
}

// batch collects the appends of one lane batch: for each stream, the
// version the lane held before the batch and the events it decided, each
// with the metadata of the event that caused it.
type batch struct {
	h       *Handlers
	appends []events.StreamAppend
	index   map[string]int
}

func (h *Handlers) newBatch() *batch { return &batch{h: h, index: map[string]int{}} }

// add stages events for a stream, caused by trigger. expected is the
// stream's version as the lane holds it; only the first add of a stream in
// a batch uses it, later ones follow on.
func (b *batch) add(streamID string, expected int64, trigger events.Event, ps []events.Payload) error {
	if len(ps) == 0 {
		return nil
	}
	evs, err := b.h.reg.Encode(causedBy(trigger), ps...)
	if err != nil {
		return err
	}
	now := b.h.now()
	for i := range evs {
		evs[i].OccurredAt = now
	}
	i, ok := b.index[streamID]
	if !ok {
		i = len(b.appends)
		b.index[streamID] = i
		b.appends = append(b.appends, events.StreamAppend{StreamID: streamID, ExpectedVersion: expected})
	}
	if b.appends[i].Events == nil {
		b.appends[i].Events = evs // Encode made them for us: no copy
	} else {
		b.appends[i].Events = append(b.appends[i].Events, evs...)
	}
	return nil
}

// decision is what a lane's decide says of one delivery.
type decision struct {
	key         string // the key whose state the delivery touched, if any
	redelivered bool   // it had been handled before
}

// decideEach decides every delivery of a lane's batch in order with
// decide, which stages the events in b, and then commits b in one writer
// request; it returns how many deliveries were redeliveries. When anything
// fails nothing of the batch was written, so forget is told every key the
// batch touched: the lane reloads their state from the log before it
// decides the batch again.
func (b *batch) decideEach(ctx context.Context, deliveries []events.Delivery, forget func(key string),
	decide func(d events.Delivery) (decision, error)) (int, error) {
	touched := map[string]bool{}
	redelivered := 0
	err := func() error {
		for _, d := range deliveries {
			dec, err := decide(d)
			if dec.key != "" {
				touched[dec.key] = true
			}
			if err != nil {
				return err
			}
			if dec.redelivered {
				redelivered++
			}
		}
		return b.commit(ctx)
	}()
	if err != nil {
		for key := range touched {
			forget(key)
		}
		return 0, err
	}
	return redelivered, nil
}

// commit appends everything staged in one transaction. What a reaction
// appends follows from events already stored, so it is a derived write.
func (b *batch) commit(ctx context.Context) error {
	if len(b.appends) == 0 {
		return nil
	}
	_, err := b.h.appender(b.appends[0].StreamID).Append(events.Derived(ctx), b.appends...)
	return err
}

// laneCacheLimit bounds how many keys a lane keeps in memory (an lru);
// past it the lane forgets the least recently used and reloads a key from
// the log if it ever sees it again.
const laneCacheLimit = 50_000

// answeredBefore says a lane's stream answered a delivery already: its
// cause is at or below answered, the cause of the stream's latest event,
// and it is not a dead letter retried (never answered, however old). That
// holds where the causes reach a lane in the order of one log (one process,
// or one writer's topic). A context that decides in Kafka transactions
// takes nothing as answered: it is handed each record once (its decisions
// commit with the record's offset, and an aborted transaction's are
// dropped with it), and its causes come from several writers (two orders
// members, the orders and the payments topics), whose origins are no one
// order.
func (h *Handlers) answeredBefore(context string, d events.Delivery, answered int64) bool {
	if _, transactional := h.outboxes[context]; transactional {
		return false
	}
	return d.Event.Origin() <= answered && !d.Retry
}

// causedBy is the metadata of what trigger caused: its story
// (correlation), itself as the cause, and its trace context (the lane's
// span's, see events.Consumer).
func causedBy(trigger events.Event) events.Metadata {
	return events.Metadata{CorrelationID: trigger.CorrelationID, CausationID: trigger.ID, CausePosition: trigger.Origin(),
		TraceParent: trigger.TraceParent, TraceState: trigger.TraceState}
}
