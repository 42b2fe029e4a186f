package app

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"orderflow/events"
	"orderflow/migrations"
)

// TestStartReturnsTheErrorOfProjectionsThatCannotStart: when the read
// models cannot be set up (here a table stands where the products view
// goes), Start stops what it started and returns why, instead of Shutdown
// waiting on projections that never ran.
func TestStartReturnsTheErrorOfProjectionsThatCannotStart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "orderflow.db")
	db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE products (id TEXT)`)
		return err
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DBPath, cfg.Addr = path, "127.0.0.1:0"
	a, err := Start(ctx, cfg)
	if err == nil {
		a.Shutdown(ctx)
		t.Fatal("Start succeeded, want the projections' error")
	}
	if !strings.Contains(err.Error(), "projection products") {
		t.Fatalf("err = %v, want the products projection's", err)
	}
}
