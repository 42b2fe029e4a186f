package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// writeFailed marks an error after a write already changed the transaction
// of a request that has no savepoint: the whole batch must be rolled back.
type writeFailed struct{ err error }

func (w *writeFailed) Error() string { return w.err.Error() }
func (w *writeFailed) Unwrap() error { return w.err }

type writeReq struct {
	// ctx is the caller's: the writer drops the request, unrun, when ctx has
	// ended by the time its turn comes. Once it runs, fn gets a context that
	// cannot be cancelled: its statements run inside a transaction shared
	// with other callers, and SQLite answers an interrupted statement by
	// rolling back the whole transaction, everyone's writes with it.
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
	// after runs once the transaction holding fn committed, inside the writer.
	after func()
	// checksFirst says fn changes nothing before it can fail a rule, and
	// marks later failures as *writeFailed; it then runs without a savepoint.
	checksFirst bool
	// durable says the write is acknowledged to someone who relies on it
	// surviving a power loss: its commit must be synced.
	durable bool
}

// Write runs fn in the writer's transaction and returns once that transaction
// committed (nil) or fn's changes were rolled back (an error). fn must not
// keep tx beyond its return and must be quick: it holds the only writer.
// ctx only drops the write while it waits for its turn. fn is handed a
// context with ctx's values that never ends, for its statements: one ended
// while they run would roll back the transaction shared with other writes,
// and a context that can end costs go-sqlite3 a goroutine per statement.
func (d *DB) Write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return d.submit(ctx, &writeReq{ctx: ctx, fn: fn})
}

// WriterStats is how many transactions the writer committed since the
// start, and how many writes they carried: their ratio is how well group
// commit shares each synced commit among concurrent writers.
func (d *DB) WriterStats() (commits, writes uint64) {
	return d.commits.Load(), d.committedWrites.Load()
}

// WriterBusy is how long the writer spent in transactions since the start:
// running their writes, committing and syncing. Its rate is the single
// writer's utilization; near one, writes queue behind it and it bounds
// what the process can take.
func (d *DB) WriterBusy() time.Duration {
	return time.Duration(d.busy.Load())
}

func (d *DB) submit(ctx context.Context, r *writeReq) error {
	r.done = make(chan error, 1)
	select {
	case <-d.stop:
		return ErrClosed
	default:
	}
	select {
	case d.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-d.stop:
		return ErrClosed
	}
	// Once queued the request is answered, even when ctx ends: the caller
	// must learn whether its write committed. Only a request that slipped
	// in after the writer's last look at the queue is never run.
	select {
	case err := <-r.done:
		return err
	case <-d.stopped:
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	}
}

func (d *DB) run() {
	defer close(d.stopped)
	last := 0
	for {
		var first *writeReq
		select {
		case first = <-d.reqs:
		case <-d.stop:
			// Answer whatever is still queued before going away.
			for {
				select {
				case r := <-d.reqs:
					d.commit([]*writeReq{r})
				default:
					return
				}
			}
		}
		batch := []*writeReq{first}
		// Group commit: under concurrent load (the last batch held more
		// than one write) linger briefly so that writers about to queue,
		// typically those the previous commit just answered, share this
		// transaction. A lone writer never waits.
		var deadline time.Time
		if last > 1 {
			deadline = time.Now().Add(d.linger)
		}
	fill:
		for len(batch) < d.maxBatch {
			select {
			case r := <-d.reqs:
				batch = append(batch, r)
			default:
				if !time.Now().Before(deadline) {
					break fill
				}
				runtime.Gosched()
			}
		}
		d.commit(batch)
		last = len(batch)
	}
}

// commit runs a batch of writes in one transaction. Each write gets its own
// savepoint: a write that fails is rolled back alone and told its error; the
// others commit together and are told nil only after the commit.
func (d *DB) commit(batch []*writeReq) {
	began := time.Now()
	defer func() { d.busy.Add(int64(time.Since(began))) }()
	ctx := context.Background()
	clear(d.pending)
	if err := d.setSync(ctx, batch); err != nil {
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range batch {
			r.done <- fmt.Errorf("begin write transaction: %w", err)
		}
		return
	}
	results := make([]error, len(batch))
	ok := 0
	abort := func(cause error) {
		tx.Rollback()
		for i, r := range batch {
			if results[i] == nil {
				results[i] = fmt.Errorf("write batch aborted: %w", cause)
			}
			r.done <- results[i]
		}
	}
	for i, r := range batch {
		// A caller that went away before its turn is dropped; after this
		// point its cancellation no longer reaches its statements.
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		rctx := context.WithoutCancel(r.ctx)
		if r.checksFirst {
			if err := r.fn(rctx, tx); err != nil {
				var failed *writeFailed
				if errors.As(err, &failed) {
					results[i] = err
					abort(err)
					return
				}
				results[i] = err
				continue
			}
			ok++
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			results[i] = fmt.Errorf("savepoint: %w", err)
			continue
		}
		if err := r.fn(rctx, tx); err != nil {
			results[i] = err
			if _, rbErr := tx.ExecContext(ctx, "ROLLBACK TO w"); rbErr != nil {
				// The transaction is in an unknown state: give up on all of it.
				abort(rbErr)
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE w"); err != nil && results[i] == nil {
			results[i] = fmt.Errorf("release savepoint: %w", err)
		}
		if results[i] == nil {
			ok++
		}
	}
	if ok == 0 {
		tx.Rollback()
		for i, r := range batch {
			r.done <- results[i]
		}
		return
	}
	if err := tx.Commit(); err != nil {
		for _, r := range batch {
			r.done <- fmt.Errorf("commit: %w", err)
		}
		return
	}
	d.commits.Add(1)
	d.committedWrites.Add(uint64(ok))
	if len(d.versions) > maxCachedVersions {
		clear(d.versions)
	}
	for id, v := range d.pending {
		d.versions[id] = v
	}
	for i, r := range batch {
		if results[i] == nil && r.after != nil {
			r.after()
		}
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// Sync returns once everything committed before it was called is durable
// (synced to disk) when the durability is full; at once otherwise. It
// commits a small write that asks for a sync (a transaction that writes
// nothing is not synced), and a synced commit makes the commits before it
// durable too: SQLite's log keeps them in order.
func (d *DB) Sync(ctx context.Context) error {
	if !d.full {
		return nil
	}
	return d.submit(ctx, &writeReq{ctx: ctx, durable: true, fn: func(ctx context.Context, tx *sql.Tx) error {
		return SaveCheckpoint(ctx, tx, syncMark, time.Now().UnixNano())
	}})
}

// syncMark is the checkpoint Sync writes.
const syncMark = "sync-mark"
