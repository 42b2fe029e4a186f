// Package projections owns the read side: projections that fold the event
// log into queryable tables, the runner that keeps them caught up, and the
// queries the API answers from them. Each projection writes its rows and its
// checkpoint in one transaction, so an event it has seen changes nothing the
// second time, and a crash leaves rows and checkpoint in step.
package projections

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"orderflow/events"
)

// Projection folds events into its own tables.
type Projection interface {
	// Name identifies the projection and its checkpoint.
	Name() string
	// Apply changes the projection's rows for one event inside tx. Events
	// the projection does not care about are ignored.
	Apply(ctx context.Context, tx *sql.Tx, e events.Event, p events.Payload) error
}

// All returns every projection of the read side.
func All() []Projection {
	return []Projection{ordersProjection{}, productsProjection{}, stockProjection{}, customersProjection{}}
}

// Runner keeps projections caught up with the log: one catch-up reader per
// projection, reading the store in batches from its checkpoint.
type Runner struct {
	db          *events.DB
	store       *events.Store
	reg         *events.Registry
	projections []Projection
	batch       int
	log         *slog.Logger

	mu        sync.Mutex
	positions map[string]int64
	changed   chan struct{}
}

// NewRunner returns a runner for the given projections.
func NewRunner(store *events.Store, reg *events.Registry, log *slog.Logger, ps ...Projection) *Runner {
	return &Runner{
		db: store.DB(), store: store, reg: reg, projections: ps, batch: 512, log: log,
		positions: make(map[string]int64), changed: make(chan struct{}),
	}
}

// Start loads the checkpoints and starts one reader per projection. The
// readers stop when ctx ends; wait on the returned WaitGroup.
func (r *Runner) Start(ctx context.Context) (*sync.WaitGroup, error) {
	for _, p := range r.projections {
		pos, err := r.db.Checkpoint(ctx, p.Name())
		if err != nil {
			return nil, err
		}
		r.advance(p.Name(), pos)
	}
	var wg sync.WaitGroup
	for _, p := range r.projections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.follow(ctx, p)
		}()
	}
	return &wg, nil
}

// follow applies batches to one projection until ctx ends. A batch that
// fails is retried after a pause: a projection never skips an event.
func (r *Runner) follow(ctx context.Context, p Projection) {
	pos := r.Position(p.Name())
	pause := 50 * time.Millisecond
	for ctx.Err() == nil {
		next, err := r.step(ctx, p, pos)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Error("projection failed, retrying", "projection", p.Name(), "position", pos, "err", err)
			select {
			case <-time.After(pause):
			case <-ctx.Done():
			}
			pause = min(2*pause, 5*time.Second)
			continue
		}
		pause = 50 * time.Millisecond
		if next == pos {
			if _, err := r.db.WaitBeyond(ctx, pos); err != nil {
				return
			}
			continue
		}
		pos = next
		r.advance(p.Name(), pos)
	}
}

// step applies the next batch after pos and returns the new position.
func (r *Runner) step(ctx context.Context, p Projection, pos int64) (int64, error) {
	evs, err := r.store.ReadAll(ctx, pos, r.batch)
	if err != nil || len(evs) == 0 {
		return pos, err
	}
	payloads := make([]events.Payload, len(evs))
	for i, e := range evs {
		if payloads[i], err = r.reg.Decode(e); err != nil {
			return pos, err
		}
	}
	last := evs[len(evs)-1].Position
	err = r.db.Write(ctx, func(tx *sql.Tx) error {
		for i, e := range evs {
			if err := p.Apply(ctx, tx, e, payloads[i]); err != nil {
				return fmt.Errorf("%s: apply %s at %d: %w", p.Name(), e.Type, e.Position, err)
			}
		}
		return events.SaveCheckpoint(ctx, tx, p.Name(), last)
	})
	if err != nil {
		return pos, err
	}
	return last, nil
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
func (r *Runner) lowest() (int64, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	low := int64(-1)
	for _, p := range r.projections {
		if pos := r.positions[p.Name()]; low < 0 || pos < low {
			low = pos
		}
	}
	return low, r.changed
}

// WaitFor blocks until every projection has applied the event at position
// (read-your-writes), or ctx ends.
func (r *Runner) WaitFor(ctx context.Context, position int64) error {
	for {
		low, changed := r.lowest()
		if low >= position {
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
