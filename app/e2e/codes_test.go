package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orderflow/app"
)

func withDBPath(path string) appOption { return func(c *app.Config) { c.DBPath = path } }

// openBeside opens a second connection to the running app's database, as an operator's sqlite3
// shell would, to break the read side from outside.
func openBeside(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// liveTable is the table of the live generation behind a read model's view.
func liveTable(t *testing.T, db *sql.DB, view string) string {
	t.Helper()
	var name string
	err := db.QueryRow(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '\' ORDER BY name DESC LIMIT 1`,
		view+`\_g%`).Scan(&name)
	if err != nil {
		t.Fatalf("table behind %s: %v", view, err)
	}
	return name
}

// TestReadModelsBehindAnswerTimeout: a mutation whose read models do not show its write within
// --wait-timeout answers TIMEOUT (the change is recorded; query again), never the state from
// before its own write as a success. The customers read model is held by triggers that refuse
// its writes, so the projection retries, lags, and then sets the events aside as dead letters;
// once the triggers are dropped a rebuild of the projection catches up.
func TestReadModelsBehindAnswerTimeout(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "orderflow.db")
	c := startApp(t, withDBPath(path), withWaitTimeout(time.Second))
	c.registerCustomer(t, "c1", "Ada", "ada@example.com", "1 Old St")

	beside := openBeside(t, path)
	table := liveTable(t, beside, "customers")
	for _, op := range []string{"INSERT", "UPDATE"} {
		if _, err := beside.Exec(fmt.Sprintf(`CREATE TRIGGER e2e_hold_%s BEFORE %s ON %s
			BEGIN SELECT RAISE(ABORT, 'read model held by the test'); END`, strings.ToLower(op), op, table)); err != nil {
			t.Fatal(err)
		}
	}

	resp := c.expectError(t, "TIMEOUT", updateAddressMutation, map[string]any{"c": "c1", "a": "2 New St"})
	if len(resp.Errors) > 0 && !strings.Contains(resp.Errors[0].Message, "recorded") {
		t.Errorf("TIMEOUT message %q should say the change was recorded", resp.Errors[0].Message)
	}
	checkNullField(t, resp, "updateCustomerAddress")
	c.expectError(t, "TIMEOUT", registerCustomerMutation, map[string]any{"in": customerInput("c2", "Bob", "bob@example.com", "3 Third St")})

	// Both changes were recorded.
	if evs := c.events(t, "customer-c1"); len(evs) != 2 {
		t.Errorf("customer-c1 has %d events, want 2 (registered, address changed)", len(evs))
	}
	if evs := c.events(t, "customer-c2"); len(evs) != 1 {
		t.Errorf("customer-c2 has %d events, want 1", len(evs))
	}
	for _, op := range []string{"insert", "update"} {
		if _, err := beside.Exec(`DROP TRIGGER e2e_hold_` + op); err != nil {
			t.Fatal(err)
		}
	}
	// A read model that kept refusing the events set them aside as dead
	// letters of the projection (the other read models went on); once the
	// cause is gone, a rebuild applies them.
	eventually(t, settleTimeout, func() (bool, string) {
		var out struct{ DeadLetters []struct{ Reaction string } }
		c.do(t, `{ deadLetters { reaction } }`, nil, &out)
		return len(out.DeadLetters) > 0 && out.DeadLetters[0].Reaction == "projection customers",
			fmt.Sprintf("dead letters: %+v", out.DeadLetters)
	})
	c.rebuildProjection(t, "customers")
	eventually(t, settleTimeout, func() (bool, string) {
		c1, c2 := c.customer(t, "c1"), c.customer(t, "c2")
		return c1 != nil && c1.Address == "2 New St" && c2 != nil, fmt.Sprintf("customers after the hold: %+v %+v", c1, c2)
	})
}

// TestInternalErrorsHideTheirDetails: a failure that is no refusal (here the read model's view is
// gone) answers INTERNAL without the database's words, with a request id to quote.
func TestInternalErrorsHideTheirDetails(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "orderflow.db")
	c := startApp(t, withDBPath(path))
	c.registerCustomer(t, "c1", "Ada", "ada@example.com", "1 Old St")
	if _, err := openBeside(t, path).Exec(`DROP VIEW customers`); err != nil {
		t.Fatal(err)
	}
	resp, err := c.exec(context.Background(), `query { customer(id: "c1") { `+customerFields+` } }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Errors) != 1 || resp.Errors[0].code() != "INTERNAL" {
		t.Fatalf("want one INTERNAL error, got %s", resp.Body)
	}
	e := resp.Errors[0]
	if strings.Contains(e.Message, "no such table") || strings.Contains(e.Message, "customers") {
		t.Errorf("INTERNAL message %q shows internal details", e.Message)
	}
	if id, _ := e.Extensions["requestId"].(string); id == "" || !strings.Contains(e.Message, id) {
		t.Errorf("extensions %v, message %q: want a requestId, quoted in the message", e.Extensions, e.Message)
	}
}
