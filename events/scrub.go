package events

import (
	"context"
	"fmt"
	"time"
)

// Scrub leaves no older copy of any page in the write-ahead log: it
// checkpoints every frame into the database file and truncates the log to
// nothing, retrying while readers still hold older snapshots. With
// secure_delete, deleted and overwritten content is zeroed in the database
// file itself; Scrub removes the copies of the pages as they were before,
// which the log keeps until a checkpoint. An erasure calls it once every
// overwrite is committed.
func (d *DB) Scrub(ctx context.Context) error {
	for {
		var busy, logged, checkpointed int
		if err := d.write.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logged, &checkpointed); err != nil {
			return fmt.Errorf("checkpoint and truncate the write-ahead log: %w", err)
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("checkpoint and truncate the write-ahead log: readers held older snapshots: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
