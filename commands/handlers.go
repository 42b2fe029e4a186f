// Package commands is the write side: one handler per command, each loading
// the streams it needs, asking the domain to decide, and appending the
// resulting events with the versions it loaded. It is the only writer of
// every stream. A version conflict means another writer got there first:
// the handler loads again and decides again.
package commands

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/notification"
	"orderflow/domain/order"
	"orderflow/events"
)

// Registry knows every event type of every context, with its current
// schema version and the upcasters from older ones (as each context
// declares them).
func Registry() *events.Registry {
	var regs []events.Registration
	for _, c := range Declared() {
		regs = append(regs, c.Events...)
	}
	return events.NewRegistry(regs...)
}

// current registers event types at their current (first) schema version.
func current(payloads ...events.Payload) []events.Registration {
	out := make([]events.Registration, len(payloads))
	for i, p := range payloads {
		out[i] = events.Registration{Payload: p}
	}
	return out
}

// Catalog is the orders context's copy of the catalog: the current unit
// price of each known product. Unknown ids are absent from the result.
type Catalog interface {
	Prices(ctx context.Context, productIDs []string) (map[string]int64, error)
}

// Handlers executes commands against the event store.
type Handlers struct {
	store      *events.Store
	reg        *events.Registry
	catalog    Catalog
	fraud      fraud.Rule
	joinWindow time.Duration
	now        func() time.Time
	stock      *snapshots[inventory.Stock]
	frauds     *snapshots[fraud.History]
	// observeValidated is told how long each order took from placement
	// to validation; nil when nobody listens.
	observeValidated func(time.Duration)
	// deadlines are how long an order may wait for validation and payment;
	// observeExpired is told the reason of each expiry (nil: nobody listens).
	deadlines      order.Deadlines
	observeExpired func(reason string)
	// catchUp, when split into services, returns once this process's copy
	// of other contexts' families holds what was published before.
	catchUp func(ctx context.Context, families ...string) error
	// laneEpoch changes when the streams a context keeps in this process
	// may have been written elsewhere meanwhile (its consumer group gave
	// this process partitions another member had): the lanes then forget
	// what they held and read those streams from the log again.
	laneEpoch atomic.Int64
	// outboxes take the events of the contexts that decide in a Kafka
	// transaction (see Outbox); the others append to the log.
	outboxes map[string]Outbox
}

// Config are the business settings the handlers need.
type Config struct {
	Fraud fraud.Rule
	// JoinWindow is how far apart validation and payment may be for an
	// order confirmation to be sent; notification.DefaultJoinWindow when 0.
	JoinWindow time.Duration
	// Now is the clock; time.Now when nil. Domain decisions get time from here.
	Now func() time.Time
	// ObserveValidated, when set, is told how long each order took from
	// placement to validation (for the latency histogram in /metrics).
	ObserveValidated func(time.Duration)
	// Deadlines are how long an order may wait for its validation and its
	// payment before it expires (see ExpireOrder); zero turns one off.
	Deadlines order.Deadlines
	// ObserveExpired, when set, is told the reason of each order expired
	// (VALIDATION_TIMEOUT or PAYMENT_TIMEOUT), for /metrics.
	ObserveExpired func(reason string)
	// CatchUp, when the contexts are split into services, returns once
	// the local copy of the given families holds what was published before
	// it was called (nil in one process, where the log is the copy).
	CatchUp func(ctx context.Context, families ...string) error
}

// New returns the command handlers.
func New(store *events.Store, reg *events.Registry, catalog Catalog, cfg Config) *Handlers {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.JoinWindow <= 0 {
		cfg.JoinWindow = notification.DefaultJoinWindow
	}
	return &Handlers{
		store: store, reg: reg, catalog: catalog, fraud: cfg.Fraud, joinWindow: cfg.JoinWindow, now: cfg.Now,
		observeValidated: cfg.ObserveValidated, catchUp: cfg.CatchUp,
		deadlines: cfg.Deadlines, observeExpired: cfg.ObserveExpired,
		stock: newSnapshots(
			func(s inventory.Stock, p events.Payload) inventory.Stock { return s.Evolve(p) }, inventory.Stock.Clone),
		frauds: newSnapshots(
			func(h fraud.History, p events.Payload) fraud.History {
				return h.Evolve(p).Forget(cfg.Fraud.Retention())
			}, fraud.History.Clone),
	}
}

// Result says where a command left the log: Position is the global position
// of the last event it wrote, or of the stream's last event when it wrote
// nothing (a safe retry). Waiting for read models to reach Position gives
// read-your-writes.
type Result struct {
	ID       string
	Position int64
	// EventID is the id of the last event the command wrote, "" when it
	// wrote nothing. Split over Kafka, a context that decides in a
	// transaction (see Outbox) writes events that reach this log only once
	// the transaction committed, without a position at first: the caller
	// waits for this id instead.
	EventID string
}

// maxAttempts bounds how often a command reloads after a version conflict.
const maxAttempts = 30

// retry runs one load-decide-append attempt until it does not conflict.
func retry(ctx context.Context, attempt func() error) error {
	var err error
	for i := 0; i < maxAttempts; i++ {
		if err = attempt(); !errors.Is(err, events.ErrVersionConflict) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("gave up after %d conflicting attempts: %w", maxAttempts, err)
}

// decideOne is load-decide-append on one stream, retried on conflict: fold
// the stream's events into a zero S, let decide choose the events, append
// them with the loaded version and the metadata md picks (it sees the
// loaded stream, so commands on an order can carry the order's correlation
// id). The result's ID is left to the caller.
// E is the domain package's event interface.
func decideOne[S any, E events.Payload](ctx context.Context, h *Handlers, streamID string,
	fold func(S, E) S, md func(loaded) events.Metadata, decide func(S) ([]E, error)) (Result, error) {
	var res Result
	err := retry(ctx, func() error {
		var s S
		l, err := h.load(ctx, streamID, func(p events.Payload) {
			if e, ok := any(p).(E); ok {
				s = fold(s, e)
			}
		})
		if err != nil {
			return err
		}
		evs, err := decide(s)
		if err != nil {
			return err
		}
		last, err := h.appendAll(ctx, md(l), pending{streamID, l.version, payloads(evs)})
		res = Result{Position: positionOr(last.Position, l.position), EventID: last.ID}
		return err
	})
	return res, err
}

// same is the metadata picker of commands that keep what they were given.
func same(md events.Metadata) func(loaded) events.Metadata {
	return func(loaded) events.Metadata { return md }
}

// loaded is a stream as a handler read it: the version to expect on append,
// the position of its last event, and its first event's correlation id.
type loaded struct {
	version     int64
	position    int64
	correlation string
}

// load folds a stream's events into apply.
func (h *Handlers) load(ctx context.Context, streamID string, apply func(events.Payload)) (loaded, error) {
	evs, err := h.readStream(ctx, streamID, 0)
	if err != nil {
		return loaded{}, err
	}
	var l loaded
	for i, e := range evs {
		p, err := h.reg.Decode(e)
		if err != nil {
			return loaded{}, err
		}
		apply(p)
		if i == 0 {
			l.correlation = e.CorrelationID
		}
		l.version, l.position = e.StreamVersion, e.Position
	}
	return l, nil
}

// pending is what one stream is to receive in an append.
type pending struct {
	streamID string
	expected int64
	payloads []events.Payload
}

// appendAll encodes and appends to several streams in one transaction and
// returns the last event written (the zero event when nothing was).
func (h *Handlers) appendAll(ctx context.Context, md events.Metadata, writes ...pending) (events.Event, error) {
	if md.TraceParent == "" {
		md = md.WithTrace(ctx) // the command's span, with tracing on
	}
	var appends []events.StreamAppend
	for _, w := range writes {
		if len(w.payloads) == 0 {
			continue
		}
		evs, err := h.reg.Encode(md, w.payloads...)
		if err != nil {
			return events.Event{}, err
		}
		now := h.now()
		for i := range evs {
			evs[i].OccurredAt = now
		}
		appends = append(appends, events.StreamAppend{StreamID: w.streamID, ExpectedVersion: w.expected, Events: evs})
	}
	if len(appends) == 0 {
		return events.Event{}, nil
	}
	stored, err := h.appender(appends[0].StreamID).Append(ctx, appends...)
	if err != nil {
		return events.Event{}, err
	}
	return stored[len(stored)-1], nil
}

func newID(id string) string {
	if id == "" {
		return events.NewID()
	}
	return id
}

func newMetadata(md events.Metadata) events.Metadata {
	if md.CorrelationID == "" {
		md.CorrelationID = events.NewID()
	}
	return md
}

// payloads converts a domain package's event slice to payloads.
func payloads[E events.Payload](evs []E) []events.Payload {
	out := make([]events.Payload, len(evs))
	for i, e := range evs {
		out[i] = e
	}
	return out
}

func positionOr(written, fallback int64) int64 {
	if written == 0 {
		return fallback
	}
	return written
}

// ForgetLanes makes every lane read the streams it writes from the log
// again before its next decision: another process may have written them
// since (it had their partitions before this process was given them), or
// a transaction that aborted dropped what a lane had decided. Each lane
// starts afresh (see forgetting).
func (h *Handlers) ForgetLanes() { h.laneEpoch.Add(1) }
