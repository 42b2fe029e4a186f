package cdc_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orderflow/commands"
	"orderflow/events"
	"orderflow/migrations"
	"orderflow/projections"
)

// TestImportedCustomerIsForgotten: a customer imported from the legacy
// table is stored sealed, is forgotten like any other (no byte of them
// left in the database's files), and a later change of their legacy row
// records nothing of them and is counted as ignored.
func TestImportedCustomerIsForgotten(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(legacySchema, `INSERT INTO customers VALUES ('c1', 'Philippa Legacyrow', 'philippa@legacyrow.example', '12 Importmore Street')`)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "orderflow.db")
	cfg := testConfig(pg.DSN(), dbPath)
	run := startCDC(t, cfg)
	waitFor(t, "the snapshot", 30*time.Second, func() bool { return run.stats.Streaming.Load() })
	run.stop()
	if run.err != nil {
		t.Fatal(run.err)
	}
	if got := history(readStore(t, dbPath))["customer-c1"]; len(got) != 1 || got[0] != "CustomerRegistered 12 Importmore Street" {
		t.Fatalf("imported customer = %v", got)
	}
	secrets := []string{"Philippa", "Legacyrow", "philippa@", "Importmore", "13 Changedlater Road", "Changedlater"}
	holding := func() []string {
		var found []string
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					found = append(found, e.Name()+": "+s)
				}
			}
		}
		return found
	}

	// The server forgets them (its handlers, on the same database).
	ctx := context.Background()
	db, err := events.Open(ctx, dbPath, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	reg := commands.Registry()
	reg.UseKeys(events.NewKeyring(db))
	h := commands.New(events.NewStore(db), reg, projections.NewViews(db.Reader()), commands.Config{})
	if _, err := h.ForgetCustomer(ctx, "c1", events.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if found := holding(); len(found) > 0 {
		t.Fatalf("after forgetting the imported customer, the files hold %v", found)
	}

	// The legacy row changes: nothing of it is recorded.
	run = startCDC(t, cfg)
	waitFor(t, "streaming again", 30*time.Second, func() bool { return run.stats.Streaming.Load() })
	pg.Exec(`UPDATE customers SET address = '13 Changedlater Road' WHERE id = 'c1'`)
	waitFor(t, "the change counted as ignored", 30*time.Second, func() bool { return run.stats.ChangesIgnored.Load() == 1 })
	run.stop()
	if got := history(readStore(t, dbPath))["customer-c1"]; strings.Join(got, ",") != "CustomerRegistered ,CustomerForgotten" {
		t.Fatalf("the forgotten customer's stream = %q", got)
	}
	if found := holding(); len(found) > 0 {
		t.Fatalf("after the legacy row changed, the files hold %v", found)
	}
	if !strings.Contains(run.log.String(), "the customer was forgotten") {
		t.Error("the log does not say the change of a forgotten customer was ignored")
	}
}
