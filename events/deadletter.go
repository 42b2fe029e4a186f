package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
)

// DeadLetter is a delivery a reaction set aside after it kept failing: the
// event, the part of it that failed (its routing key), and why.
type DeadLetter struct {
	ID        int64
	Reader    string
	Position  int64
	EventID   string
	EventType string
	Key       string
	Error     string
	Attempts  int
	FailedAt  time.Time
	// State is OPEN until a retry succeeds, then RETRIED.
	State     string
	RetriedAt *time.Time
}

// States of a dead letter.
const (
	DeadLetterOpen    = "OPEN"
	DeadLetterRetried = "RETRIED"
)

// ErrNoDeadLetter is returned for a dead letter id that does not exist.
var ErrNoDeadLetter = errors.New("no such dead letter")

// Unavailable says an error is a dependency's, not the event's: the
// database busy, locked, out of space or failing to read or write, or
// another part marked with MarkUnavailable (the Kafka broker, split into
// services). Such failures are retried for as long as they last; they
// never make a dead letter.
func Unavailable(err error) bool {
	var ue unavailableError
	if errors.As(err, &ue) {
		return true
	}
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrIoErr, sqlite3.ErrFull, sqlite3.ErrCantOpen, sqlite3.ErrNomem:
		return true
	}
	return false
}

// MarkUnavailable marks err as a dependency being out of reach, so that
// Unavailable reports it and reactions retry it for as long as it lasts
// instead of setting the event aside. Nil stays nil.
func MarkUnavailable(err error) error {
	if err == nil {
		return nil
	}
	return unavailableError{err}
}

type unavailableError struct{ err error }

func (e unavailableError) Error() string { return e.err.Error() }
func (e unavailableError) Unwrap() error { return e.err }

func (d *DB) addDeadLetter(reader string, del Delivery, attempts int, cause error) error {
	return d.Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		return RecordDeadLetter(ctx, tx, reader, del.Event, del.Key, attempts, cause)
	})
}

// RecordDeadLetter sets an event (or the part of it that key names) aside
// for reader, inside the writer's transaction tx: the reader goes on past
// it, the row keeps what failed and why.
func RecordDeadLetter(ctx context.Context, tx *sql.Tx, reader string, e Event, key string, attempts int, cause error) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO dead_letters
		(reader, position, event_id, event_type, routing_key, error, attempts, failed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (reader, event_id, routing_key) DO UPDATE SET
			error = excluded.error, attempts = attempts + excluded.attempts,
			failed_at = excluded.failed_at, state = 'OPEN'`,
		reader, e.Position, e.ID, e.Type, key, cause.Error(), attempts, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("record dead letter: %w", err)
	}
	return nil
}

// ResolveDeadLetters marks RETRIED, at at and inside the writer's
// transaction tx, every open dead letter of reader but those of events that
// could not be decoded (their error starts "decode ", as Decode's errors and
// the readers' wrappings of them do): for a reader that has just handled
// again every event it could decode, as a rebuilt projection has. Decoding
// is deterministic, so an undecodable event's dead letter stays open until
// a binary that knows its type retries it.
func ResolveDeadLetters(ctx context.Context, tx *sql.Tx, reader string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE dead_letters SET state = 'RETRIED', retried_at = ?
		WHERE reader = ? AND state = 'OPEN' AND error NOT LIKE 'decode %'`,
		at.UnixNano(), reader)
	if err != nil {
		return fmt.Errorf("resolve the dead letters of %s: %w", reader, err)
	}
	return nil
}

func (d *DB) resolveDeadLetter(id int64) error {
	return d.Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE dead_letters SET state = 'RETRIED', retried_at = ? WHERE id = ?`, time.Now().UnixNano(), id)
		return err
	})
}

func (d *DB) failedAgain(id int64, cause error) error {
	return d.Write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE dead_letters SET error = ?, attempts = attempts + 1, failed_at = ?, state = 'OPEN' WHERE id = ?`,
			cause.Error(), time.Now().UnixNano(), id)
		return err
	})
}

const selectDeadLetters = `SELECT id, reader, position, event_id, event_type, routing_key, error, attempts,
	failed_at, state, retried_at FROM dead_letters `

// DeadLetters lists dead letters, newest first: only the open ones when
// openOnly is set.
func (d *DB) DeadLetters(ctx context.Context, openOnly bool, limit int) ([]DeadLetter, error) {
	q := selectDeadLetters
	if openOnly {
		q += `WHERE state = 'OPEN' `
	}
	rows, err := d.read.QueryContext(ctx, q+`ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		l, err := scanDeadLetter(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// DeadLetter returns one dead letter, or ErrNoDeadLetter.
func (d *DB) DeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	l, err := scanDeadLetter(d.read.QueryRowContext(ctx, selectDeadLetters+`WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return DeadLetter{}, ErrNoDeadLetter
	}
	return l, err
}

// OpenDeadLetters counts the open dead letters of each reader.
func (d *DB) OpenDeadLetters(ctx context.Context) (map[string]int, error) {
	rows, err := d.read.QueryContext(ctx, `SELECT reader, COUNT(*) FROM dead_letters WHERE state = 'OPEN' GROUP BY reader`)
	if err != nil {
		return nil, fmt.Errorf("count dead letters: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var reader string
		var n int
		if err := rows.Scan(&reader, &n); err != nil {
			return nil, err
		}
		out[reader] = n
	}
	return out, rows.Err()
}

func scanDeadLetter(row interface{ Scan(...any) error }) (DeadLetter, error) {
	var l DeadLetter
	var failedAt int64
	var retriedAt sql.NullInt64
	if err := row.Scan(&l.ID, &l.Reader, &l.Position, &l.EventID, &l.EventType, &l.Key, &l.Error, &l.Attempts,
		&failedAt, &l.State, &retriedAt); err != nil {
		return DeadLetter{}, err
	}
	l.FailedAt = time.Unix(0, failedAt).UTC()
	if retriedAt.Valid {
		t := time.Unix(0, retriedAt.Int64).UTC()
		l.RetriedAt = &t
	}
	return l, nil
}

// Retry hands a dead letter of this consumer to its lane again and waits
// until the lane handled it (nil, and the dead letter is RETRIED) or it
// failed again (its error; the dead letter stays OPEN). The lane decides it
// against its state as it is now.
func (c *Consumer) Retry(ctx context.Context, id int64) error {
	l, err := c.store.db.DeadLetter(ctx, id)
	if err != nil {
		return err
	}
	if l.Reader != c.spec.Name {
		return fmt.Errorf("dead letter %d belongs to %s, not %s", id, l.Reader, c.spec.Name)
	}
	if l.State != DeadLetterOpen {
		return fmt.Errorf("dead letter %d was retried already", id)
	}
	evs, err := c.store.ReadAll(ctx, l.Position-1, 1)
	if err != nil {
		return err
	}
	if len(evs) == 0 || evs[0].ID != l.EventID {
		return fmt.Errorf("dead letter %d: event %s is not at position %d", id, l.EventID, l.Position)
	}
	e := evs[0]
	p, err := c.store.Decode(c.reg, e)
	if err != nil {
		return fmt.Errorf("dead letter %d: %w", id, err)
	}
	// The parts of the event the dead letter is about: the one of its key,
	// or all of them when it has none (the event could not be decoded).
	var parts []chan error
	for _, r := range c.spec.Route(e, p) {
		if l.Key != "" && r.Key != l.Key {
			continue
		}
		done := make(chan error, 1)
		d := Delivery{Event: e, Payload: p, Key: r.Key, Item: r.Item, Retry: true, done: done}
		if !c.lanes[Partition(r.Key, len(c.lanes))].send(ctx, d) {
			return ctx.Err()
		}
		parts = append(parts, done)
	}
	if len(parts) == 0 {
		if l.Key == "" {
			// Decoded now, and nothing of it is for this reaction.
			return c.store.db.resolveDeadLetter(id)
		}
		return fmt.Errorf("dead letter %d: event %s has no part keyed %q", id, l.EventID, l.Key)
	}
	var errs []error
	for _, done := range parts {
		select {
		case err := <-done:
			errs = append(errs, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return errors.Join(err, c.store.db.failedAgain(id, err))
	}
	return c.store.db.resolveDeadLetter(id)
}
