package events

import (
	"context"
	"database/sql"
)

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
