package cdc_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"orderflow/app/cdc"
)

// childEnv marks the test binary run as `orderflow cdc` (configured by the
// environment, as a deployment would), so that a test can SIGKILL it.
const childEnv = "ORDERFLOW_CDC_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(cdc.Main(context.Background(), nil, os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestResumeAfterKill kills a cdc process with SIGKILL while changes stream
// in, and starts another: every change must be in the store exactly once.
// The killed process never confirmed a position it had applied (its status
// interval is an hour), so the second run is sent again changes it had
// applied, and must skip them.
func TestResumeAfterKill(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(legacySchema)
	const products, updates = 10, 600
	var values []string
	for i := 0; i < products; i++ {
		values = append(values, fmt.Sprintf("('p%d', 'Product %d', 100)", i, i))
	}
	pg.Exec("INSERT INTO products VALUES " + strings.Join(values, ", "))
	dbPath := filepath.Join(t.TempDir(), "orderflow.db")

	child := exec.Command(os.Args[0], "-test.run=^$")
	logPath := filepath.Join(t.TempDir(), "child.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	child.Stdout, child.Stderr = logf, logf
	child.Env = append(os.Environ(), childEnv+"=1", "ORDERFLOW_PG="+pg.DSN(), "ORDERFLOW_DB="+dbPath,
		"ORDERFLOW_STATUS_INTERVAL=1h")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			child.Process.Kill()
			child.Wait()
		}
	}()

	repriced := func() int {
		n := 0
		for _, e := range readStore(t, dbPath) {
			if e.Type == "ProductRepriced" {
				n++
			}
		}
		return n
	}
	// Changes start once the snapshot is in, so that it holds the first prices.
	waitFor(t, "the snapshot", 60*time.Second, func() bool { return len(readStore(t, dbPath)) == products })

	// Each update is its own transaction and gives one product a price
	// never used before, so each must be one ProductRepriced.
	wrote := make(chan error, 1)
	go func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, pg.DSN())
		if err != nil {
			wrote <- err
			return
		}
		defer conn.Close(ctx)
		for i := 1; i <= updates; i++ {
			if _, err := conn.Exec(ctx, "UPDATE products SET price_cents = $1 WHERE id = $2",
				100+i, fmt.Sprintf("p%d", i%products)); err != nil {
				wrote <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
		wrote <- nil
	}()
	waitFor(t, "the first changes", 60*time.Second, func() bool { return repriced() >= 100 })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	killed = true
	atKill := repriced()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if atKill >= updates {
		t.Fatalf("the kill came after every change was applied (%d); it must come mid-stream", atKill)
	}
	t.Logf("killed with %d of %d changes applied", atKill, updates)

	want := map[string][]string{}
	for i := 0; i < products; i++ {
		want[fmt.Sprintf("product-p%d", i)] = []string{fmt.Sprintf("ProductDefined Product %d 100", i)}
	}
	for i := 1; i <= updates; i++ {
		s := fmt.Sprintf("product-p%d", i%products)
		want[s] = append(want[s], fmt.Sprintf("ProductRepriced %d", 100+i))
	}
	run := startCDC(t, testConfig(pg.DSN(), dbPath))
	waitFor(t, "every change after the restart", 60*time.Second, func() bool { return repriced() >= updates })
	waitFor(t, "the lag to close", 30*time.Second, func() bool { return run.stats.Streaming.Load() && run.stats.LagBytes() == 0 })
	if got := history(readStore(t, dbPath)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the kill and restart the store holds\n%v\nwant\n%v", got, want)
	}
	if run.stats.RowsSnapshotted.Load() != 0 {
		t.Errorf("the restart took a new snapshot (%d rows); it must resume", run.stats.RowsSnapshotted.Load())
	}
	if run.stats.ChangesSkipped.Load() == 0 {
		t.Errorf("the restart was sent no change it had applied: the test did not exercise the replay")
	}
	t.Logf("restart: %d applied, %d skipped as applied before", run.stats.ChangesApplied.Load(), run.stats.ChangesSkipped.Load())
}

// TestSourceRestart restarts PostgreSQL under a running cdc, which must
// reconnect and carry on with no change lost. It connects as the role the
// README has a DBA make, with the publication made by the DBA.
func TestSourceRestart(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(legacySchema,
		`CREATE ROLE orderflow_cdc WITH LOGIN REPLICATION PASSWORD 'cdc-pass'`,
		`GRANT SELECT ON products, customers TO orderflow_cdc`,
		`CREATE PUBLICATION orderflow FOR TABLE products, customers`,
		`INSERT INTO products VALUES ('p1', 'Widget', 1000)`)
	dbPath := filepath.Join(t.TempDir(), "orderflow.db")
	run := startCDC(t, testConfig(pg.DSNAs("orderflow_cdc", "cdc-pass"), dbPath))
	waitFor(t, "streaming", 30*time.Second, func() bool { return run.stats.Streaming.Load() })
	pg.Exec(`UPDATE products SET price_cents = 1100 WHERE id = 'p1'`)
	waitFor(t, "the first change", 30*time.Second, func() bool { return len(readStore(t, dbPath)) == 2 })

	pg.Stop()
	waitFor(t, "cdc to notice", 30*time.Second, func() bool { return !run.stats.Streaming.Load() })
	time.Sleep(500 * time.Millisecond) // a few failed reconnections
	pg.Start()
	pg.Exec(`UPDATE products SET price_cents = 1200 WHERE id = 'p1'`,
		`INSERT INTO customers VALUES ('c1', 'Ada', 'ada@example.com', '1 Road')`)
	want := map[string][]string{
		"product-p1":  {"ProductDefined Widget 1000", "ProductRepriced 1100", "ProductRepriced 1200"},
		"customer-c1": {"CustomerRegistered 1 Road"},
	}
	waitFor(t, "the changes after the restart", 60*time.Second, func() bool {
		return fmt.Sprint(history(readStore(t, dbPath))) == fmt.Sprint(want)
	})
	if run.stats.Reconnects.Load() == 0 {
		t.Error("no reconnection counted")
	}
	if !strings.Contains(run.log.String(), "reconnecting") {
		t.Error("the lost connection was not logged")
	}
}

// TestClearErrors: what a user gets wrong stops cdc at once with a message
// saying what to fix, instead of retrying forever.
func TestClearErrors(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(`CREATE TABLE products (id text PRIMARY KEY, name text, price_cents bigint)`,
		`CREATE ROLE reader WITH LOGIN PASSWORD 'reader-pass'`,
		`GRANT SELECT ON products TO reader`)
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  func(cdc.Config) cdc.Config
		want string
	}{
		{"bad password", func(c cdc.Config) cdc.Config { c.DSN = pg.DSNAs("admin", "wrong"); return c },
			"refused the credentials"},
		{"missing table", func(c cdc.Config) cdc.Config { return c }, "table public.customers does not exist"},
		{"missing column", func(c cdc.Config) cdc.Config {
			c.Customers = c.Products
			c.Products.Columns = []string{"id", "name", "price"}
			return c
		}, `column "price" does not exist`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg(testConfig(pg.DSN(), filepath.Join(dir, fmt.Sprintf("%d.db", i))))
			if err := runOnce(t, cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
	t.Run("wal_level replica", func(t *testing.T) {
		replica := startPostgres(t, "replica")
		replica.Exec(legacySchema)
		err := runOnce(t, testConfig(replica.DSN(), filepath.Join(dir, "replica.db")))
		if err == nil || !strings.Contains(err.Error(), `wal_level is "replica"`) || !strings.Contains(err.Error(), "wal_level = logical") {
			t.Fatalf("err = %v, want it to say wal_level must be logical", err)
		}
	})
}
