package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver

	_ "orderflow/events/pagecache" // spares every commit a walk over the writer's page cache
)

// Options configure Open.
type Options struct {
	Durability Durability
	// MaxBatch bounds how many concurrent writes share one transaction (group commit).
	MaxBatch int
	// Migrate, when set, runs on the write connection before the writer starts.
	Migrate func(ctx context.Context, db *sql.DB) error
	// Checked says the file passed SQLite's quick_check just before Open
	// (a backup received and checked to start on): Open skips its own,
	// about half a second per 600 MB.
	Checked bool
	// Lock, when set, is the database's lock, taken before (TakeLock): Open
	// keeps it, or releases it when it fails.
	Lock *Lock
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

	// diverged counts the diverged events met (RecordDivergence).
	diverged atomic.Uint64
	// commits and committedWrites count the writer's transactions that
	// committed and the writes they carried (see WriterStats).
	commits, committedWrites atomic.Uint64
	// busy is the time the writer spent in transactions, in nanoseconds
	// (see WriterBusy).
	busy atomic.Int64
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

// writerCacheKiB is the writer connection's page cache. SQLite's default,
// 2 MiB, holds the pages of the log's indexes that a write descends
// through only while the log is small: past a few hundred thousand events
// most inserts read index pages back from the operating system.
const writerCacheKiB = 64 << 10

// Open opens (creating if needed) the database at path in WAL mode.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	var lock *os.File
	if opts.Lock != nil {
		lock = opts.Lock.f
	}
	defer func() {
		if lock != nil {
			lock.Close() // Open failed: let go of the database
		}
	}()
	if opts.Durability == "" {
		opts.Durability = DurabilityFull
	}
	if _, err := ParseDurability(string(opts.Durability)); err != nil {
		return nil, err
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if lock == nil {
		l, err := lockFile(path)
		if err != nil {
			return nil, err
		}
		lock = l
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", string(opts.Durability))
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	// Deleted and overwritten content is overwritten with zeros in the file,
	// so that an erased customer's data does not linger in freed space.
	q.Set("_secure_delete", "on")
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
	if _, err := write.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", writerCacheKiB)); err != nil {
		write.Close()
		return nil, err
	}
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !opts.Checked {
		if err := checkIntegrity(ctx, write, path); err != nil {
			write.Close()
			return nil, err
		}
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
		(id, stream_id, stream_version, type, schema_version, occurred_at, correlation_id, causation_id, data,
		 source_position, cause_position, trace_parent, trace_state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("prepare: %w", err)
	}
	// The read connections run in SQLite's multi-thread mode (_mutex=no):
	// database/sql hands a connection, its statements and its rows to one
	// goroutine at a time, so SQLite's own lock per connection only adds a
	// mutex round trip to every column of every row read (a tenth of the
	// time of reading the log, in the profile of the peer benchmark,
	// events/peerbench). Cancelling a query still works: it interrupts the
	// connection with sqlite3_interrupt, which is safe from any thread.
	read, err := sql.Open("sqlite3", dsn+"&_query_only=true&_mutex=no")
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
	head, err := HeadOf(ctx, read)
	if err != nil {
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
