package projections

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"sync"
	"time"

	"orderflow/events"
)

// rebuildBatch is how many events a rebuild applies per transaction.
const rebuildBatch = 4096

// Progress reports a running rebuild.
type Progress struct {
	Projections []string
	Done        int64 // events applied so far
	Total       int64 // head position when last looked
	Elapsed     time.Duration
}

// EventsPerSecond is the rebuild's average speed so far.
func (p Progress) EventsPerSecond() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

type rebuildStatus struct {
	mu       sync.Mutex
	progress Progress
}

func (s *rebuildStatus) set(p Progress) {
	s.mu.Lock()
	s.progress = p
	s.mu.Unlock()
}

func (s *rebuildStatus) get() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progress
}

// Rebuild rebuilds the named projections (all when names is empty) from
// position 0, straight from the store in batches, into a fresh generation
// of their tables. The live generation keeps being updated and queried
// meanwhile. When the new generation has caught up, one write transaction
// applies the last events, points the views at it, drops the old tables and
// moves the checkpoints: readers see the old or the new read model, never a
// mix. Several projections rebuilt together share one pass over the log.
// progress, when not nil, is called after every batch.
func (r *Runner) Rebuild(ctx context.Context, names []string, progress func(Progress)) error {
	ps, status, err := r.claim(names)
	if err != nil {
		return err
	}
	return r.rebuild(ctx, ps, status, progress)
}

// RebuildInBackground starts rebuilding one projection and returns once it
// is marked REBUILDING. The rebuild runs until done or until the runner's
// context (the one given to Start) ends; failures are logged.
func (r *Runner) RebuildInBackground(name string) error {
	ps, status, err := r.claim([]string{name})
	if err != nil {
		return err
	}
	go func() {
		if err := r.rebuild(r.ctx, ps, status, nil); err != nil {
			r.log.Error("rebuild failed", "projection", name, "err", err)
			return
		}
		r.log.Info("rebuild done", "projection", name, "events", status.get().Done)
	}()
	return nil
}

func (r *Runner) rebuild(ctx context.Context, ps []*projection, status *rebuildStatus, progress func(Progress)) error {
	defer func() {
		r.mu.Lock()
		for _, p := range ps {
			delete(r.rebuilds, p.def.Name)
		}
		r.mu.Unlock()
	}()

	var names []string
	for _, p := range ps {
		names = append(names, p.def.Name)
	}
	start := time.Now()
	if r.beforeRebuild != nil {
		if err := r.beforeRebuild(ctx); err != nil {
			return err
		}
	}
	prog := Progress{Projections: names, Total: r.db.Head()}
	report := func() {
		prog.Elapsed = time.Since(start)
		status.set(prog)
		if progress != nil {
			progress(prog)
		}
	}
	report()

	// A fresh generation per projection, next to the live one.
	// (Never take p.mu inside a write: a live reader holds p.mu while it
	// waits for the writer.)
	gens := make([]int64, len(ps))
	appliers := make([]Applier, len(ps))
	for i, p := range ps {
		p.mu.Lock()
		gens[i] = p.gen + 1
		p.mu.Unlock()
	}
	err := r.db.Write(ctx, func(tx *sql.Tx) error {
		for i, p := range ps {
			if err := createGeneration(ctx, tx, p.def, gens[i]); err != nil {
				return err
			}
			appliers[i] = p.def.New(generationNames(gens[i]))
		}
		return nil
	})
	if err != nil {
		return err
	}

	// Catch up batch by batch while the live generation serves.
	var pos int64
	for {
		if err := ctx.Err(); err != nil {
			r.dropGenerations(ps, gens)
			return err
		}
		evs, payloads, err := r.read(ctx, pos, rebuildBatch)
		if err != nil {
			r.dropGenerations(ps, gens)
			return err
		}
		if len(evs) == 0 {
			break
		}
		if err := r.applyRebuild(ctx, ps, appliers, evs, payloads); err != nil {
			r.dropGenerations(ps, gens)
			return err
		}
		pos = evs[len(evs)-1].Position
		prog.Done += int64(len(evs))
		prog.Total = max(r.db.Head(), pos)
		report()
		if len(evs) < rebuildBatch {
			break // close to the head: the swap takes the rest
		}
	}

	// The swap: pause the live readers of these projections, then in one
	// transaction of the single writer (so no event can commit meanwhile)
	// apply what arrived since, point the views, drop the old generation
	// and move the checkpoints.
	for _, p := range ps {
		p.mu.Lock()
		defer p.mu.Unlock()
	}
	last := pos
	now := time.Now().UTC()
	err = r.db.Write(ctx, func(sqlTx *sql.Tx) error {
		for {
			evs, payloads, err := r.read(ctx, last, rebuildBatch)
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				break
			}
			if err := applyToGenerations(ctx, sqlTx, ps, appliers, evs, payloads); err != nil {
				return err
			}
			last = evs[len(evs)-1].Position
			prog.Done += int64(len(evs))
		}
		for i, p := range ps {
			if err := pointViews(ctx, sqlTx, p.def, gens[i]); err != nil {
				return err
			}
			old := generationNames(p.gen)
			for _, t := range p.def.Tables {
				if _, err := sqlTx.ExecContext(ctx, `DROP TABLE IF EXISTS `+old(t)); err != nil {
					return err
				}
			}
			if _, err := sqlTx.ExecContext(ctx, `UPDATE projection_generations SET generation = ?, rebuilt_at = ? WHERE name = ?`,
				gens[i], now.UnixNano(), p.def.Name); err != nil {
				return err
			}
			if err := events.SaveCheckpoint(ctx, sqlTx, p.def.Name, last); err != nil {
				return err
			}
			// The rebuild applied every event it could decode: the ones the
			// projection had set aside are in the new tables now.
			if err := events.ResolveDeadLetters(ctx, sqlTx, deadLetterReader(p.def.Name), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		r.dropGenerations(ps, gens)
		return err
	}
	for i, p := range ps {
		p.gen, p.applier = gens[i], appliers[i]
		r.mu.Lock()
		r.rebuiltAt[p.def.Name] = now
		r.mu.Unlock()
		r.advance(p.def.Name, last)
	}
	prog.Total = max(prog.Total, last)
	report()
	return nil
}

// claim resolves names to projections (all when empty), refuses those
// being rebuilt, and marks them REBUILDING.
func (r *Runner) claim(names []string) ([]*projection, *rebuildStatus, error) {
	wanted := map[string]bool{}
	for _, n := range names {
		if _, ok := r.byName[n]; !ok {
			return nil, nil, fmt.Errorf("%w %q", ErrUnknownProjection, n)
		}
		wanted[n] = true
	}
	// Keep the order of r.projections: the swap locks them in that order,
	// as the live reader does.
	var ps []*projection
	for _, p := range r.projections {
		if len(names) == 0 || wanted[p.def.Name] {
			ps = append(ps, p)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range ps {
		if r.rebuilds[p.def.Name] != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.def.Name, ErrRebuilding)
		}
	}
	status := &rebuildStatus{}
	for _, p := range ps {
		r.rebuilds[p.def.Name] = status
	}
	return ps, status, nil
}

func (r *Runner) applyRebuild(ctx context.Context, ps []*projection, appliers []Applier, evs []events.Event, payloads []events.Payload) error {
	return r.db.Write(ctx, func(sqlTx *sql.Tx) error {
		return applyToGenerations(ctx, sqlTx, ps, appliers, evs, payloads)
	})
}

// applyToGenerations applies a batch to the fresh generation of every
// projection being rebuilt, inside the writer's transaction.
func applyToGenerations(ctx context.Context, sqlTx *sql.Tx, ps []*projection, appliers []Applier, evs []events.Event, payloads []events.Payload) error {
	return withTx(sqlTx, func(tx *Tx) error {
		for i, p := range ps {
			if err := applyAll(ctx, tx, p.def.Name, appliers[i], evs, payloads); err != nil {
				return err
			}
		}
		return nil
	})
}

// dropGenerations removes the tables of an abandoned rebuild.
func (r *Runner) dropGenerations(ps []*projection, gens []int64) {
	err := r.db.Write(context.Background(), func(tx *sql.Tx) error {
		for i, p := range ps {
			if gens[i] == 0 {
				continue
			}
			names := generationNames(gens[i])
			for _, t := range p.def.Tables {
				if _, err := tx.Exec(`DROP TABLE IF EXISTS ` + names(t)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		r.log.Warn("could not drop the tables of an abandoned rebuild", "err", err)
	}
}

// Status is what the API shows of a projection.
type Status struct {
	Name            string
	State           string
	Position        int64
	HeadPosition    int64
	EventsPerSecond float64 // of the running rebuild; 0 when live
	LastRebuiltAt   *time.Time
}

// Lag is how many positions the projection is behind the head.
func (s Status) Lag() int64 { return max(s.HeadPosition-s.Position, 0) }

// Statuses lists every projection by name.
func (r *Runner) Statuses() []Status {
	out := make([]Status, 0, len(r.projections))
	for _, p := range r.projections {
		s, _ := r.Status(p.def.Name)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Status reports one projection; ok is false for an unknown name.
func (r *Runner) Status(name string) (Status, bool) {
	if _, ok := r.byName[name]; !ok {
		return Status{}, false
	}
	head := r.db.Head()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Status{Name: name, State: StateLive, Position: r.positions[name], HeadPosition: head}
	if at, ok := r.rebuiltAt[name]; ok {
		s.LastRebuiltAt = &at
	}
	if rb := r.rebuilds[name]; rb != nil {
		s.State = StateRebuilding
		s.EventsPerSecond = rb.get().EventsPerSecond()
	}
	return s, true
}
