package cdc_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplicaIdentity: a mapped table whose id column is not the key
// PostgreSQL sends for deleted rows stops cdc at start, with the SQL that
// mends each such table, before a publication is made (which would make
// the legacy application's UPDATEs fail). Once the SQL ran, cdc starts, and
// a deletion reaches it with its id.
func TestReplicaIdentity(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(`CREATE TABLE products (pk serial PRIMARY KEY, id text UNIQUE NOT NULL, name text, price_cents bigint)`,
		`CREATE TABLE customers (id text NOT NULL, name text, email text, address text)`,
		`INSERT INTO products (id, name, price_cents) VALUES ('p1', 'Widget', 1000)`)
	dbPath := filepath.Join(t.TempDir(), "orderflow.db")
	cfg := testConfig(pg.DSN(), dbPath)

	err := runOnce(t, cfg)
	for _, want := range []string{
		"table public.products has the primary key (pk), not its id column id",
		`ALTER TABLE "public"."products" REPLICA IDENTITY FULL;`,
		`ALTER TABLE "public"."products" REPLICA IDENTITY USING INDEX`,
		"table public.customers has no primary key",
		`ALTER TABLE "public"."customers" REPLICA IDENTITY FULL;`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `\n`) || strings.Contains(err.Error(), `\t`) {
		t.Errorf("err has literal escapes: %v", err)
	}
	// Refused before anything was made on the source.
	var n int
	pg.QueryRow(`SELECT count(*) FROM pg_publication WHERE pubname = 'orderflow'`, &n)
	if n != 0 {
		t.Fatal("the refused run made the publication")
	}

	// The two fixes the message offers: FULL, and an index on the id.
	pg.Exec(`ALTER TABLE products REPLICA IDENTITY FULL`,
		`CREATE UNIQUE INDEX customers_id_replica_identity ON customers (id)`,
		`ALTER TABLE customers REPLICA IDENTITY USING INDEX customers_id_replica_identity`)
	run := startCDC(t, cfg)
	waitFor(t, "the snapshot", 30*time.Second, func() bool { return run.stats.Streaming.Load() })
	pg.Exec(`DELETE FROM products WHERE id = 'p1'`)
	want := "map[product-p1:[ProductDefined Widget 1000 ProductWithdrawn]]"
	waitFor(t, "the deletion", 30*time.Second, func() bool {
		return strings.Contains(fmt.Sprint(history(readStore(t, dbPath))), "ProductWithdrawn")
	})
	if got := fmt.Sprint(history(readStore(t, dbPath))); got != want {
		t.Fatalf("store holds %s, want %s", got, want)
	}
}
