package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// Durability chooses what an acknowledged write survives.
type Durability string

const (
	// DurabilityFull fsyncs the log on every commit: an acknowledged write
	// survives a process crash and a power loss.
	DurabilityFull Durability = "full"
	// DurabilityNormal lets SQLite skip the fsync per commit in WAL mode: an
	// acknowledged write survives a process crash, but the last commits can
	// be lost on power loss or an operating system crash.
	DurabilityNormal Durability = "normal"
)

// ParseDurability accepts "full" or "normal".
func ParseDurability(s string) (Durability, error) {
	switch Durability(s) {
	case DurabilityFull, DurabilityNormal:
		return Durability(s), nil
	}
	return "", fmt.Errorf("durability %q: want %q or %q", s, DurabilityFull, DurabilityNormal)
}

// Options configure Open.
type Options struct {
	Durability Durability
	// MaxBatch bounds how many concurrent writes share one transaction (group commit).
	MaxBatch int
	// Migrate, when set, runs on the write connection before the writer starts.
	Migrate func(ctx context.Context, db *sql.DB) error
}

// DB is one SQLite database file with exactly one writer. All writes go
// through Write, which queues them to a single goroutine; concurrent writes
// are committed together in one transaction (group commit), each inside its
// own savepoint so that one failing write never undoes another.
type DB struct {
	read  *sql.DB
	write *sql.DB

	reqs     chan *writeReq
	maxBatch int
	linger   time.Duration
	// full is the configured durability; synced is what the connection is
	// set to now.
	full, synced bool

	closeOnce sync.Once
	stop      chan struct{}
	stopped   chan struct{}

	head *headWatch
	tail *tail

	versionStmt, insertStmt *sql.Stmt
	lock                    *os.File

	// versions caches the current version of streams written or checked
	// lately; pending holds what the open batch changed until it commits.
	// Only the writer goroutine touches them, and only this writer appends
	// to the file (the lock guarantees it), so an entry can only go stale
	// by a rollback, which discards pending.
	versions, pending map[string]int64

	stmtMu    sync.Mutex
	readStmts map[string]*sql.Stmt
}

// readStmt returns the prepared statement for a read query, preparing it on
// first use (database/sql then prepares it once per pooled connection).
func (d *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	d.stmtMu.Lock()
	defer d.stmtMu.Unlock()
	if st, ok := d.readStmts[query]; ok {
		return st, nil
	}
	st, err := d.read.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if d.readStmts == nil {
		d.readStmts = map[string]*sql.Stmt{}
	}
	d.readStmts[query] = st
	return st, nil
}

// writeFailed marks an error after a write already changed the transaction
// of a request that has no savepoint: the whole batch must be rolled back.
type writeFailed struct{ err error }

func (w *writeFailed) Error() string { return w.err.Error() }
func (w *writeFailed) Unwrap() error { return w.err }

type writeReq struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
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

// Open opens (creating if needed) the database at path in WAL mode.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if opts.Durability == "" {
		opts.Durability = DurabilityFull
	}
	if _, err := ParseDurability(string(opts.Durability)); err != nil {
		return nil, err
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if lock != nil {
			lock.Close() // Open failed: let go of the database
		}
	}()
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", string(opts.Durability))
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	dsn := "file:" + path + "?" + q.Encode()

	write, err := sql.Open("sqlite3", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	// Checkpoint the write-ahead log every 16384 pages (64 MiB) instead of
	// SQLite's 1000: the same index pages change in commit after commit, and
	// a checkpoint copies each of them once however often it changed.
	if _, err := write.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 16384"); err != nil {
		write.Close()
		return nil, err
	}
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if opts.Migrate != nil {
		if err := opts.Migrate(ctx, write); err != nil {
			write.Close()
			return nil, fmt.Errorf("migrate %s: %w", path, err)
		}
	}
	versionStmt, err := write.PrepareContext(ctx, "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("prepare: %w", err)
	}
	insertStmt, err := write.PrepareContext(ctx, `INSERT INTO events
		(id, stream_id, stream_version, type, schema_version, occurred_at, correlation_id, causation_id, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("prepare: %w", err)
	}
	read, err := sql.Open("sqlite3", dsn+"&_query_only=true")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)

	d := &DB{
		read:     read,
		write:    write,
		reqs:     make(chan *writeReq, 1024),
		maxBatch: opts.MaxBatch,
		full:     opts.Durability == DurabilityFull,
		synced:   opts.Durability == DurabilityFull,
		linger:   200 * time.Microsecond,
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
		head:     newHeadWatch(),
		tail:     newTail(),

		versionStmt: versionStmt,
		versions:    map[string]int64{},
		pending:     map[string]int64{},
		insertStmt:  insertStmt,
	}
	var head int64
	if err := read.QueryRowContext(ctx, "SELECT COALESCE(MAX(position), 0) FROM events").Scan(&head); err != nil {
		d.closeConns()
		return nil, fmt.Errorf("read head position: %w", err)
	}
	d.head.advance(head)
	d.lock, lock = lock, nil
	go d.run()
	return d, nil
}

// Reader is the pool of read-only connections. In WAL mode readers never wait
// for the writer.
func (d *DB) Reader() *sql.DB { return d.read }

// Write runs fn in the writer's transaction and returns once that transaction
// committed (nil) or fn's changes were rolled back (an error). fn must not
// keep tx beyond its return and must be quick: it holds the only writer.
func (d *DB) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return d.submit(ctx, &writeReq{ctx: ctx, fn: fn})
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

// maxCachedVersions bounds the stream version cache.
const maxCachedVersions = 200_000

// streamVersion is a stream's current version inside the writer's open
// transaction: what this batch appended, else the cache, else the table.
func (d *DB) streamVersion(ctx context.Context, tx *sql.Tx, streamID string) (int64, error) {
	if v, ok := d.knownVersion(streamID); ok {
		return v, nil
	}
	var v int64
	if err := tx.StmtContext(ctx, d.versionStmt).QueryRowContext(ctx, streamID).Scan(&v); err != nil {
		return 0, err
	}
	if len(d.versions) < maxCachedVersions {
		d.versions[streamID] = v
	}
	return v, nil
}

// knownVersion is a stream's version inside the writer's open transaction
// when the writer knows it without asking the table.
func (d *DB) knownVersion(streamID string) (int64, bool) {
	if v, ok := d.pending[streamID]; ok {
		return v, true
	}
	v, ok := d.versions[streamID]
	return v, ok
}

// setSync syncs a batch's commit only when it holds a durable write. Derived
// writes (what reactions, projections and the relay write) can always be
// written again from the events before them, and SQLite's log can only lose
// a suffix of commits on power loss: whatever a lost derived write depended
// on is either kept or lost with it. A synced commit makes everything before
// it durable too.
// An error means a durable write could not be made durable.
func (d *DB) setSync(ctx context.Context, batch []*writeReq) error {
	want := false
	if d.full {
		for _, r := range batch {
			want = want || r.durable
		}
	}
	if want == d.synced {
		return nil
	}
	mode := "NORMAL"
	if want {
		mode = "FULL"
	}
	if _, err := d.write.ExecContext(ctx, "PRAGMA synchronous = "+mode); err != nil {
		if want {
			return fmt.Errorf("set synchronous=FULL: %w", err)
		}
		return nil // staying synced is safe, only slower
	}
	d.synced = want
	return nil
}

// Close stops the writer after the writes already queued and closes the file.
func (d *DB) Close() error {
	d.closeOnce.Do(func() { close(d.stop) })
	<-d.stopped
	return d.closeConns()
}

func (d *DB) closeConns() error {
	err := errors.Join(d.read.Close(), d.write.Close())
	if d.lock != nil {
		err = errors.Join(err, d.lock.Close())
	}
	return err
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
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if r.checksFirst {
			if err := r.fn(tx); err != nil {
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
		if err := r.fn(tx); err != nil {
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
