package cdc_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orderflow/app/cdc"
)

// TestDrop: `orderflow cdc --drop` refuses while cdc follows the slot,
// then drops the slot and the publication, and runs again as a no-op.
func TestDrop(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(legacySchema)
	dbPath := filepath.Join(t.TempDir(), "orderflow.db")
	run := startCDC(t, testConfig(pg.DSN(), dbPath))
	waitFor(t, "streaming", 30*time.Second, func() bool { return run.stats.Streaming.Load() })

	drop := func() (int, string) {
		var out bytes.Buffer
		env := map[string]string{"ORDERFLOW_PG": pg.DSN(), "ORDERFLOW_DB": dbPath}
		code := cdc.Main(context.Background(), []string{"--drop"}, func(k string) string { return env[k] }, &out, &out)
		return code, out.String()
	}
	if code, out := drop(); code == 0 || !strings.Contains(out, "replication slot orderflow is in use: stop the orderflow cdc") {
		t.Fatalf("--drop while following: exit %d\n%s", code, out)
	}
	run.stop()
	counts := func() (slots, pubs int) {
		pg.QueryRow(`SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'orderflow'),
			(SELECT count(*) FROM pg_publication WHERE pubname = 'orderflow')`, &slots, &pubs)
		return
	}
	if s, p := counts(); s != 1 || p != 1 {
		t.Fatalf("before --drop: %d slots, %d publications, want 1 and 1", s, p)
	}
	waitFor(t, "the slot to be released", 10*time.Second, func() bool {
		code, _ := drop()
		return code == 0
	})
	if s, p := counts(); s != 0 || p != 0 {
		t.Fatalf("after --drop: %d slots, %d publications, want none", s, p)
	}
	if code, out := drop(); code != 0 || !strings.Contains(out, "no replication slot to drop") {
		t.Fatalf("--drop again: exit %d\n%s", code, out)
	}
}
