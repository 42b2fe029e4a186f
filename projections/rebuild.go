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

// rebuild runs the phases of Rebuild on the projections claim gave it:
// fresh generations, the catch-up while the live ones serve, the swap with
// the live readers paused, and taking the new generations live.
func (r *Runner) rebuild(ctx context.Context, ps []*projection, status *rebuildStatus, progress func(Progress)) error {
	defer r.unclaim(ps)
	start := time.Now()
	if r.beforeRebuild != nil {
		if err := r.beforeRebuild(ctx); err != nil {
			return err
		}
	}
	rb := &rebuildRun{r: r, ps: ps, start: start, status: status, progress: progress}
	rb.prog = Progress{Projections: rb.names(), Total: r.db.Head()}
	rb.report()
	if err := rb.createGenerations(ctx); err != nil {
		return err
	}
	pos, err := rb.catchUp(ctx)
	if err != nil {
		r.dropGenerations(ps, rb.gens)
		return err
	}
	// The swap: pause the live readers of these projections until the new
	// generations are live. (Always in the order of r.projections, as the
	// live reader locks them.)
	for _, p := range ps {
		p.mu.Lock()
		defer p.mu.Unlock()
	}
	now := time.Now().UTC()
	last, err := rb.swap(ctx, pos, now)
	if err != nil {
		r.dropGenerations(ps, rb.gens)
		return err
	}
	rb.goLive(last, now)
	return nil
}

// rebuildRun is one run of Rebuild: the projections it rebuilds, the
// generation each is rebuilt into with its applier, and the progress it
// reports.
type rebuildRun struct {
	r        *Runner
	ps       []*projection
	gens     []int64
	appliers []Applier

	start    time.Time
	prog     Progress
	status   *rebuildStatus
	progress func(Progress)
}

func (rb *rebuildRun) names() []string {
	var names []string
	for _, p := range rb.ps {
		names = append(names, p.def.Name)
	}
	return names
}

// report shows the progress so far to Status and to the caller of Rebuild.
func (rb *rebuildRun) report() {
	rb.prog.Elapsed = time.Since(rb.start)
	rb.status.set(rb.prog)
	if rb.progress != nil {
		rb.progress(rb.prog)
	}
}

// createGenerations creates a fresh generation of each projection's tables,
// next to the live one. (Never take p.mu inside a write: a live reader
// holds p.mu while it waits for the writer.)
func (rb *rebuildRun) createGenerations(ctx context.Context) error {
	rb.gens = make([]int64, len(rb.ps))
	rb.appliers = make([]Applier, len(rb.ps))
	for i, p := range rb.ps {
		p.mu.Lock()
		rb.gens[i] = p.gen + 1
		p.mu.Unlock()
	}
	return rb.r.db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for i, p := range rb.ps {
			if err := createGeneration(ctx, tx, p.def, rb.gens[i]); err != nil {
				return err
			}
			rb.appliers[i] = p.def.New(generationNames(rb.gens[i]))
		}
		return nil
	})
}

// catchUp applies the log to the fresh generations batch by batch, a
// transaction each, while the live generations serve, until it is close to
// the head, and returns the position it reached. The next batch is read
// and decoded while the writer applies this one (see readAhead).
func (rb *rebuildRun) catchUp(ctx context.Context) (int64, error) {
	var pos int64
	batches, stop := rb.r.readAhead(ctx, pos, rebuildBatch)
	defer stop()
	for b := range batches {
		if err := ctx.Err(); err != nil {
			return pos, err
		}
		evs, payloads, err := b.evs, b.payloads, b.err
		if err != nil {
			return pos, err
		}
		if len(evs) == 0 {
			return pos, nil
		}
		if err := rb.r.applyRebuild(ctx, rb.ps, rb.appliers, evs, payloads); err != nil {
			return pos, err
		}
		pos = evs[len(evs)-1].Position
		rb.prog.Done += int64(len(evs))
		rb.prog.Total = max(rb.r.db.Head(), pos)
		rb.report()
		if len(evs) < rebuildBatch {
			return pos, nil // close to the head: the swap takes the rest
		}
	}
	return pos, ctx.Err()
}

// readBatch is a batch of the log read ahead: its events and their
// payloads, or the error reading it.
type readBatch struct {
	evs      []events.Event
	payloads []events.Payload
	err      error
}

// readAhead reads the log after pos in batches of limit on a goroutine of
// its own, at most one batch ahead of the caller, so that reading and
// decoding a batch (half of a rebuild's work) runs beside the writer's
// applying the one before, on another core. It stops after an error or a
// short batch (close to the head), closing the channel; stop ends it early
// and returns once it has. Batches come in log order, so applying them as
// they come applies the log in order, as reading it in the loop did.
func (r *Runner) readAhead(ctx context.Context, pos int64, limit int) (batches <-chan readBatch, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	// Unbuffered: the batch read ahead waits in the reader's hands, so no
	// more than two batches are in memory at once.
	out := make(chan readBatch)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		for {
			evs, payloads, err := r.read(ctx, pos, limit)
			select {
			case out <- readBatch{evs: evs, payloads: payloads, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(evs) < limit {
				return
			}
			pos = evs[len(evs)-1].Position
		}
	}()
	return out, func() {
		cancel()
		<-done
	}
}

// swap, in one transaction of the single writer (so no event can commit
// meanwhile), applies to the fresh generations what arrived after pos,
// then swaps each projection's new generation in for the old one. It
// returns the position the new generations reached.
func (rb *rebuildRun) swap(ctx context.Context, pos int64, now time.Time) (int64, error) {
	last := pos
	err := rb.r.db.Write(ctx, func(ctx context.Context, sqlTx *sql.Tx) error {
		var err error
		if last, err = rb.applyRest(ctx, sqlTx, pos); err != nil {
			return err
		}
		for i, p := range rb.ps {
			if err := swapGeneration(ctx, sqlTx, p, rb.gens[i], last, now); err != nil {
				return err
			}
		}
		return nil
	})
	return last, err
}

// applyRest applies everything after pos to the fresh generations inside
// the swap's transaction, and returns the last position applied.
func (rb *rebuildRun) applyRest(ctx context.Context, sqlTx *sql.Tx, pos int64) (int64, error) {
	for {
		evs, payloads, err := rb.r.read(ctx, pos, rebuildBatch)
		if err != nil {
			return pos, err
		}
		if len(evs) == 0 {
			return pos, nil
		}
		if err := applyToGenerations(ctx, sqlTx, rb.ps, rb.appliers, evs, payloads); err != nil {
			return pos, err
		}
		pos = evs[len(evs)-1].Position
		rb.prog.Done += int64(len(evs))
	}
}

// swapGeneration makes generation gen, complete up to last, p's live one
// inside the swap's transaction: the views point at it, the old
// generation's tables are dropped, and the checkpoint moves to last.
func swapGeneration(ctx context.Context, sqlTx *sql.Tx, p *projection, gen, last int64, now time.Time) error {
	if err := pointViews(ctx, sqlTx, p.def, gen); err != nil {
		return err
	}
	old := generationNames(p.gen)
	for _, t := range p.def.Tables {
		if _, err := sqlTx.ExecContext(ctx, `DROP TABLE IF EXISTS `+old(t)); err != nil {
			return err
		}
	}
	if _, err := sqlTx.ExecContext(ctx, `UPDATE projection_generations SET generation = ?, rebuilt_at = ? WHERE name = ?`,
		gen, now.UnixNano(), p.def.Name); err != nil {
		return err
	}
	if err := events.SaveCheckpoint(ctx, sqlTx, p.def.Name, last); err != nil {
		return err
	}
	// The rebuild applied every event it could decode: the ones the
	// projection had set aside are in the new tables now.
	return events.ResolveDeadLetters(ctx, sqlTx, deadLetterReader(p.def.Name), now)
}

// goLive hands the live reader the new generations, committed up to last,
// and reports the rebuild done.
func (rb *rebuildRun) goLive(last int64, now time.Time) {
	r := rb.r
	for i, p := range rb.ps {
		p.gen, p.applier = rb.gens[i], rb.appliers[i]
		r.mu.Lock()
		r.rebuiltAt[p.def.Name] = now
		r.mu.Unlock()
		r.advance(p.def.Name, last)
	}
	rb.prog.Total = max(rb.prog.Total, last)
	rb.report()
}

// unclaim lets ps be rebuilt again once a rebuild of them ended.
func (r *Runner) unclaim(ps []*projection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range ps {
		delete(r.rebuilds, p.def.Name)
	}
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
	return r.db.Write(ctx, func(ctx context.Context, sqlTx *sql.Tx) error {
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
	err := r.db.Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
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
