package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Snapshot is a stream's state folded through a version, as a context's
// changelog carries it (see kafkabus.Changelog): a log restored from one
// holds the stream's events after Version only.
type Snapshot struct {
	StreamID string
	Version  int64
	State    []byte
}

// Snapshot returns the snapshot this log was restored with for a stream,
// and false when it holds none (the log has the stream from its start).
func (s *Store) Snapshot(ctx context.Context, streamID string) (Snapshot, bool, error) {
	stmt, err := s.db.readStmt(ctx, `SELECT version, state FROM stream_snapshots WHERE stream_id = ?`)
	if err != nil {
		return Snapshot{}, false, fmt.Errorf("read snapshot of %q: %w", streamID, err)
	}
	out := Snapshot{StreamID: streamID}
	switch err := stmt.QueryRowContext(ctx, streamID).Scan(&out.Version, &out.State); {
	case errors.Is(err, sql.ErrNoRows):
		return Snapshot{}, false, nil
	case err != nil:
		return Snapshot{}, false, fmt.Errorf("read snapshot of %q: %w", streamID, err)
	}
	return out, true, nil
}

// RestoreSnapshots keeps the given snapshots (a newer version of a stream
// replaces an older one, never the reverse) and runs also in the same
// transaction (to record where the log goes on from).
func (s *Store) RestoreSnapshots(ctx context.Context, snaps []Snapshot, also func(ctx context.Context, tx *sql.Tx) error) error {
	return s.db.submit(ctx, &writeReq{ctx: ctx, fn: func(wctx context.Context, tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(wctx, `INSERT INTO stream_snapshots (stream_id, version, state) VALUES (?, ?, ?)
			ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, state = excluded.state
			WHERE excluded.version > stream_snapshots.version`)
		if err != nil {
			return fmt.Errorf("restore snapshots: %w", err)
		}
		defer stmt.Close()
		for _, sn := range snaps {
			if sn.StreamID == "" || sn.Version < 1 {
				return fmt.Errorf("restore snapshots: snapshot of %q at version %d is incomplete", sn.StreamID, sn.Version)
			}
			if _, err := stmt.ExecContext(wctx, sn.StreamID, sn.Version, sn.State); err != nil {
				return fmt.Errorf("restore snapshot of %q: %w", sn.StreamID, err)
			}
		}
		if also != nil {
			return also(wctx, tx)
		}
		return nil
	}})
}

// StreamsOf lists the streams whose ids start with prefix and that have an
// event after the given position; from position 0, every such stream this
// log knows, those it holds only as a snapshot included.
func (s *Store) StreamsOf(ctx context.Context, prefix string, afterPosition int64) ([]string, error) {
	// The ids of a prefix are the range [prefix, prefix+0xFF...): the
	// primary and unique keys serve it.
	upper := prefix + "\U0010FFFF"
	query := `SELECT DISTINCT stream_id FROM events WHERE position > ? AND stream_id >= ? AND stream_id < ?`
	args := []any{afterPosition, prefix, upper}
	if afterPosition == 0 {
		query = `SELECT stream_id FROM events WHERE stream_id >= ? AND stream_id < ?
			UNION SELECT stream_id FROM stream_snapshots WHERE stream_id >= ? AND stream_id < ?`
		args = []any{prefix, upper, prefix, upper}
	}
	rows, err := s.db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list the streams of %q: %w", prefix, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list the streams of %q: %w", prefix, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
