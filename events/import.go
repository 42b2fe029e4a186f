package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Imported says what became of one event handed to Import.
type Imported struct {
	// Position is where the event is in this log: where it was just
	// written, or where it already was. 0 when it was dropped as stale.
	Position int64
	// New says it was written by this call.
	New bool
	// Stale says the stream already holds another event at its version:
	// two processes wrote one stream. The first event of each version
	// wins, in every process alike, so it is dropped; see
	// DB.RecordDivergence.
	Stale bool
	// Held is, for a stale event, the id of the event the log holds at
	// its version.
	Held string
}

// Import copies events written by other processes (received over Kafka)
// into this log in one transaction, keeping their ids, streams, stream
// versions and metadata, with their origin positions as source positions.
// Kafka delivers at least once: an event already here (by id) is not
// written again. An event may fill a gap in its stream (an earlier version
// that reached this process after a later one, by another topic or
// partition); one at a version the stream holds as another event is
// stale. also, when given, runs in the same
// transaction (to record how far the import got, exactly once).
func (s *Store) Import(ctx context.Context, evs []Event, also func(ctx context.Context, tx *sql.Tx) error) ([]Imported, error) {
	out := make([]Imported, len(evs))
	// What the log's tail holds already (the same event read from another
	// topic a moment ago, or this process's own output read back) is found
	// in memory; only the rest goes to the writer.
	rest := make([]Event, 0, len(evs))
	restAt := make([]int, 0, len(evs))
	for i, e := range evs {
		if held, ok := s.db.tail.find(e.ID); ok {
			out[i] = Imported{Position: held.Position}
			continue
		}
		rest = append(rest, e)
		restAt = append(restAt, i)
	}
	if len(rest) == 0 && also == nil {
		return out, nil
	}
	stored := make([]Event, 0, len(rest))
	got := make([]Imported, len(rest))
	req := &writeReq{ctx: ctx, durable: false}
	req.fn = func(wctx context.Context, tx *sql.Tx) error {
		stored = stored[:0]
		if err := s.importTx(wctx, tx, rest, got, &stored); err != nil {
			return err
		}
		if also != nil {
			return also(wctx, tx)
		}
		return nil
	}
	req.after = func() { s.committed(stored) }
	if err := s.db.submit(ctx, req); err != nil {
		return nil, err
	}
	for j, i := range restAt {
		out[i] = got[j]
	}
	return out, nil
}

// CountWrittenHere counts the events after position that were written in
// this log, not imported from another process's: what this process has to
// publish itself (see Imported).
func (d *DB) CountWrittenHere(ctx context.Context, after int64) (int64, error) {
	var n int64
	err := d.read.QueryRowContext(ctx,
		`SELECT count(*) FROM events WHERE position > ? AND source_position IS NULL`, after).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count the events written here after %d: %w", after, err)
	}
	return n, nil
}

func (s *Store) importTx(ctx context.Context, tx *sql.Tx, evs []Event, out []Imported, stored *[]Event) error {
	insert := tx.StmtContext(ctx, s.db.insertStmt)
	versions := map[string]int64{}
	for i, e := range evs {
		out[i] = Imported{}
		if e.ID == "" || e.StreamID == "" || e.StreamVersion < 1 || e.Type == "" {
			return fmt.Errorf("import: event %q of %q at version %d is incomplete", e.ID, e.StreamID, e.StreamVersion)
		}
		// Insert first: a new event (by far the most common) costs one
		// statement. The table's unique keys say what else it is: the
		// same event already here (its id), or another event at its
		// stream version (diverged); an earlier version that reaches this
		// process after a later one (by another topic or partition: each
		// road in order, not in step) fills its gap.
		e.SourcePosition = e.Origin()
		e.Position = 0
		e.OccurredAt = e.OccurredAt.UTC()
		res, err := insert.ExecContext(ctx, e.ID, e.StreamID, e.StreamVersion, e.Type, max(e.SchemaVersion, 1),
			e.OccurredAt.UnixNano(), nullable(e.CorrelationID), nullable(e.CausationID), string(e.Data),
			nullablePosition(e.SourcePosition), nullablePosition(e.CausePosition), nullable(e.TraceParent), nullable(e.TraceState))
		if idTaken(err) || versionTaken(err) {
			if err := s.importedBefore(ctx, tx, e, &out[i]); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return &writeFailed{fmt.Errorf("import %s into %q: %w", e.Type, e.StreamID, err)}
		}
		if e.Position, err = res.LastInsertId(); err != nil {
			return &writeFailed{err}
		}
		versions[e.StreamID] = max(versions[e.StreamID], e.StreamVersion)
		out[i] = Imported{Position: e.Position, New: true}
		*stored = append(*stored, e)
	}
	// The writer's versions of the streams written: only those it knew
	// before move (to at least what was imported); the others it reads
	// from the table when it next needs them.
	for id, v := range versions {
		if known, ok := s.db.knownVersion(id); ok {
			s.db.pending[id] = max(known, v)
		}
	}
	return nil
}

// importedBefore fills in what became of an event whose insert met a
// unique key: the same event is here already (at its position), or another
// event holds its stream version (stale, with the id of the one held).
func (s *Store) importedBefore(ctx context.Context, tx *sql.Tx, e Event, out *Imported) error {
	switch err := tx.QueryRowContext(ctx, "SELECT position FROM events WHERE id = ?", e.ID).Scan(&out.Position); {
	case err == nil:
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("import %s: %w", e.ID, err)
	}
	err := tx.QueryRowContext(ctx, "SELECT id FROM events WHERE stream_id = ? AND stream_version = ?",
		e.StreamID, e.StreamVersion).Scan(&out.Held)
	if err != nil {
		return fmt.Errorf("import: read %q at version %d: %w", e.StreamID, e.StreamVersion, err)
	}
	out.Stale = true
	return nil
}

// CommandWritten is the position of the last event written by the command
// with the given id (the events' cause), and false when it wrote nothing
// here. Command ids start with "cmd-"; only those are indexed.
func (s *Store) CommandWritten(ctx context.Context, commandID string) (int64, bool, error) {
	return s.findPosition(ctx, `SELECT position FROM events
		WHERE causation_id = ? AND causation_id LIKE 'cmd-%' ORDER BY position DESC LIMIT 1`,
		commandID, "the events of command "+commandID)
}

// PositionOf is where the event with the given id is in this log, and
// false when it is not (yet) here.
func (s *Store) PositionOf(ctx context.Context, eventID string) (int64, bool, error) {
	return s.findPosition(ctx, `SELECT position FROM events WHERE id = ?`, eventID, "event "+eventID)
}

// findPosition runs a query of one position with one argument: the
// position, and false when there is none. what names the search in errors.
func (s *Store) findPosition(ctx context.Context, query string, arg any, what string) (int64, bool, error) {
	stmt, err := s.db.readStmt(ctx, query)
	if err != nil {
		return 0, false, fmt.Errorf("find %s: %w", what, err)
	}
	var pos int64
	switch err := stmt.QueryRowContext(ctx, arg).Scan(&pos); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("find %s: %w", what, err)
	}
	return pos, true, nil
}

// IDAt is the id of the event at a position of this log ("" when none).
func (s *Store) IDAt(ctx context.Context, position int64) (string, error) {
	stmt, err := s.db.readStmt(ctx, `SELECT id FROM events WHERE position = ?`)
	if err != nil {
		return "", fmt.Errorf("read event %d: %w", position, err)
	}
	var id string
	if err := stmt.QueryRowContext(ctx, position).Scan(&id); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read event %d: %w", position, err)
	}
	return id, nil
}
