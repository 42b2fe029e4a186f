package cdc_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIgnoredChanges: what the domain keeps no record of (a registered
// customer's new name or email, a deleted customer, a TRUNCATE) is counted
// as ignored, not as applied, and logged saying what was dropped; what
// else the same change carried (a new address) is applied.
func TestIgnoredChanges(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(legacySchema, `INSERT INTO products VALUES ('p1', 'Widget', 1000)`,
		`INSERT INTO customers VALUES ('c1', 'Ada', 'ada@example.com', '1 Old Road')`)
	dbPath := filepath.Join(t.TempDir(), "orderflow.db")
	cfg := testConfig(pg.DSN(), dbPath)
	cfg.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	run := startCDC(t, cfg)
	waitFor(t, "the snapshot", 30*time.Second, func() bool { return run.stats.Streaming.Load() })

	pg.Exec(`UPDATE customers SET name = 'Ada L.' WHERE id = 'c1'`, // ignored
		`UPDATE customers SET email = 'ada@new.example.com', address = '2 New Street' WHERE id = 'c1'`, // applied, email ignored
		`DELETE FROM customers WHERE id = 'c1'`,                                                        // ignored
		`TRUNCATE products`,                                                                            // ignored
		`INSERT INTO customers VALUES ('c2', 'Bob', 'bob@example.com', '3 Elm Row')`)                   // applied: the last, to wait for
	waitFor(t, "the changes", 30*time.Second, func() bool { return run.stats.ChangesApplied.Load() == 4 })
	if got := run.stats.ChangesIgnored.Load(); got != 4 {
		t.Errorf("ignored = %d, want 4 (a name, an email, a deleted customer, a TRUNCATE)", got)
	}
	want := "map[customer-c1:[CustomerRegistered 1 Old Road CustomerAddressChanged 2 New Street] " +
		"customer-c2:[CustomerRegistered 3 Elm Row] product-p1:[ProductDefined Widget 1000]]"
	if got := fmt.Sprint(history(readStore(t, dbPath))); got != want {
		t.Errorf("store holds\n%s\nwant\n%s", got, want)
	}
	log := run.log.String()
	for _, line := range []string{
		`the customer context records no change of name" table=public.customers id=c1 ignored=name address_changed=false`,
		// The name orderflow holds is still Ada's first: while the row's
		// differs, each change of the row says it is not carried over.
		`the customer context records no change of name or email" table=public.customers id=c1 ignored=name,email address_changed=true`,
		`a deleted customer stays registered`,
		`TRUNCATE is not carried over; its products stay in the catalog`,
	} {
		if !strings.Contains(log, line) {
			t.Errorf("the log lacks %q", line)
		}
	}
	if _, m := get(t, "http://"+cfg.MetricsAddr+"/metrics"); !strings.Contains(m, "\norderflow_cdc_changes_ignored_total 4\n") {
		t.Errorf("/metrics lacks orderflow_cdc_changes_ignored_total 4:\n%s", m)
	}
}
