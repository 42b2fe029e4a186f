package cdc_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPasswordOutOfTheCommandLine: with no password in --pg, cdc takes it
// from PGPASSWORD, or else from ~/.pgpass, as libpq does (pgconn reads
// both), so that it need not show in ps. A run that fails to start removes
// the store it made (database, -wal, -shm and lock file) and keeps one that
// was there before.
func TestPasswordOutOfTheCommandLine(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(legacySchema, `INSERT INTO products VALUES ('p1', 'Widget', 1000)`)
	noPassword := fmt.Sprintf("postgres://admin@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", pg.port)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("PGPASSFILE", "")
	t.Setenv("PGPASSWORD", "")
	dir := t.TempDir()

	follows := func(t *testing.T, slot, dbPath string) {
		t.Helper()
		cfg := testConfig(noPassword, dbPath)
		cfg.Slot = slot
		run := startCDC(t, cfg)
		waitFor(t, "the snapshot", 30*time.Second, func() bool { return run.stats.Streaming.Load() })
		run.stop()
		if run.err != nil {
			t.Fatal(run.err)
		}
		if got := run.stats.RowsSnapshotted.Load(); got != 1 {
			t.Fatalf("rows snapshotted = %d, want 1", got)
		}
	}
	t.Run("PGPASSWORD", func(t *testing.T) {
		t.Setenv("PGPASSWORD", pg.password)
		follows(t, "from_env", filepath.Join(dir, "env.db"))
	})
	t.Run("pgpass", func(t *testing.T) {
		line := fmt.Sprintf("127.0.0.1:%d:*:admin:%s\n", pg.port, pg.password)
		if err := os.WriteFile(filepath.Join(home, ".pgpass"), []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(home, ".pgpass"))
		follows(t, "from_pgpass", filepath.Join(dir, "pgpass.db"))
	})
	t.Run("none: a failed start leaves no store behind", func(t *testing.T) {
		dbPath := filepath.Join(dir, "fresh.db")
		cfg := testConfig(noPassword, dbPath)
		cfg.Slot = "fresh"
		err := runOnce(t, cfg)
		if err == nil || !strings.Contains(err.Error(), "PGPASSWORD") {
			t.Fatalf("err = %v, want it to name PGPASSWORD", err)
		}
		for _, suffix := range []string{"", "-wal", "-shm", ".lock"} {
			if _, err := os.Stat(dbPath + suffix); !os.IsNotExist(err) {
				t.Errorf("%s is left behind (stat: %v)", filepath.Base(dbPath+suffix), err)
			}
		}
	})
	t.Run("none: a store that was there is kept", func(t *testing.T) {
		dbPath := filepath.Join(dir, "kept.db")
		t.Setenv("PGPASSWORD", pg.password)
		follows(t, "kept", dbPath)
		os.Setenv("PGPASSWORD", "")
		before := len(readStore(t, dbPath))
		if err := runOnce(t, testConfig(noPassword, dbPath)); err == nil {
			t.Fatal("cdc started without a password")
		}
		if after := len(readStore(t, dbPath)); before == 0 || after != before {
			t.Fatalf("the store held %d events and holds %d after the failed start", before, after)
		}
	})
}
