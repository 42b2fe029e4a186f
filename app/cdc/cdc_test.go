package cdc_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"orderflow/app/cdc"
	"orderflow/commands"
	"orderflow/events"
)

const legacySchema = `
CREATE TABLE products (id text PRIMARY KEY, name text, price_cents bigint);
CREATE TABLE customers (id text PRIMARY KEY, name text, email text, address text);`

// stored is one event of the store as the test reads it.
type stored struct {
	Stream, Type, Causation string
	Data                    map[string]any
}

func (e stored) String() string {
	switch e.Type {
	case "ProductDefined":
		return fmt.Sprintf("%s %v %v", e.Type, e.Data["name"], e.Data["priceCents"])
	case "ProductRenamed":
		return fmt.Sprintf("%s %v", e.Type, e.Data["name"])
	case "ProductRepriced":
		return fmt.Sprintf("%s %v", e.Type, e.Data["priceCents"])
	case "CustomerRegistered", "CustomerAddressChanged":
		return fmt.Sprintf("%s %v", e.Type, e.Data["address"])
	}
	return e.Type
}

// readStore reads every event of the store, read-only, while cdc may hold
// it for writing (the lock is for writers only).
func readStore(t *testing.T, path string) []stored {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT stream_id, type, schema_version, COALESCE(causation_id, ''), data FROM events ORDER BY position`)
	if err != nil {
		return nil // not made yet
	}
	defer rows.Close()
	// Customers' personal fields are sealed: opened with their keys.
	reg := commands.Registry()
	reg.UseKeys(events.ReadKeyring(db))
	var out []stored
	for rows.Next() {
		var e stored
		var data string
		var version int
		if err := rows.Scan(&e.Stream, &e.Type, &version, &e.Causation, &data); err != nil {
			t.Fatal(err)
		}
		opened, err := reg.Upcast(events.Event{Type: e.Type, SchemaVersion: version, Data: json.RawMessage(data)})
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(opened, &e.Data); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// history is each stream's events, in order, as strings.
func history(evs []stored) map[string][]string {
	out := map[string][]string{}
	for _, e := range evs {
		out[e.Stream] = append(out[e.Stream], e.String())
	}
	return out
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
	text strings.Builder
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.text.Write(p)
	if !l.done {
		l.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

// running is cdc run in-process.
type running struct {
	stats  *cdc.Stats
	log    *testLog
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func testConfig(dsn, dbPath string) cdc.Config {
	cfg := cdc.DefaultConfig()
	cfg.DSN, cfg.DBPath = dsn, dbPath
	cfg.StatusInterval, cfg.ProgressInterval = 200*time.Millisecond, time.Second
	cfg.MinBackoff, cfg.MaxBackoff = 100*time.Millisecond, time.Second
	return cfg
}

func startCDC(t *testing.T, cfg cdc.Config) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stats: &cdc.Stats{}, log: &testLog{t: t}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- cdc.Run(ctx, cfg, slog.New(slog.NewTextHandler(r.log, nil)), r.stats) }()
	t.Cleanup(r.stop)
	return r
}

// stop ends the run and returns its error.
func (r *running) stop() {
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(30 * time.Second):
			r.err = fmt.Errorf("cdc did not stop within 30s")
		}
		r.log.mu.Lock()
		r.log.done = true
		r.log.mu.Unlock()
	})
}

// runOnce runs cdc expecting it to stop by itself with an error.
func runOnce(t *testing.T, cfg cdc.Config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := cdc.Run(ctx, cfg, slog.New(slog.NewTextHandler(&testLog{t: t, done: true}, nil)), nil)
	if ctx.Err() != nil {
		t.Fatal("cdc kept retrying instead of stopping with an error")
	}
	return err
}

func TestSnapshotThenStream(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(legacySchema,
		`INSERT INTO products VALUES ('p1', 'Widget', 1000), ('p2', 'Gadget', 2500), ('bad', 'Free lunch', 0)`,
		`INSERT INTO customers VALUES ('c1', 'Ada', 'ada@example.com', '1 Old Road')`)
	dbPath := filepath.Join(t.TempDir(), "orderflow.db")
	cfg := testConfig(pg.DSN(), dbPath)
	cfg.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	run := startCDC(t, cfg)

	waitFor(t, "the snapshot", 30*time.Second, func() bool { return run.stats.Streaming.Load() })
	if got := run.stats.RowsSnapshotted.Load(); got != 4 {
		t.Fatalf("rows snapshotted = %d, want 4", got)
	}
	if got := run.stats.ChangesRejected.Load(); got != 1 {
		t.Fatalf("rejected = %d, want 1 (the product priced 0)", got)
	}

	// Live changes, some in one transaction.
	pg.Exec(`INSERT INTO products VALUES ('p3', 'Sprocket', 300)`,
		`UPDATE products SET price_cents = 1200 WHERE id = 'p1'`,
		`BEGIN; UPDATE products SET name = 'Gizmo' WHERE id = 'p2'; UPDATE products SET name = 'Gizmo 2', price_cents = 2600 WHERE id = 'p2'; COMMIT`,
		`DELETE FROM products WHERE id = 'p3'`,
		`UPDATE customers SET address = '2 New Street' WHERE id = 'c1'`,
		`UPDATE customers SET name = 'Ada L.' WHERE id = 'c1'`,
		`INSERT INTO customers VALUES ('c2', 'Bob', 'bob@example.com', '3 Elm Row')`)
	want := map[string][]string{
		"product-p1":  {"ProductDefined Widget 1000", "ProductRepriced 1200"},
		"product-p2":  {"ProductDefined Gadget 2500", "ProductRenamed Gizmo", "ProductRenamed Gizmo 2", "ProductRepriced 2600"},
		"product-p3":  {"ProductDefined Sprocket 300", "ProductWithdrawn"},
		"customer-c1": {"CustomerRegistered 1 Old Road", "CustomerAddressChanged 2 New Street"},
		"customer-c2": {"CustomerRegistered 3 Elm Row"},
	}
	waitFor(t, "the live changes", 30*time.Second, func() bool {
		return fmt.Sprint(history(readStore(t, dbPath))) == fmt.Sprint(want)
	})
	for _, e := range readStore(t, dbPath) {
		if !strings.HasPrefix(e.Causation, "cdc:") {
			t.Errorf("%s of %s has causation %q, want the source change", e.Type, e.Stream, e.Causation)
		}
	}
	waitFor(t, "the lag to close", 10*time.Second, func() bool { return run.stats.LagBytes() == 0 })
	resp, err := http.Get("http://" + cfg.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{"orderflow_cdc_rows_snapshotted_total 4", "orderflow_cdc_changes_rejected_total 1",
		"orderflow_cdc_lag_bytes 0", "orderflow_cdc_streaming 1"} {
		if !strings.Contains(string(body), "\n"+line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, body)
		}
	}
	run.stop()
	checkCatalog(t, dbPath)
}
