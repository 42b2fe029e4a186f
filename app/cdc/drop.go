package cdc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
)

// Drop is `orderflow cdc --drop`: the way to stop using cdc cleanly. It
// drops the replication slot and the publication from the source, so that
// the source no longer keeps its WAL for a follower that is gone (a slot
// nobody reads holds WAL until the disk fills) and the legacy tables are no
// longer published. What is missing is not an error, so it can run again.
// The store is not touched; a later run starts over with a new snapshot.
func Drop(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, cfg.DSN)
	if err != nil {
		return classify(err, "connect")
	}
	defer conn.Close(context.Background())
	var active bool
	err = conn.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&active)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		log.Info("cdc: no replication slot to drop", "slot", cfg.Slot)
	case err != nil:
		return classify(err, "read the replication slot")
	case active:
		return fmt.Errorf("replication slot %s is in use: stop the orderflow cdc that follows it first", cfg.Slot)
	default:
		if _, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, cfg.Slot); err != nil {
			return classify(err, "drop replication slot "+cfg.Slot)
		}
		log.Info("cdc: dropped the replication slot", "slot", cfg.Slot)
	}
	if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{cfg.Publication}.Sanitize()); err != nil {
		return classify(err, "drop publication "+cfg.Publication)
	}
	log.Info("cdc: dropped the publication (if it existed)", "publication", cfg.Publication)
	return nil
}
