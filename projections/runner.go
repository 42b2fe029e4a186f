// Package projections owns the read side: projections that fold the event
// log into queryable tables, the runner that keeps them caught up and
// rebuilds them, and the queries the API answers from them. Each
// projection writes its rows and its checkpoint in one transaction, so an
// event it has seen changes nothing the second time, and a crash leaves
// rows and checkpoint in step.
package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"orderflow/events"
)

// Names maps a read model's base table name to the table of one generation.
type Names func(base string) string

// Applier folds events into one generation's tables.
type Applier interface {
	// Apply changes rows for one event inside tx; events the projection
	// does not care about are ignored.
	Apply(ctx context.Context, tx *Tx, e events.Event, p events.Payload) error
}

// Definition describes a projection: its name (also its checkpoint's), the
// read models it owns (queries read them through views of these names),
// the DDL of one generation of its tables, and its applier.
type Definition struct {
	Name   string
	Tables []string
	Schema func(Names) string
	New    func(Names) Applier
}

// All returns every projection of the read side.
func All() []Definition {
	return []Definition{ordersDefinition, productsDefinition, stockDefinition, customersDefinition, notificationsDefinition,
		paymentsDefinition, cancellationsDefinition, deadlinesDefinition}
}

func generationNames(gen int64) Names {
	return func(base string) string { return fmt.Sprintf("%s_g%d", base, gen) }
}

// States of a projection.
const (
	StateLive       = "LIVE"
	StateRebuilding = "REBUILDING"
)

// ErrUnknownProjection is returned for a name no projection has.
var ErrUnknownProjection = errors.New("unknown projection")

// ErrRebuilding is returned when a rebuild of the projection is running.
var ErrRebuilding = errors.New("a rebuild of this projection is already running")

type projection struct {
	def Definition
	// mu is held by the live reader for each batch and by the swap at the
	// end of a rebuild, so the two never write the same projection at once.
	mu      sync.Mutex
	gen     int64
	applier Applier
}

// Runner keeps projections caught up with the log (one catch-up reader per
// projection, reading the store in batches from its checkpoint) and
// rebuilds them from position 0.
type Runner struct {
	db          *events.DB
	store       *events.Store
	reg         *events.Registry
	projections []*projection
	byName      map[string]*projection
	batch       int
	log         *slog.Logger

	// catalogChanges counts the applied batches that held catalog events;
	// the price cache of the orders context is good while it stays put.
	catalogChanges atomic.Int64
	// tally counts the order events the live orders read model applied.
	tally orderTally

	mu        sync.Mutex
	positions map[string]int64
	changed   chan struct{}
	// ordersChanged is told which orders each applied batch changed.
	ordersChanged func(ids []string)
	rebuilds      map[string]*rebuildStatus
	rebuiltAt     map[string]time.Time

	// ctx is the one given to Start: background rebuilds end with it.
	ctx context.Context
	// beforeRebuild, when set, runs at the start of every rebuild.
	beforeRebuild func(ctx context.Context) error
}

// BeforeRebuild sets fn to run at the start of every rebuild, before the
// log is read: split into services, it brings the log up to date with the
// topics it copies, re-read from their beginning. A rebuild fails when fn
// does. Set it before Start.
func (r *Runner) BeforeRebuild(fn func(ctx context.Context) error) { r.beforeRebuild = fn }

// NewRunner returns a runner for the given projections.
func NewRunner(store *events.Store, reg *events.Registry, log *slog.Logger, defs ...Definition) *Runner {
	r := &Runner{
		db: store.DB(), store: store, reg: reg, batch: 512, log: log, byName: map[string]*projection{},
		positions: map[string]int64{}, changed: make(chan struct{}),
		rebuilds: map[string]*rebuildStatus{}, rebuiltAt: map[string]time.Time{},
		ctx: context.Background(),
	}
	for _, d := range defs {
		p := &projection{def: d}
		r.projections = append(r.projections, p)
		r.byName[d.Name] = p
	}
	return r
}

// Init makes sure every projection has a live generation (creating the
// first one on a new database) and loads generations and checkpoints.
func (r *Runner) Init(ctx context.Context) error {
	for _, p := range r.projections {
		var gen int64
		var rebuiltAt sql.NullInt64
		err := r.db.Reader().QueryRowContext(ctx,
			`SELECT generation, rebuilt_at FROM projection_generations WHERE name = ?`, p.def.Name).Scan(&gen, &rebuiltAt)
		if errors.Is(err, sql.ErrNoRows) {
			gen = 1
			err = r.db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if err := createGeneration(ctx, tx, p.def, gen); err != nil {
					return err
				}
				if err := pointViews(ctx, tx, p.def, gen); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO projection_generations (name, generation) VALUES (?, ?)`, p.def.Name, gen)
				return err
			})
		}
		if err != nil {
			return fmt.Errorf("projection %s: %w", p.def.Name, err)
		}
		pos, err := r.db.Checkpoint(ctx, p.def.Name)
		if err != nil {
			return err
		}
		p.gen, p.applier = gen, p.def.New(generationNames(gen))
		if rebuiltAt.Valid {
			r.mu.Lock()
			r.rebuiltAt[p.def.Name] = time.Unix(0, rebuiltAt.Int64).UTC()
			r.mu.Unlock()
		}
		r.advance(p.def.Name, pos)
	}
	return nil
}

// Start runs Init and starts the reader that keeps the projections caught
// up. It stops when ctx ends; wait on the returned WaitGroup.
func (r *Runner) Start(ctx context.Context) (*sync.WaitGroup, error) {
	if err := r.Init(ctx); err != nil {
		return nil, err
	}
	r.ctx = ctx
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.follow(ctx)
	}()
	return &wg, nil
}

// follow keeps every projection caught up with the log: each batch is read
// and decoded once and applied to every projection that has not seen it,
// in one transaction together with their checkpoints. A batch that fails is
// retried after a pause (a database that is unavailable, for as long as it
// lasts). One that fails maxApplyAttempts times is taken one event at a
// time, each projection in a savepoint of its own: an event a projection
// cannot apply becomes a dead letter of that projection, and the others,
// and it, go on. An event nobody can decode is a dead letter at once.
func (r *Runner) follow(ctx context.Context) {
	pause := 50 * time.Millisecond
	failures := 0
	for ctx.Err() == nil {
		// Always in the order of r.projections, as Rebuild does too.
		for _, p := range r.projections {
			p.mu.Lock()
		}
		step := r.step
		if failures >= maxApplyAttempts {
			step = r.stepAlone
		}
		low, next, err := step(ctx)
		for _, p := range r.projections {
			p.mu.Unlock()
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Error("projections failed, retrying", "position", low, "err", err)
			if !events.Unavailable(err) {
				failures++
			}
			select {
			case <-time.After(pause):
			case <-ctx.Done():
			}
			pause = min(2*pause, 5*time.Second)
			continue
		}
		pause = 50 * time.Millisecond
		failures = 0
		if next == low {
			if _, err := r.db.WaitBeyond(ctx, low); err != nil {
				return
			}
		}
	}
}

// step applies the next batch after the lowest projection position to the
// live generations, each projection only the events it has not applied, and
// returns that lowest position and the new one. Far behind the head (a
// new split process applying its first copy of the topics, a start after
// a long stop), batches are catchUpBatch long: fewer transactions for the
// writer to commit between the imports it also runs.
func (r *Runner) step(ctx context.Context) (low, next int64, err error) {
	return r.stepWith(ctx, r.batchAfter, applyLive)
}

// batchAfter is how many events a step reads after low: r.batch, or
// catchUpBatch when low is that far behind the head.
func (r *Runner) batchAfter(low int64) int {
	if r.db.Head()-low > int64(catchUpBatch) {
		return max(r.batch, catchUpBatch)
	}
	return r.batch
}

// catchUpBatch is the length of a batch while the projections are far
// behind the head.
const catchUpBatch = 4096

// maxApplyAttempts is how often a batch is tried before the runner takes
// it one event and one projection at a time.
const maxApplyAttempts = 5

// stepAlone applies the one event after the lowest position, to each
// projection that has not applied it inside a savepoint of its own: one
// that fails is rolled back alone, and the event is recorded as a dead
// letter of that projection, which moves past it like the others.
func (r *Runner) stepAlone(ctx context.Context) (low, next int64, err error) {
	return r.stepWith(ctx, func(int64) int { return 1 }, r.applyOrSetAside)
}

// applyStep brings projection p up to the end of a step's batch inside the
// step's transaction (sqlTx, and tx over it): evs and payloads are the
// events of the batch p has not applied yet.
type applyStep func(ctx context.Context, sqlTx *sql.Tx, tx *Tx, p *projection, evs []events.Event, payloads []events.Payload) error

// applyLive is the applyStep of a batch: p's live generation applies evs.
func applyLive(ctx context.Context, _ *sql.Tx, tx *Tx, p *projection, evs []events.Event, payloads []events.Payload) error {
	return applyAll(ctx, tx, p.def.Name, p.applier, evs, payloads)
}

// applyOrSetAside is the applyStep of one event taken alone: applyLive
// inside a savepoint, and when it fails for the event's sake (not the
// database's) the savepoint is rolled back and the event becomes a dead
// letter of p.
func (r *Runner) applyOrSetAside(ctx context.Context, sqlTx *sql.Tx, tx *Tx, p *projection, evs []events.Event, payloads []events.Payload) error {
	if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT projection"); err != nil {
		return err
	}
	if err := applyLive(ctx, sqlTx, tx, p, evs, payloads); err != nil {
		if events.Unavailable(err) {
			return err
		}
		if _, err := sqlTx.ExecContext(ctx, "ROLLBACK TO projection"); err != nil {
			return err
		}
		e := evs[0]
		r.log.Error("projection: event set aside as a dead letter after repeated failures",
			"projection", p.def.Name, "position", e.Position, "type", e.Type, "err", err)
		if err := events.RecordDeadLetter(ctx, sqlTx, deadLetterReader(p.def.Name), e, "", maxApplyAttempts, err); err != nil {
			return err
		}
	}
	_, err := sqlTx.ExecContext(ctx, "RELEASE projection")
	return err
}

// stepWith reads up to limit(low) events after the lowest projection position, low,
// and, in one transaction, has apply bring each projection behind the
// batch's end up to it (only the events it has not applied: one ahead of
// the others, just rebuilt or older than one added since, is neither taken
// back nor given an event twice), moves their checkpoints, then advances
// them.
func (r *Runner) stepWith(ctx context.Context, limit func(low int64) int, apply applyStep) (low, next int64, err error) {
	positions, low := r.livePositions()
	evs, payloads, err := r.read(ctx, low, limit(low))
	if err != nil || len(evs) == 0 {
		return low, low, err
	}
	last := evs[len(evs)-1].Position
	if events.Tracing() {
		// One span per batch, in the trace of its first traced event and
		// linked to the others' (see events.StartBatchSpan).
		var span trace.Span
		ctx, span = events.StartBatchSpan(ctx, "project", slices.Values(evs),
			attribute.Int("orderflow.events", len(evs)), attribute.Int64("orderflow.position", last))
		defer func() { events.EndSpan(span, err) }()
	}
	var moved []*projection
	var ordersTook []events.Payload // what the orders read model applied, counted once committed
	err = r.db.Write(ctx, func(ctx context.Context, sqlTx *sql.Tx) error {
		moved, ordersTook = moved[:0], nil
		return withTx(sqlTx, func(tx *Tx) error {
			for i, p := range r.projections {
				if positions[i] >= last {
					continue
				}
				from := sort.Search(len(evs), func(j int) bool { return evs[j].Position > positions[i] })
				if p.def.Name == ordersDefinition.Name {
					ordersTook = payloads[from:]
				}
				if err := apply(ctx, sqlTx, tx, p, evs[from:], payloads[from:]); err != nil {
					return err
				}
				if err := buryUndecodable(ctx, sqlTx, p.def.Name, evs[from:], payloads[from:]); err != nil {
					return err
				}
				if err := events.SaveCheckpoint(ctx, sqlTx, p.def.Name, last); err != nil {
					return err
				}
				moved = append(moved, p)
			}
			return nil
		})
	})
	if err != nil {
		return low, low, err
	}
	r.tally.add(ordersTook)
	r.advanceAll(moved, evs, payloads, last)
	return low, last, nil
}

// livePositions is where each projection is, in the order of
// r.projections, and the lowest of them.
func (r *Runner) livePositions() (positions []int64, low int64) {
	positions = make([]int64, len(r.projections))
	low = -1
	for i, p := range r.projections {
		positions[i] = r.Position(p.def.Name)
		if low < 0 || positions[i] < low {
			low = positions[i]
		}
	}
	return positions, low
}

// advanceAll moves the given projections to last once the batch evs
// committed, then tells the watcher of orders which ones changed.
func (r *Runner) advanceAll(moved []*projection, evs []events.Event, payloads []events.Payload, last int64) {
	// After the commit, before anyone waiting for these positions is told:
	// whoever reads prices after an upsert returned sees them changed.
	for _, e := range evs {
		if events.Family(e.StreamID) == catalogFamily {
			r.catalogChanges.Add(1)
			break
		}
	}
	for _, p := range moved {
		r.advance(p.def.Name, last)
	}
	r.mu.Lock()
	watch := r.ordersChanged
	r.mu.Unlock()
	if watch == nil {
		return
	}
	var ids []string
	for _, p := range payloads {
		if id, ok := changedOrder(p); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		watch(ids)
	}
}

// OnOrdersChanged registers fn to be told, after each applied batch, the ids
// of the orders whose read model rows it changed (with repeats), so that a
// subscription reads an order only when it changed instead of at every
// advance. fn runs on the projections' reader: it must not block.
func (r *Runner) OnOrdersChanged(fn func(ids []string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ordersChanged = fn
}

// undecodable stands for the payload of an event that cannot be decoded:
// decoding is deterministic, so it is skipped (and recorded as a dead
// letter of every live projection) rather than retried, live and in
// rebuilds alike, so both give the same tables.
type undecodable struct{ err error }

func (undecodable) EventType() string { return "" }

// deadLetterReader names a projection among the readers of dead letters.
func deadLetterReader(projection string) string { return "projection " + projection }

func buryUndecodable(ctx context.Context, tx *sql.Tx, name string, evs []events.Event, payloads []events.Payload) error {
	for i, p := range payloads {
		if u, ok := p.(undecodable); ok {
			if err := events.RecordDeadLetter(ctx, tx, deadLetterReader(name), evs[i], "", 1, u.err); err != nil {
				return err
			}
		}
	}
	return nil
}

// read returns the next batch of events after pos with their payloads.
func (r *Runner) read(ctx context.Context, pos int64, limit int) ([]events.Event, []events.Payload, error) {
	evs, err := r.store.ReadAll(ctx, pos, limit)
	if err != nil {
		return nil, nil, err
	}
	payloads := make([]events.Payload, len(evs))
	for i, e := range evs {
		p, err := r.store.Decode(r.reg, e)
		if err != nil {
			p = undecodable{fmt.Errorf("decode %s at %d: %w", e.Type, e.Position, err)}
		}
		payloads[i] = p
	}
	return evs, payloads, nil
}

// batchApplier is an Applier that holds part of what a batch changes in
// memory, to write it at the end of the batch in fewer statements. It
// keeps nothing from one batch to the next: flush writes what it holds,
// discard forgets it (the batch failed; its transaction is rolled back).
type batchApplier interface {
	Applier
	flush(ctx context.Context, tx *Tx) error
	discard()
}

// applyAll applies a batch of events to one projection inside tx.
func applyAll(ctx context.Context, tx *Tx, name string, a Applier, evs []events.Event, payloads []events.Payload) error {
	b, batched := a.(batchApplier)
	if batched {
		defer b.discard()
	}
	for i, e := range evs {
		if _, ok := payloads[i].(undecodable); ok {
			continue
		}
		if err := a.Apply(ctx, tx, e, payloads[i]); err != nil {
			return fmt.Errorf("%s: apply %s at %d: %w", name, e.Type, e.Position, err)
		}
	}
	if batched {
		if err := b.flush(ctx, tx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (r *Runner) advance(name string, pos int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.positions[name] = pos
	close(r.changed)
	r.changed = make(chan struct{})
}

// Position is the last position the named projection has applied.
func (r *Runner) Position(name string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.positions[name]
}

// lowest is the position every projection has reached, and a channel closed
// at the next advance of any of them.
func (r *Runner) lowest() (int64, <-chan struct{}) { return r.lowestOf("") }

// lowestOf is lowest over the projection named, or over all of them when
// name is "".
func (r *Runner) lowestOf(name string) (int64, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	low := int64(-1)
	for _, p := range r.projections {
		if name != "" && p.def.Name != name {
			continue
		}
		if pos := r.positions[p.def.Name]; low < 0 || pos < low {
			low = pos
		}
	}
	return low, r.changed
}

// WaitFor blocks until every projection has applied the event at position
// (read-your-writes), or ctx ends.
func (r *Runner) WaitFor(ctx context.Context, position int64) error {
	return r.waitFor(ctx, "", position)
}

// WaitForPrices blocks until the products read model, the price copy the
// command handlers decide against, has applied the event at position, or
// ctx ends: a command need not wait for the read models it does not read.
func (r *Runner) WaitForPrices(ctx context.Context, position int64) error {
	return r.waitFor(ctx, productsDefinition.Name, position)
}

func (r *Runner) waitFor(ctx context.Context, name string, position int64) error {
	for {
		low, changed := r.lowestOf(name)
		if low >= position || (low < 0 && name != "") { // none of that name here: nothing to wait for
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Changed returns a channel closed at the next advance of any projection,
// for callers that wait for a read model to show a state.
func (r *Runner) Changed() <-chan struct{} {
	_, ch := r.lowest()
	return ch
}

func createGeneration(ctx context.Context, tx *sql.Tx, d Definition, gen int64) error {
	names := generationNames(gen)
	for _, t := range d.Tables {
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+names(t)); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, d.Schema(names)); err != nil {
		return fmt.Errorf("create %s generation %d: %w", d.Name, gen, err)
	}
	return nil
}

// pointViews makes the read models' views show generation gen.
func pointViews(ctx context.Context, tx *sql.Tx, d Definition, gen int64) error {
	names := generationNames(gen)
	for _, t := range d.Tables {
		if _, err := tx.ExecContext(ctx, `DROP VIEW IF EXISTS `+t); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `CREATE VIEW `+t+` AS SELECT * FROM `+names(t)); err != nil {
			return err
		}
	}
	return nil
}
