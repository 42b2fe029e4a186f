package events

import (
	"context"
	"database/sql"
	"fmt"
)

// Checkpoint returns the last position the named reader recorded, 0 if none.
func (d *DB) Checkpoint(ctx context.Context, name string) (int64, error) {
	var pos int64
	err := d.read.QueryRowContext(ctx, "SELECT position FROM checkpoints WHERE name = ?", name).Scan(&pos)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read checkpoint %q: %w", name, err)
	}
	return pos, nil
}

// SaveCheckpoint records, inside a write transaction, that the named reader
// has handled everything up to position. Writing it in the same transaction
// as the reader's own rows is what makes a redelivered event a no-op.
func SaveCheckpoint(ctx context.Context, tx *sql.Tx, name string, position int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (name, position) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position`, name, position)
	if err != nil {
		return fmt.Errorf("save checkpoint %q: %w", name, err)
	}
	return nil
}
