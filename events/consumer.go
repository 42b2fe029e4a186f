package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Consumer is one reaction's subscription to the log, the in-process twin
// of a Kafka consumer group: it has its own cursor (its checkpoint), reads
// only the event types it handles, and progresses at its own pace, so a
// reaction waiting for stock results is never queued behind placements that
// another reaction is still working through.
//
// Guarantees, before the mechanism:
//   - Nothing is delivered that was not committed (it reads the log).
//   - Every event of its types is delivered at least once, across crashes:
//     the checkpoint only moves past events that were handled, or set aside
//     as a dead letter after they kept failing (see handle).
//   - One writer per key: every delivery is routed by a key (an order id, a
//     product id, a customer id) and all deliveries of one key go to one
//     lane, in log order. A lane is the only writer of the streams of its
//     keys, so in a steady state its appends never conflict.
//
// Routing may split one event into several deliveries with different keys:
// an order's placement becomes one delivery per line, keyed by product, for
// inventory. That is the talk's repartition step (orders re-keyed by product
// id); over Kafka it is a repartition topic.
//
// A lane takes what is waiting (up to MaxBatch deliveries) and hands the
// whole batch to its BatchHandler, which decides every delivery against the
// in-memory state of its keys and appends the batch's events in one writer
// request. The deliveries count as handled only when that returned nil.
type Consumer struct {
	store *Store
	reg   *Registry
	spec  ConsumerSpec
	opts  ConsumerOptions
	query string
	types map[string]bool

	lanes []*consumerLane
	// dispatched is the last position the reader routed (or skipped): every
	// event at or below it is handled or queued in a lane.
	dispatched atomic.Int64
	// saved is the checkpoint last written.
	saved atomic.Int64

	handled, conflicts, retries, redeliveries, deadLetters atomic.Uint64
	// fed says it runs with RunFed.
	fed atomic.Bool
}

// Delivery is one routed piece of an event for a consumer's lane.
type Delivery struct {
	Event   Event
	Payload Payload
	// Key is what the delivery was routed by.
	Key string
	// Item is what the route picked out of the payload for this key (for
	// example the order line of one product); nil when the whole event.
	Item any
	// Retry marks a dead letter handed over again by an admin: the event
	// is older than what the lane handled since, and was never answered.
	Retry bool

	// done, for a retry, is told how it went.
	done chan error
	// ack, for a fed consumer, is called once the delivery was handled or
	// set aside as a dead letter (or dropped).
	ack func()
	// dropped, for a fed consumer, says the delivery's input was taken
	// away before it was decided (its partition moved to another member):
	// it is acknowledged undecided.
	dropped func() bool
}

// Routed is one key an event is delivered to.
type Routed struct {
	Key  string
	Item any
}

// BatchHandler decides and commits one lane's batches. It returns nil only
// once the batch's effects are committed, and how many deliveries it found
// already handled (a redelivery after a crash). On error nothing of the
// batch may be committed: the lane delivers the same batch again.
type BatchHandler interface {
	HandleBatch(ctx context.Context, batch []Delivery) (redelivered int, err error)
}

// ConsumerSpec says what a consumer reads and how it routes.
type ConsumerSpec struct {
	Name string
	// Types are the event types it consumes; others are never read.
	Types []string
	// Route gives the keys an event goes to; none means it is skipped.
	Route func(e Event, p Payload) []Routed
	// NewLane makes the handler of one lane. startHead is the head of the
	// log when the consumer started: an event after it cannot have been
	// handled by an earlier run, so its effects need not be looked up (a
	// fed consumer's too: see RunFed).
	NewLane func(lane int, startHead int64) BatchHandler
}

// ConsumerOptions tune a consumer.
type ConsumerOptions struct {
	// Lanes is how many lanes deliveries are spread over (by key).
	Lanes int
	// MaxBatch bounds the deliveries a lane hands over at once.
	MaxBatch int
	// MaxAttempts bounds how often a delivery that keeps failing (for a
	// reason other than the database being unavailable) is tried before
	// it is set aside as a dead letter.
	MaxAttempts int
	Log         *slog.Logger
}

// ConsumerStats is a consumer's progress.
type ConsumerStats struct {
	Name         string
	Position     int64   // every event at or below it is handled
	Head         int64   // the log head when read
	LagSeconds   float64 // age of the oldest event read but not yet handled; 0 when none
	Handled      uint64  // deliveries handled
	Conflicts    uint64  // version conflicts met when appending a batch
	Retries      uint64  // batch attempts repeated after a failure
	Redeliveries uint64  // deliveries found already handled
	DeadLetters  uint64  // deliveries set aside as dead letters by this run
}

// CheckpointName is the checkpoint a consumer keeps its position under.
func CheckpointName(consumer string) string { return "consumer:" + consumer }

// laneCapacity bounds the deliveries queued in one lane; the reader waits
// when a lane is full, so memory stays bounded however far behind it is.
const laneCapacity = 4096

// NewConsumer returns a consumer of the store's log.
func NewConsumer(store *Store, reg *Registry, spec ConsumerSpec, opts ConsumerOptions) *Consumer {
	opts.Lanes = max(opts.Lanes, 1)
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(spec.Types)), ",")
	c := &Consumer{store: store, reg: reg, spec: spec, opts: opts,
		query: selectEvents + "WHERE position > ? AND position <= ? AND type IN (" + marks + ") ORDER BY position LIMIT ?"}
	c.types = make(map[string]bool, len(spec.Types))
	for _, t := range spec.Types {
		c.types[t] = true
	}
	c.lanes = make([]*consumerLane, opts.Lanes)
	for i := range c.lanes {
		c.lanes[i] = &consumerLane{queue: make(chan Delivery, laneCapacity)}
	}
	return c
}

func (c *Consumer) wants(eventType string) bool { return c.types[eventType] }

// Wants says the consumer takes events of the type.
func (c *Consumer) Wants(eventType string) bool { return c.wants(eventType) }

// Name is the consumer's name.
func (c *Consumer) Name() string { return c.spec.Name }

// consumerLane is one lane: its queue and the positions it still holds.
type consumerLane struct {
	queue chan Delivery
	// sendMu keeps holding and queue in the same order when the reader
	// and a retry of a dead letter hand over deliveries at once.
	sendMu  sync.Mutex
	closed  bool // under sendMu: the lane stopped taking deliveries
	mu      sync.Mutex
	holding []held // deliveries queued and not yet handled, in order
}

type held struct {
	position int64
	at       time.Time
	retry    bool // a dead letter again: behind the cursor, counts for nothing
}

// oldest is the oldest delivery the lane holds that the cursor waits for.
func (l *consumerLane) oldest() (held, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.holding {
		if !h.retry {
			return h, true
		}
	}
	return held{}, false
}

// send queues a delivery, or gives up when ctx ends (false).
func (l *consumerLane) send(ctx context.Context, d Delivery) bool {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	if l.closed {
		return false
	}
	l.mu.Lock()
	l.holding = append(l.holding, held{d.Event.Position, d.Event.OccurredAt, d.Retry})
	l.mu.Unlock()
	select {
	case l.queue <- d:
		return true
	case <-ctx.Done():
		return false // the delivery stays held: it was not handed over
	}
}

// Run reads and delivers until ctx ends; a consumer runs once. On
// cancellation each lane finishes the batch it is in, the checkpoint is
// saved, and Run returns nil.
func (c *Consumer) Run(ctx context.Context) error {
	db := c.store.db
	name := CheckpointName(c.spec.Name)
	pos, err := db.Checkpoint(ctx, name)
	if err != nil {
		return err
	}
	if pos == 0 {
		// A database written before consumers had their own cursors: the
		// relay's checkpoint says how far every reaction had got.
		if pos, err = db.Checkpoint(ctx, RelayCheckpoint); err != nil {
			return err
		}
	}
	c.dispatched.Store(pos)
	c.saved.Store(pos)
	startHead := db.Head()

	var lanes sync.WaitGroup
	for i, l := range c.lanes {
		h := c.spec.NewLane(i, startHead)
		lanes.Go(func() { c.runLane(ctx, l, h) })
	}
	saverDone := make(chan struct{})
	go func() {
		defer close(saverDone)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := c.save(); err != nil && !errors.Is(err, ErrClosed) {
					c.opts.Log.Warn("consumer: could not save checkpoint", "consumer", c.spec.Name, "err", err)
				}
			}
		}
	}()

	readErr := c.read(ctx)
	c.closeLanes()
	lanes.Wait()
	<-saverDone
	// What the lanes still held stays behind the checkpoint and is
	// delivered again after a restart.
	if err := c.save(); err != nil && !errors.Is(err, ErrClosed) {
		readErr = errors.Join(readErr, err)
	}
	if readErr != nil {
		return fmt.Errorf("consumer %s: %w", c.spec.Name, readErr)
	}
	return nil
}

// read routes the log's events of the consumer's types to the lanes until
// ctx ends. A failed read is retried with backoff from the first event not
// yet routed; an event it cannot decode becomes a dead letter (with no key:
// all of it failed).
func (c *Consumer) read(ctx context.Context) error {
	db := c.store.db
	pos := c.dispatched.Load()
	const batch = 512
	wait := 5 * time.Millisecond
	var buf []Event // the events of one read, copied into deliveries before the next
	for {
		head := db.Head()
		if head <= pos {
			if _, err := db.WaitBeyond(ctx, pos); err != nil {
				if ctx.Err() != nil || errors.Is(err, ErrClosed) {
					return nil
				}
				return err
			}
			continue
		}
		evs, upTo, err := c.next(ctx, pos, head, batch, buf)
		buf = evs[:0]
		for i := 0; err == nil && i < len(evs); i++ {
			e := evs[i]
			p, decodeErr := c.store.Decode(c.reg, e)
			if decodeErr != nil {
				// Decoding is deterministic: trying again cannot help, only
				// a binary that knows the event can (retryDeadLetter then).
				cause := fmt.Errorf("decode %s at %d: %w", e.Type, e.Position, decodeErr)
				c.opts.Log.Error("consumer: undecodable event set aside as a dead letter", "consumer", c.spec.Name, "err", cause)
				if err = c.store.db.addDeadLetter(c.spec.Name, Delivery{Event: e}, 1, cause); err != nil {
					break
				}
				c.deadLetters.Add(1)
				pos = e.Position
				c.dispatched.Store(pos)
				continue
			}
			for _, r := range c.spec.Route(e, p) {
				l := c.lanes[Partition(r.Key, len(c.lanes))]
				if !l.send(ctx, Delivery{Event: e, Payload: p, Key: r.Key, Item: r.Item}) {
					return nil // e stays held: it was not delivered
				}
			}
			pos = e.Position
			c.dispatched.Store(pos)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.opts.Log.Warn("consumer: reading the log failed, retrying", "consumer", c.spec.Name, "after", pos, "err", err)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil
			}
			wait = min(2*wait, 2*time.Second)
			continue
		}
		wait = 5 * time.Millisecond
		// Nothing else of ours up to there.
		pos = upTo
		c.dispatched.Store(pos)
	}
}

// next reads up to limit events of the consumer's types after pos and at
// most head, from the log's in-memory tail when it still holds them (into
// buf, see tail.read), and says how far it looked.
func (c *Consumer) next(ctx context.Context, pos, head int64, limit int, buf []Event) ([]Event, int64, error) {
	if evs, last, ok := c.store.db.tail.read(pos, head, limit, c.wants, buf); ok {
		return evs, last, nil
	}
	args := make([]any, 0, len(c.spec.Types)+3)
	args = append(args, pos, head)
	for _, t := range c.spec.Types {
		args = append(args, t)
	}
	args = append(args, limit)
	evs, err := c.store.query(ctx, limit, c.query, args...)
	switch {
	case err != nil:
		return nil, pos, err
	case len(evs) == limit:
		return evs, evs[len(evs)-1].Position, nil
	}
	return evs, head, nil
}

// runLane hands the lane's deliveries to h in batches, in order, until the
// queue is closed or ctx ends.
func (c *Consumer) runLane(ctx context.Context, l *consumerLane, h BatchHandler) {
	batch := make([]Delivery, 0, c.opts.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case d, ok := <-l.queue:
			if !ok {
				return
			}
			batch = append(batch, d)
		case <-ctx.Done():
			return
		}
	fill:
		for len(batch) < c.opts.MaxBatch {
			select {
			case d, ok := <-l.queue:
				if !ok {
					break fill
				}
				batch = append(batch, d)
			default:
				break fill
			}
		}
		if !c.handle(ctx, h, c.withoutDropped(batch)) {
			return
		}
		l.mu.Lock()
		l.holding = l.holding[len(batch):]
		l.mu.Unlock()
	}
}

// withoutDropped acknowledges the deliveries whose input was taken away
// (see Delivery.dropped) without deciding them, and returns the others.
func (c *Consumer) withoutDropped(batch []Delivery) []Delivery {
	var kept []Delivery
	for i, d := range batch {
		if d.dropped == nil || !d.dropped() {
			if kept != nil {
				kept = append(kept, d)
			}
			continue
		}
		if kept == nil {
			kept = append(make([]Delivery, 0, len(batch)), batch[:i]...)
		}
		d.ack()
	}
	if kept == nil {
		return batch
	}
	return kept
}

// handle runs one batch until it is done, and false when the lane must
// stop first (ctx ended, the database closed). A batch that was started is
// finished even when ctx ends meanwhile, so a graceful stop loses no work
// in hand; only retries stop.
//
// A batch that keeps failing is taken apart: its deliveries are handled
// one by one, and one that still fails after MaxAttempts is set aside as a
// dead letter, so one bad event does not stop every event behind it.
// Failures of the database itself are not a delivery's fault: they are
// retried with backoff for as long as they last.
func (c *Consumer) handle(ctx context.Context, h BatchHandler, batch []Delivery) bool {
	err, stop := c.attempt(ctx, h, batch)
	if stop {
		return false
	}
	if err == nil {
		c.finish(batch)
		return true
	}
	if len(batch) == 1 {
		return c.bury(batch[0], err)
	}
	for _, d := range batch {
		one := []Delivery{d}
		err, stop := c.attempt(ctx, h, one)
		switch {
		case stop:
			return false
		case err == nil:
			c.finish(one)
		default:
			if !c.bury(d, err) {
				return false
			}
		}
	}
	return true
}

// maxConflicts bounds how often a batch is decided again after version
// conflicts before they count as a failed attempt.
const maxConflicts = 30

// attempt tries a batch until it succeeds (nil), fails MaxAttempts times
// for a reason of its own (that error), or the lane must stop.
func (c *Consumer) attempt(ctx context.Context, h BatchHandler, batch []Delivery) (err error, stop bool) {
	wait := 5 * time.Millisecond
	failures, conflicts := 0, 0
	for {
		redelivered, err := c.try(ctx, h, batch)
		if err == nil {
			c.handled.Add(uint64(len(batch)))
			c.redeliveries.Add(uint64(redelivered))
			return nil, false
		}
		if ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return err, true
		}
		c.retries.Add(1)
		switch {
		case errors.Is(err, ErrVersionConflict) && conflicts < maxConflicts:
			// Another writer touched one of our streams (a command of the
			// API, such as addStock): the handler reloaded, decide again.
			conflicts++
			c.conflicts.Add(1)
			c.opts.Log.Info("consumer: batch met a version conflict, deciding again", "consumer", c.spec.Name, "err", err)
			continue
		case Unavailable(err):
			c.opts.Log.Warn("consumer: the database or broker is unavailable, retrying", "consumer", c.spec.Name, "err", err)
		default:
			failures++
			if failures >= c.opts.MaxAttempts {
				return err, false
			}
			c.opts.Log.Warn("consumer: batch failed, retrying", "consumer", c.spec.Name,
				"from", batch[0].Event.Position, "deliveries", len(batch), "attempt", failures, "err", err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err(), true
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// try hands a batch to the handler once; a panic is a failure like any other.
// With tracing on, each attempt is a span (the reaction's decisions) in
// the trace of its first traced delivery, and the deliveries it hands over
// carry the trace context their decisions are to continue (Continued).
func (c *Consumer) try(ctx context.Context, h BatchHandler, batch []Delivery) (redelivered int, err error) {
	ctx = context.WithoutCancel(ctx)
	if Tracing() {
		var span trace.Span
		ctx, span = StartBatchSpan(ctx, "react "+c.spec.Name, func(yield func(Event) bool) {
			for _, d := range batch {
				if !yield(d.Event) {
					return
				}
			}
		}, attribute.String("orderflow.reaction", c.spec.Name), attribute.Int("orderflow.deliveries", len(batch)))
		defer func() { EndSpan(span, err) }()
		traced := make([]Delivery, len(batch))
		for i, d := range batch {
			d.Event.TraceParent, d.Event.TraceState = Continued(ctx, d.Event)
			traced[i] = d
		}
		batch = traced
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return h.HandleBatch(ctx, batch)
}

// finish tells the retried dead letters among handled deliveries that they
// are done.
func (c *Consumer) finish(batch []Delivery) {
	for _, d := range batch {
		if d.done != nil {
			d.done <- nil
		}
		if d.ack != nil {
			d.ack()
		}
	}
}

// bury sets a delivery that keeps failing aside as a dead letter and lets
// the lane go on; false when that could not be recorded (the lane stops,
// and the delivery comes again after a restart). A retried dead letter
// that fails again stays where it is.
func (c *Consumer) bury(d Delivery, cause error) bool {
	if d.done != nil {
		d.done <- cause
		return true
	}
	c.opts.Log.Error("consumer: event set aside as a dead letter after repeated failures", "consumer", c.spec.Name,
		"position", d.Event.Position, "type", d.Event.Type, "key", d.Key, "err", cause)
	if err := c.store.db.addDeadLetter(c.spec.Name, d, c.opts.MaxAttempts, cause); err != nil {
		c.opts.Log.Error("consumer: could not record a dead letter", "consumer", c.spec.Name, "err", err)
		return false
	}
	c.deadLetters.Add(1)
	if d.ack != nil {
		d.ack()
	}
	return true
}

// position is the last position below which everything was handled.
func (c *Consumer) position() int64 {
	safe := c.dispatched.Load()
	if c.fed.Load() {
		// Fed from outside, it is behind this log only by what it holds.
		safe = c.store.db.Head()
	}
	for _, l := range c.lanes {
		if h, ok := l.oldest(); ok {
			safe = min(safe, h.position-1)
		}
	}
	return safe
}

func (c *Consumer) save() error {
	safe := c.position()
	if safe <= c.saved.Load() {
		return nil
	}
	err := c.store.db.Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		return SaveCheckpoint(ctx, tx, CheckpointName(c.spec.Name), safe)
	})
	if err == nil {
		c.saved.Store(safe)
	}
	return err
}

// Stats reports the consumer's progress. It is safe to call at any time.
func (c *Consumer) Stats() ConsumerStats {
	s := ConsumerStats{
		Name: c.spec.Name, Position: c.position(), Head: c.store.db.Head(),
		Handled: c.handled.Load(), Conflicts: c.conflicts.Load(), Retries: c.retries.Load(),
		Redeliveries: c.redeliveries.Load(), DeadLetters: c.deadLetters.Load(),
	}
	s.LagSeconds = c.Lag().Seconds()
	return s
}

// Lag is the age of the oldest event read but not yet handled, 0 when every
// lane is idle.
func (c *Consumer) Lag() time.Duration {
	var oldest time.Time
	for _, l := range c.lanes {
		if h, ok := l.oldest(); ok && (oldest.IsZero() || h.at.Before(oldest)) {
			oldest = h.at
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return max(time.Since(oldest), 0)
}

// RunFed runs the consumer's lanes for deliveries handed over with
// Deliver, by a reader of something other than this log (a Kafka consumer
// group), which keeps the cursor itself. It returns once ctx ended and each
// lane finished the batch it was in.
func (c *Consumer) RunFed(ctx context.Context) error {
	startHead := c.store.db.Head()
	c.fed.Store(true)
	c.dispatched.Store(startHead)
	// Lanes take an event past the head at start as never handled before
	// (NewLane). Fed by a transactional feed, that holds: Kafka hands a
	// record again within one run only after the transaction that took it
	// aborted (its partition lost or moved, a failed produce), and an
	// aborted transaction's decisions never reached this log (the feed's
	// stage publishes them, and the log takes them once Kafka committed
	// them), so there is nothing of them to look up; the feed also makes the
	// lanes start afresh then (Handlers.ForgetLanes). A record taken again
	// after a restart was imported before the start, and is looked up.
	var lanes sync.WaitGroup
	for i, l := range c.lanes {
		h := c.spec.NewLane(i, startHead)
		lanes.Go(func() { c.runLane(ctx, l, h) })
	}
	<-ctx.Done()
	c.closeLanes()
	lanes.Wait()
	return nil
}

// closeLanes stops the lanes taking deliveries. A lane finishes the batch
// it is in; what it still queues was never acknowledged and comes again.
func (c *Consumer) closeLanes() {
	for _, l := range c.lanes {
		l.sendMu.Lock()
		l.closed = true
		close(l.queue)
		l.sendMu.Unlock()
	}
}

// Deliver hands a fed consumer an event that is in this log (at
// e.Position): it is routed as the consumer routes, keeping only the keys
// keep accepts (all when keep is nil), and ack is called once every
// delivery of it was handled or set aside as a dead letter, at once when
// there is none. A delivery for which dropped (when not nil) says true by
// the time its lane takes it is acknowledged without being decided: its
// input was taken away. Deliveries of one key must be handed over in the
// order of their writer's log. It returns false when ctx ended first; ack
// is then never called.
func (c *Consumer) Deliver(ctx context.Context, e Event, keep func(key string) bool, dropped func() bool, ack func()) bool {
	if !c.wants(e.Type) {
		ack()
		return true
	}
	p, err := c.store.Decode(c.reg, e)
	if err != nil {
		cause := fmt.Errorf("decode %s at %d: %w", e.Type, e.Position, err)
		c.opts.Log.Error("consumer: undecodable event set aside as a dead letter", "consumer", c.spec.Name, "err", cause)
		if err := c.store.db.addDeadLetter(c.spec.Name, Delivery{Event: e}, 1, cause); err != nil {
			return false
		}
		c.deadLetters.Add(1)
		ack()
		return true
	}
	var routes []Routed
	for _, r := range c.spec.Route(e, p) {
		if keep == nil || keep(r.Key) {
			routes = append(routes, r)
		}
	}
	if len(routes) == 0 {
		ack()
		return true
	}
	var left atomic.Int32
	left.Store(int32(len(routes)))
	one := func() {
		if left.Add(-1) == 0 {
			ack()
		}
	}
	for _, r := range routes {
		l := c.lanes[Partition(r.Key, len(c.lanes))]
		if !l.send(ctx, Delivery{Event: e, Payload: p, Key: r.Key, Item: r.Item, ack: one, dropped: dropped}) {
			return false
		}
	}
	for {
		d := c.dispatched.Load()
		if e.Position <= d || c.dispatched.CompareAndSwap(d, e.Position) {
			return true
		}
	}
}
