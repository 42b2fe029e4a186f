// Package cdc is `orderflow cdc`: change data capture from a legacy
// PostgreSQL database into the orderflow store. It follows the legacy
// products and customers tables by logical replication (the pgoutput
// plugin) and turns every row change into an orderflow command, written
// in-process through commands.Handlers into the same SQLite store the
// server uses (so it holds the store's lock while it runs). The server runs
// the same follower inside itself with --cdc-pg (see Follow), through its
// own writer.
//
// Guarantees: the first run takes a consistent snapshot of the tables (read
// in the snapshot exported when the replication slot is made) and then
// streams every change committed after it, in commit order. A change is
// confirmed to PostgreSQL only once the events it caused are committed to
// the store, so a crash loses nothing: PostgreSQL sends again everything
// after the last confirmed position. What it sends again is applied at most
// once, because each command is idempotent on the source row and the
// change's LSN (see commands.SourceChange). A lost connection (the legacy
// database restarting) is retried with a growing backoff; bad credentials,
// a missing table or column, a missing privilege, a wal_level below
// logical and a table whose replica identity lacks its id column stop it
// with a message that says what to fix.
package cdc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"orderflow/app/flags"
	"orderflow/commands"
	"orderflow/events"
	"orderflow/migrations"
	"orderflow/projections"
)

// Main runs `orderflow cdc` until ctx ends or a permanent error, and
// returns the process exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := ParseFlags(args, getenv)
	if err != nil {
		return flags.Exit("orderflow cdc", err, stdout, stderr)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	run := func() error { return Run(ctx, cfg, log, nil) }
	if cfg.Drop {
		run = func() error { return Drop(ctx, cfg, log) }
	}
	if err := run(); err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "orderflow cdc:", err)
		return 1
	}
	return 0
}

// Stats is the progress of a run, read by /metrics and the progress log.
type Stats struct {
	RowsSnapshotted atomic.Int64
	ChangesApplied  atomic.Int64 // row changes turned into commands (including ones that recorded nothing)
	ChangesSkipped  atomic.Int64 // changes met again that had been applied before
	ChangesRejected atomic.Int64 // rows the domain refused (a blank name, a bad price, …), logged
	// ChangesIgnored counts changes, or parts of them, that the domain
	// keeps no record of, logged with what was dropped: a registered
	// customer's new name or email, a deleted customer, a TRUNCATE.
	ChangesIgnored atomic.Int64
	AppliedLSN     atomic.Uint64
	ServerLSN      atomic.Uint64 // end of the source's log as last reported
	Reconnects     atomic.Int64
	Streaming      atomic.Bool
	// Unreachable is set while the last attempt to connect did not reach
	// the source (a wrong host, the server down).
	Unreachable atomic.Bool
	problem     atomic.Pointer[string]
}

// Problem is why the run is not streaming, as /readyz says it: "" while
// streaming, else the last error met (or that it is starting).
func (s *Stats) Problem() string {
	if s.Streaming.Load() {
		return ""
	}
	if p := s.problem.Load(); p != nil {
		return *p
	}
	return "starting: not streaming from the source yet"
}

func (s *Stats) setProblem(p string) { s.problem.Store(&p) }

// reached records a connection that reached the source.
func (s *Stats) reached() {
	s.Unreachable.Store(false)
	s.problem.Store(nil)
}

// LagBytes is how far the applied position is behind the end of the
// source's log, in bytes of WAL.
func (s *Stats) LagBytes() int64 {
	server, applied := s.ServerLSN.Load(), s.AppliedLSN.Load()
	if server <= applied {
		return 0
	}
	return int64(server - applied)
}

// Run follows the legacy database until ctx ends or a permanent error.
// stats, when not nil, is kept up to date.
// A run that made the store and stops with an error before its snapshot
// was done removes the store again (see removeUnused).
func Run(ctx context.Context, cfg Config, log *slog.Logger, stats *Stats) (err error) {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if stats == nil {
		stats = &Stats{}
	}
	_, statErr := os.Stat(cfg.DBPath)
	created := errors.Is(statErr, fs.ErrNotExist)
	db, err := events.Open(ctx, cfg.DBPath, events.Options{Migrate: migrations.Apply, Durability: cfg.Durability})
	if err != nil {
		return fmt.Errorf("open %s: %w", cfg.DBPath, err)
	}
	defer func() {
		if err != nil && created {
			removeUnused(db, cfg, log)
		}
		db.Close()
	}()
	reg := commands.Registry()
	reg.UseKeys(events.NewKeyring(db)) // customers' personal fields are sealed
	h := commands.New(events.NewStore(db), reg, projections.NewViews(db.Reader()), commands.Config{})

	if cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		srv := &http.Server{Handler: metricsHandler(stats), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("cdc: serving /metrics", "addr", ln.Addr().String())
	}

	return follow(ctx, cfg, db, h, log, stats)
}

// Follow follows the legacy database into a store another owner opened
// (`orderflow serve --cdc-pg`: the server's database, written through the
// server's writer and handlers) until ctx ends or a permanent error. It
// leaves cfg.DBPath and cfg.MetricsAddr alone: the owner of db serves the
// progress in stats.
func Follow(ctx context.Context, cfg Config, db *events.DB, h *commands.Handlers, log *slog.Logger, stats *Stats) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	return follow(ctx, cfg, db, h, log, stats)
}

func follow(ctx context.Context, cfg Config, db *events.DB, h *commands.Handlers, log *slog.Logger, stats *Stats) error {
	r := &runner{cfg: cfg, log: log, db: db, h: h, stats: stats}
	go r.logProgress(ctx)
	backoff := cfg.MinBackoff
	for {
		started := time.Now()
		err := r.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return err
		}
		if time.Since(started) > 2*cfg.MaxBackoff {
			backoff = cfg.MinBackoff // it ran well for a while: start the backoff afresh
		}
		wasStreaming := stats.Streaming.Swap(false)
		stats.Reconnects.Add(1)
		stats.setProblem(oneLine(err.Error()))
		var unreachable *unreachableError
		switch {
		case errors.As(err, &unreachable):
			stats.Unreachable.Store(true)
			log.Warn("cdc: cannot reach the source, retrying", "addr", unreachable.addr, "err", err.Error(), "in", backoff)
		case wasStreaming:
			log.Warn("cdc: lost the source, reconnecting", "err", oneLine(err.Error()), "in", backoff)
		default:
			log.Warn("cdc: could not start following the source, retrying", "err", oneLine(err.Error()), "in", backoff)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, cfg.MaxBackoff)
	}
}

// removeUnused removes the store a failed run made (the database, its -wal
// and -shm files and its lock file), so that a mistake in the flags leaves
// no empty database behind, only when nothing in it is needed: while the
// snapshot's checkpoint is missing no position was ever confirmed to the
// source, and the next run makes its slot and snapshot again. It runs while
// the store is still open, so that it holds the lock as it removes it.
func removeUnused(db *events.DB, cfg Config, log *slog.Logger) {
	if at, err := db.Checkpoint(context.Background(), snapshotCheckpoint(cfg.Slot)); err != nil || at > 0 {
		return
	}
	real, err := filepath.EvalSymlinks(cfg.DBPath)
	if err != nil {
		return
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal", ".lock"} {
		if err := os.Remove(real + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("cdc: could not remove the store this run made", "file", real+suffix, "err", err)
		}
	}
}

// permanentError is what reconnecting cannot mend: it stops the run.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// runner is one run: the store, the handlers and the progress.
type runner struct {
	cfg   Config
	log   *slog.Logger
	db    *events.DB
	h     *commands.Handlers
	stats *Stats
}

func (r *runner) logProgress(ctx context.Context) {
	t := time.NewTicker(r.cfg.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s := r.stats
			r.log.Info("cdc: progress", "rows_snapshotted", s.RowsSnapshotted.Load(),
				"changes_applied", s.ChangesApplied.Load(), "changes_skipped", s.ChangesSkipped.Load(),

				"changes_rejected", s.ChangesRejected.Load(), "changes_ignored", s.ChangesIgnored.Load(), "applied_lsn", lsnString(s.AppliedLSN.Load()),
				"lag_bytes", s.LagBytes(), "streaming", s.Streaming.Load())
		}
	}
}
