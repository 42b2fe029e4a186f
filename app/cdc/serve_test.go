package cdc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orderflow/app"
)

// TestServeFollowsTheSource starts the server with --cdc-pg: the follower
// runs inside it, writing through the server's writer (no second process,
// no "held for writing" refusal), its progress is in the server's /metrics,
// /readyz waits for it to stream, and a product changed in the legacy
// database is answered by the server's product query.
func TestServeFollowsTheSource(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(legacySchema, `INSERT INTO products VALUES ('p1', 'Widget', 1000)`)

	cfg := app.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DBPath = filepath.Join(t.TempDir(), "orderflow.db")
	cfg.CDCPG = pg.DSN()
	cfg.Logger = slog.New(slog.NewTextHandler(&testLog{t: t}, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	defer a.Shutdown(context.Background())

	waitFor(t, "/readyz", 30*time.Second, func() bool {
		code, _ := get(t, a.URL()+"/readyz")
		return code == http.StatusOK
	})
	pg.Exec(`UPDATE products SET price_cents = 1250 WHERE id = 'p1'`,
		`INSERT INTO products VALUES ('p2', 'Gadget', 300)`)
	product := func(id string) string {
		body, _ := json.Marshal(map[string]string{"query": fmt.Sprintf(`{ product(id: %q) { name priceCents } }`, id)})
		resp, err := http.Post(a.URL()+"/graphql", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		out.ReadFrom(resp.Body)
		return out.String()
	}
	waitFor(t, "the changes in the server's read model", 30*time.Second, func() bool {
		return strings.Contains(product("p1"), `"priceCents":1250`) && strings.Contains(product("p2"), `"name":"Gadget"`)
	})
	_, metrics := get(t, a.URL()+"/metrics")
	for _, line := range []string{"orderflow_cdc_rows_snapshotted_total 1", "orderflow_cdc_changes_applied_total 3",
		"orderflow_cdc_streaming 1"} {
		if !strings.Contains(metrics, "\n"+line+"\n") {
			t.Errorf("the server's /metrics lacks %q", line)
		}
	}

	// The source gone: the server still serves, and /readyz says why it
	// is not ready.
	pg.Stop()
	waitFor(t, "/readyz to report the source", 30*time.Second, func() bool {
		code, body := get(t, a.URL()+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "cdc: cannot reach 127.0.0.1:")
	})
	if !strings.Contains(product("p2"), `"name":"Gadget"`) {
		t.Error("the server stopped answering with the source down")
	}
}

// TestServeFollowsTheSourceItIsTold: serve --cdc-pg takes the slot, the
// publication and the table mappings from the flags (and environment
// variables) `orderflow cdc` has: it follows legacy tables of other names
// and columns, through the slot and publication it was given, and leaves
// the default ones unmade.
func TestServeFollowsTheSourceItIsTold(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(`CREATE SCHEMA legacy`,
		`CREATE TABLE legacy.items (sku text PRIMARY KEY, title text, cents bigint)`,
		`CREATE TABLE legacy.clients (cid text PRIMARY KEY, full_name text, mail text, addr text)`,
		`INSERT INTO legacy.items VALUES ('sku-1', 'Widget', 1000)`,
		`INSERT INTO legacy.clients VALUES ('cl-1', 'Ada', 'ada@example.com', '1 Old St')`)

	env := map[string]string{"ORDERFLOW_PUBLICATION": "serve_pub"}
	cfg, err := app.ParseFlags("orderflow serve", []string{"--addr", "127.0.0.1:0",
		"--db", filepath.Join(t.TempDir(), "orderflow.db"), "--cdc-pg", pg.DSN(), "--slot", "serve_slot",
		"--products", "legacy.items(sku,title,cents)", "--customers", "legacy.clients(cid,full_name,mail,addr)"},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(&testLog{t: t}, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	defer a.Shutdown(context.Background())

	waitFor(t, "/readyz", 30*time.Second, func() bool {
		code, _ := get(t, a.URL()+"/readyz")
		return code == http.StatusOK
	})
	pg.Exec(`UPDATE legacy.items SET cents = 1250 WHERE sku = 'sku-1'`)
	query := func(q string) string {
		body, _ := json.Marshal(map[string]string{"query": q})
		resp, err := http.Post(a.URL()+"/graphql", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		out.ReadFrom(resp.Body)
		return out.String()
	}
	waitFor(t, "the mapped tables in the server's read models", 30*time.Second, func() bool {
		return strings.Contains(query(`{ product(id: "sku-1") { name priceCents } }`), `"priceCents":1250`) &&
			strings.Contains(query(`{ customer(id: "cl-1") { email } }`), `"email":"ada@example.com"`)
	})

	var slots, defaultSlots, pubs, defaultPubs int
	pg.QueryRow(`SELECT count(*) FILTER (WHERE slot_name = 'serve_slot'), count(*) FILTER (WHERE slot_name = 'orderflow')
		FROM pg_replication_slots`, &slots, &defaultSlots)
	pg.QueryRow(`SELECT count(*) FILTER (WHERE pubname = 'serve_pub'), count(*) FILTER (WHERE pubname = 'orderflow')
		FROM pg_publication`, &pubs, &defaultPubs)
	if slots != 1 || pubs != 1 || defaultSlots != 0 || defaultPubs != 0 {
		t.Errorf("slots: %d serve_slot, %d orderflow; publications: %d serve_pub, %d orderflow; want the ones given, not the defaults",
			slots, defaultSlots, pubs, defaultPubs)
	}
	var published string
	pg.QueryRow(`SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename) FROM pg_publication_tables
		WHERE pubname = 'serve_pub'`, &published)
	if published != "legacy.clients,legacy.items" {
		t.Errorf("serve_pub publishes %s, want legacy.clients,legacy.items", published)
	}
}
