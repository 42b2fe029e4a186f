package events

import (
	"strings"

	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mattn/go-sqlite3"
	"time"

	"github.com/google/uuid"
)

// Store is the event store: append with expected versions, read one stream,
// read everything by global position.
type Store struct {
	db *DB
}

// NewStore returns the event store kept in db.
func NewStore(db *DB) *Store { return &Store{db: db} }

// DB is the database the store lives in.
func (s *Store) DB() *DB { return s.db }

// Append adds events to one or more streams in one transaction: all of them
// are stored or none. Each stream's expected version is checked against the
// stream as it stands inside the writer's transaction, so a concurrent writer
// that got there first makes this call fail with a *VersionConflictError.
// It returns the stored events (with positions and versions) once committed.
func (s *Store) Append(ctx context.Context, appends ...StreamAppend) ([]Event, error) {
	if len(appends) == 0 {
		return nil, nil
	}
	seen := make(map[string]bool, len(appends))
	for _, a := range appends {
		if a.StreamID == "" {
			return nil, errors.New("append: empty stream id")
		}
		if seen[a.StreamID] {
			return nil, fmt.Errorf("append: stream %q given twice", a.StreamID)
		}
		seen[a.StreamID] = true
	}
	n := 0
	for _, a := range appends {
		n += len(a.Events)
	}
	stored := make([]Event, 0, n)
	// Streams expected to be new are not looked up: the unique index on
	// (stream_id, stream_version) refuses a first event for a stream that
	// exists, and that refusal is the conflict. Everything else is checked
	// before anything is written, so an append needs no savepoint of its
	// own: if it fails, it wrote nothing (or returned writeFailed, and the
	// writer gives up the whole batch). An append to several new streams
	// (a reaction's batch) can only learn that a later one exists after
	// writing the first, so it runs in a savepoint that undoes it alone.
	fresh := 0
	for _, a := range appends {
		if a.ExpectedVersion == 0 {
			fresh++
		}
	}
	savepoint := fresh > 1
	req := &writeReq{ctx: ctx, checksFirst: !savepoint, durable: !isDerived(ctx)}
	// appendTx runs with the writer's context, not ctx: a caller that goes
	// away mid-batch must not interrupt statements of a shared transaction.
	req.fn = func(wctx context.Context, tx *sql.Tx) error {
		stored = stored[:0]
		return s.appendTx(wctx, tx, appends, savepoint, &stored)
	}
	req.after = func() { s.committed(stored) }
	if err := s.db.submit(ctx, req); err != nil {
		return nil, err
	}
	return stored, nil
}

// Recent returns the event with the given id as this log holds it (at its
// position here), when it is among the most recent events (the in-memory
// tail); false otherwise, when the log may or may not hold it.
func (s *Store) Recent(id string) (Event, bool) { return s.db.tail.find(id) }

// committed tells the log's readers about events just committed: they join
// the in-memory tail and the head moves past them.
func (s *Store) committed(stored []Event) {
	if n := len(stored); n > 0 {
		s.db.tail.add(stored)
		s.db.head.advance(stored[n-1].Position)
	}
}

func (s *Store) appendTx(ctx context.Context, tx *sql.Tx, appends []StreamAppend, savepoint bool, out *[]Event) error {
	insert := tx.StmtContext(ctx, s.db.insertStmt)
	// Check every expectation that needs a lookup before writing anything:
	// an append that conflicts leaves the transaction untouched, so the
	// writer need not roll anything back for it.
	current := make([]int64, len(appends))
	order := make([]int, 0, len(appends)) // streams expected new first
	for i, a := range appends {
		for _, e := range a.Events {
			if e.Type == "" {
				return fmt.Errorf("append to %q: event without type", a.StreamID)
			}
			if !json.Valid(e.Data) {
				return fmt.Errorf("append %s to %q: payload is not valid JSON", e.Type, a.StreamID)
			}
		}
		if a.ExpectedVersion == 0 {
			if v, known := s.db.knownVersion(a.StreamID); known && v != 0 {
				return &VersionConflictError{StreamID: a.StreamID, Expected: 0, Actual: v}
			}
			order = append([]int{i}, order...)
			continue
		}
		v, err := s.db.streamVersion(ctx, tx, a.StreamID)
		if err != nil {
			return fmt.Errorf("read version of %q: %w", a.StreamID, err)
		}
		current[i] = v
		if a.ExpectedVersion != AnyVersion && a.ExpectedVersion != current[i] {
			return &VersionConflictError{StreamID: a.StreamID, Expected: a.ExpectedVersion, Actual: current[i]}
		}
		order = append(order, i)
	}
	now := time.Now()
	wrote := false
	for _, i := range order {
		a := appends[i]
		v := current[i]
		for _, e := range a.Events {
			v++
			e.StreamID = a.StreamID
			e.StreamVersion = v
			if e.ID == "" {
				e.ID = NewID()
			}
			if e.SchemaVersion == 0 {
				e.SchemaVersion = 1
			}
			if e.OccurredAt.IsZero() {
				e.OccurredAt = now
			}
			e.OccurredAt = e.OccurredAt.UTC()
			res, err := insert.ExecContext(ctx, e.ID, e.StreamID, e.StreamVersion, e.Type, e.SchemaVersion,
				e.OccurredAt.UnixNano(), nullable(e.CorrelationID), nullable(e.CausationID), string(e.Data),
				nullablePosition(e.SourcePosition), nullablePosition(e.CausePosition), nullable(e.TraceParent), nullable(e.TraceState))
			if err != nil {
				if a.ExpectedVersion == 0 && v == 1 && versionTaken(err) && (!wrote || savepoint) {
					// Nothing of this append is left in the transaction
					// (it wrote nothing yet, or its savepoint undoes it).
					actual, verr := s.db.streamVersion(ctx, tx, a.StreamID)
					if verr != nil {
						actual = 1
					}
					return &VersionConflictError{StreamID: a.StreamID, Expected: 0, Actual: actual}
				}
				return &writeFailed{fmt.Errorf("insert %s into %q: %w", e.Type, a.StreamID, err)}
			}
			wrote = true
			if e.Position, err = res.LastInsertId(); err != nil {
				return &writeFailed{err}
			}
			*out = append(*out, e)
		}
	}
	// Only now that all of it is written: a failure above leaves no trace
	// of this append in what the writer believes the streams' versions are.
	for i, a := range appends {
		s.db.pending[a.StreamID] = current[i] + int64(len(a.Events))
	}
	return nil
}

// versionTaken says an insert failed because its stream already has an
// event at that version.
func versionTaken(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique &&
		strings.Contains(se.Error(), "stream_version")
}

// idTaken says an insert failed because the log holds an event with its
// id.
func idTaken(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique &&
		strings.Contains(se.Error(), "events.id")
}

func nullablePosition(p int64) any {
	if p == 0 {
		return nil
	}
	return p
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const selectEvents = `SELECT position, id, stream_id, stream_version, type, schema_version,
	occurred_at, COALESCE(correlation_id, ''), COALESCE(causation_id, ''), data,
	COALESCE(source_position, 0), COALESCE(cause_position, 0),
	COALESCE(trace_parent, ''), COALESCE(trace_state, '') FROM events `

// ReadStream returns the events of one stream after the given version, in
// version order. An unknown stream has no events.
func (s *Store) ReadStream(ctx context.Context, streamID string, afterVersion int64) ([]Event, error) {
	return s.query(ctx, 0, selectEvents+"WHERE stream_id = ? AND stream_version > ? ORDER BY stream_version",
		streamID, afterVersion)
}

// ReadStreams returns the whole of several streams in one query: each
// stream's events in version order, the streams one after the other in the
// order of their ids.
func (s *Store) ReadStreams(ctx context.Context, streamIDs ...string) ([]Event, error) {
	if len(streamIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(streamIDs))
	for i, id := range streamIDs {
		args[i] = id
	}
	in := strings.Repeat("?, ", len(streamIDs)-1) + "?"
	return s.query(ctx, 0, selectEvents+"WHERE stream_id IN ("+in+") ORDER BY stream_id, stream_version", args...)
}

// ReadAll returns up to limit events after the given global position, in
// position order. Tailing readers call it in a loop with the last position
// they saw; since positions are only allocated by the single writer inside
// its transaction, no event can later appear behind a position already read.
func (s *Store) ReadAll(ctx context.Context, afterPosition int64, limit int) ([]Event, error) {
	if evs, _, ok := s.db.tail.read(afterPosition, s.db.Head(), limit, nil, nil); ok {
		return evs, nil
	}
	return s.query(ctx, limit, selectEvents+"WHERE position > ? ORDER BY position LIMIT ?", afterPosition, limit)
}

// ReadCorrelated returns every event sharing a correlation id, in position order.
func (s *Store) ReadCorrelated(ctx context.Context, correlationID string) ([]Event, error) {
	return s.query(ctx, 0, selectEvents+"WHERE correlation_id = ? ORDER BY position", correlationID)
}

// query runs one of the store's read queries. Each is prepared once per
// read connection and kept: these queries run for every command and every
// batch, and preparing is a good part of their cost. limit, when above 0,
// is the most rows the query can return: the slice is made that big once.
func (s *Store) query(ctx context.Context, limit int, q string, args ...any) ([]Event, error) {
	stmt, err := s.db.readStmt(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []Event
	if limit > 0 {
		out = make([]Event, 0, min(limit, maxPreallocated))
	}
	var row eventRow
	dest := row.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		e, err := row.event()
		if err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// maxPreallocated bounds the events query makes room for before reading.
const maxPreallocated = 8192

// eventRow is where query scans one row of selectEvents, reused from row
// to row. The integer columns are scanned into interface values, which
// database/sql fills with the driver's int64 as it is: into an *int64 it
// would go through reflection, into an *int through strconv, for every
// column of every row read. Text columns go into strings as they are.
type eventRow struct {
	position, version, schema, at, source, cause                           any
	id, stream, typ, correlation, causation, data, traceParent, traceState string
}

// dest is the Scan destinations of the columns of selectEvents, in order.
func (r *eventRow) dest() []any {
	return []any{&r.position, &r.id, &r.stream, &r.version, &r.typ, &r.schema,
		&r.at, &r.correlation, &r.causation, &r.data, &r.source, &r.cause, &r.traceParent, &r.traceState}
}

// event is the event the scanned row holds.
func (r *eventRow) event() (Event, error) {
	e := Event{ID: r.id, StreamID: r.stream, Type: r.typ, CorrelationID: r.correlation, CausationID: r.causation,
		Data: json.RawMessage(r.data), TraceParent: r.traceParent, TraceState: r.traceState}
	var schema, at int64
	for _, c := range [...]struct {
		v   any
		to  *int64
		col string
	}{{r.position, &e.Position, "position"}, {r.version, &e.StreamVersion, "stream_version"},
		{r.schema, &schema, "schema_version"}, {r.at, &at, "occurred_at"},
		{r.source, &e.SourcePosition, "source_position"}, {r.cause, &e.CausePosition, "cause_position"}} {
		n, ok := c.v.(int64)
		if !ok {
			return Event{}, fmt.Errorf("column %s of event %v holds %T, not an integer", c.col, r.position, c.v)
		}
		*c.to = n
	}
	e.SchemaVersion = int(schema)
	e.OccurredAt = time.Unix(0, at).UTC()
	return e, nil
}

// ReadStreamAfter returns up to limit events of one stream after a global
// position, in order.
func (s *Store) ReadStreamAfter(ctx context.Context, streamID string, afterPosition int64, limit int) ([]Event, error) {
	return s.query(ctx, limit, selectEvents+"WHERE stream_id = ? AND position > ? ORDER BY stream_version LIMIT ?",
		streamID, afterPosition, limit)
}

// FirstOccurredAfter returns when the first event after a global position
// occurred, and false when there is none. A reader at that position is
// behind by the age of that event; the lookup is one step along the primary
// key, cheap enough to run on every metrics scrape.
func (s *Store) FirstOccurredAfter(ctx context.Context, afterPosition int64) (time.Time, bool, error) {
	stmt, err := s.db.readStmt(ctx, "SELECT occurred_at FROM events WHERE position > ? ORDER BY position LIMIT 1")
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read first event after %d: %w", afterPosition, err)
	}
	var at int64
	err = stmt.QueryRowContext(ctx, afterPosition).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read first event after %d: %w", afterPosition, err)
	}
	return time.Unix(0, at).UTC(), true, nil
}

// Decode returns an event's payload through reg. The readers that follow
// the head of the log share one decoding of each recent event.
func (s *Store) Decode(reg *Registry, e Event) (Payload, error) {
	return s.db.tail.decode(reg, e)
}

// NewID makes a time-ordered (version 7) UUID. Ids made in order land at
// the right edge of their index, so an append dirties few pages.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

type derivedKey struct{}

// Derived marks a context whose appends are consequences of events already
// stored (a reaction's commands): they can be derived again from the log,
// so their commits need not be synced to disk one by one. Appends on any
// other context are acknowledged writes and are synced when the durability
// is full.
func Derived(ctx context.Context) context.Context {
	return context.WithValue(ctx, derivedKey{}, true)
}

func isDerived(ctx context.Context) bool {
	v, _ := ctx.Value(derivedKey{}).(bool)
	return v
}

// CausedThrough is the origin position (see Event.Origin) of the event
// that caused the stream's latest caused event: how far in its cause's log
// the stream's single writer had answered when it last wrote (0 when no
// event of the stream has a known cause). A writer that answers events
// in the order of their writer's log can tell from it whether an event it
// is handed again was answered already, even when another process wrote
// the stream before it (after a failover) and the cause is not in this log.
func (s *Store) CausedThrough(ctx context.Context, streamID string) (int64, error) {
	stmt, err := s.db.readStmt(ctx, `SELECT COALESCE(e.cause_position, cause.source_position, cause.position)
		FROM events e LEFT JOIN events cause ON cause.id = e.causation_id
		WHERE e.stream_id = ? AND (e.cause_position IS NOT NULL OR cause.id IS NOT NULL)
		ORDER BY e.stream_version DESC LIMIT 1`)
	if err != nil {
		return 0, fmt.Errorf("read cause of %q: %w", streamID, err)
	}
	var pos int64
	if err := stmt.QueryRowContext(ctx, streamID).Scan(&pos); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read cause of %q: %w", streamID, err)
	}
	return pos, nil
}

// Version is a stream's current version as committed (0 when it has no
// event).
func (s *Store) Version(ctx context.Context, streamID string) (int64, error) {
	// A log restored from a changelog holds a stream's events after its
	// snapshot only (see Snapshot).
	stmt, err := s.db.readStmt(ctx, `SELECT max(
		(SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?),
		(SELECT COALESCE(MAX(version), 0) FROM stream_snapshots WHERE stream_id = ?))`)
	if err != nil {
		return 0, fmt.Errorf("read version of %q: %w", streamID, err)
	}
	var v int64
	if err := stmt.QueryRowContext(ctx, streamID, streamID).Scan(&v); err != nil {
		return 0, fmt.Errorf("read version of %q: %w", streamID, err)
	}
	return v, nil
}
