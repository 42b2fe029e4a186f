package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"orderflow/events"
	"orderflow/migrations"
)

// forgetCustomerQuery forgets a customer and reads them back.
const forgetCustomerQuery = `mutation($id: ID!) { forgetCustomer(customerId: $id) { id name email address forgotten } }`

// ForgottenCustomer is a customer with the forgotten flag.
type ForgottenCustomer struct {
	Customer
	Forgotten bool `json:"forgotten"`
}

func (c *client) forgetCustomer(t testing.TB, id string) ForgottenCustomer {
	t.Helper()
	var out struct{ ForgetCustomer ForgottenCustomer }
	c.do(t, forgetCustomerQuery, map[string]any{"id": id}, &out)
	return out.ForgetCustomer
}

func (c *client) customerWithFlag(t testing.TB, id string) *ForgottenCustomer {
	t.Helper()
	var out struct{ Customer *ForgottenCustomer }
	c.do(t, `query($id: ID!) { customer(id: $id) { id name email address forgotten } }`, map[string]any{"id": id}, &out)
	return out.Customer
}

// filesHolding lists, for each string, the files of dir whose bytes hold
// it: every file, the database, its WAL and shared memory and anything
// beside them.
func filesHolding(t *testing.T, dir string, needles []string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				found[n] = append(found[n], filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// seedPlaintextCustomer writes, as a version of orderflow before sealing
// did, a customer registration and a confirmation with their personal data
// in the clear (schema version 1).
func seedPlaintextCustomer(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v1 := func(stream, typ, data string) events.StreamAppend {
		return events.StreamAppend{StreamID: stream, ExpectedVersion: 0, Events: []events.Event{
			{Type: typ, SchemaVersion: 1, Data: json.RawMessage(data), CorrelationID: "corr-legacy"}}}
	}
	if _, err := events.NewStore(db).Append(ctx,
		v1("customer-c-old", "CustomerRegistered", `{"customerId":"c-old","name":"Ottoline Vintagegrave","email":"ottoline@vintagegrave.example","address":"3 Bygone Mews"}`),
		v1("notification-o-old", "NotificationSent", `{"orderId":"o-old","customerId":"c-old","kind":"ORDER_CONFIRMED","email":"ottoline@vintagegrave.example","address":"3 Bygone Mews","sentAt":"2025-01-01T00:00:00Z"}`),
	); err != nil {
		t.Fatal(err)
	}
}

// TestForgetCustomerLeavesNoByteOfThem runs the binary, registers a
// customer with distinctive personal data, gives them orders, a paid one
// confirmed to their email and address, and a move; a customer written by
// an older version in the clear is there too. Once forgetCustomer answers,
// none of their strings is in any file of the database's directory; their
// orders and amounts stay, new orders fail UNKNOWN_CUSTOMER, and rebuilt
// read models (rebuilt online, replayed offline, and after a restart) still
// show them forgotten. Another customer's
// data stays readable, so the search is shown to find what is there.
func TestForgetCustomerLeavesNoByteOfThem(t *testing.T) {
	t.Parallel()
	bin := needBinary(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "orderflow.db")
	seedPlaintextCustomer(t, dbPath)
	p := startBinary(t, bin, dbPath)
	c := p.client

	secrets := []string{"Zebulon Quackenbush", "Quackenbush", "zebulon@quackenbush.example", "77 Forgetme Lane", "Forgetme", "88 Movedaway Court", "Movedaway"}
	oldSecrets := []string{"Ottoline", "Vintagegrave", "ottoline@", "3 Bygone Mews"}
	kept := []string{"Keziah Keepsake", "keziah@keepsake.example", "5 Stayput Road"}

	// The read models apply the log in the background from the start: the customer shows once
	// they have caught up with it (CI once queried before they had).
	eventually(t, 10*time.Second, func() (bool, string) {
		got := c.customer(t, "c-old")
		return got != nil && got.Name == "Ottoline Vintagegrave", fmt.Sprintf("the customer stored in the clear reads as %+v", got)
	})
	c.registerCustomer(t, "c-zeb", "Zebulon Quackenbush", "zebulon@quackenbush.example", "77 Forgetme Lane")
	c.registerCustomer(t, "c-kez", "Keziah Keepsake", "keziah@keepsake.example", "5 Stayput Road")
	c.upsertProduct(t, "p-er", "Teapot", 2500)
	c.addStock(t, "p-er", 50)
	paid := c.placeValidated(t, "o-zeb-1", "c-zeb", []Line{{ProductID: "p-er", Quantity: 2}})
	c.updateCustomerAddress(t, "c-zeb", "88 Movedaway Court")
	c.payOrder(t, "o-zeb-1", paid.TotalCents)
	if n := c.waitNotification(t, "o-zeb-1"); n.Email != "zebulon@quackenbush.example" || n.Address != "88 Movedaway Court" {
		t.Fatalf("confirmation = %+v", n)
	}
	c.placeValidated(t, "o-zeb-2", "c-zeb", []Line{{ProductID: "p-er", Quantity: 1}})
	keptOrder := c.placeValidated(t, "o-kez-1", "c-kez", []Line{{ProductID: "p-er", Quantity: 1}})
	c.payOrder(t, "o-kez-1", keptOrder.TotalCents)
	c.waitNotification(t, "o-kez-1")
	c.quiesce(t)
	before := c.allOrders(t, "c-zeb", "", 10)

	got := c.forgetCustomer(t, "c-zeb")
	if want := (ForgottenCustomer{Customer: Customer{ID: "c-zeb"}, Forgotten: true}); got != want {
		t.Fatalf("forgetCustomer = %+v, want %+v", got, want)
	}
	if old := c.forgetCustomer(t, "c-old"); !old.Forgotten || old.Name != "" {
		t.Fatalf("forgetting the customer stored in the clear = %+v", old)
	}
	checkFiles := func(when string) {
		t.Helper()
		found := filesHolding(t, dir, append(append(append([]string{}, secrets...), oldSecrets...), kept...))
		for _, s := range append(append([]string{}, secrets...), oldSecrets...) {
			if len(found[s]) > 0 {
				t.Errorf("%s: %q is still in %v", when, s, found[s])
			}
		}
		for _, s := range kept {
			if len(found[s]) == 0 {
				t.Errorf("%s: another customer's %q is in no file: the search cannot be trusted", when, s)
			}
		}
	}
	checkFiles("right after forgetCustomer")

	// Forgetting again changes nothing; an unknown customer is NOT_FOUND.
	if again := c.forgetCustomer(t, "c-zeb"); again != got {
		t.Fatalf("forgetting again = %+v", again)
	}
	c.expectError(t, "NOT_FOUND", forgetCustomerQuery, map[string]any{"id": "c-nobody"})
	// Nothing personal can be recorded for them again.
	c.expectError(t, "CONFLICT", `mutation($id: ID!) { updateCustomerAddress(customerId: $id, address: "9 Back Again St") { id } }`,
		map[string]any{"id": "c-zeb"})
	c.expectError(t, "CONFLICT", `mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { id } }`,
		map[string]any{"i": customerInput("c-zeb", "Zebulon Quackenbush", "zebulon@quackenbush.example", "77 Forgetme Lane")})

	// Their orders, amounts and history stay.
	after := c.allOrders(t, "c-zeb", "", 10)
	if len(after) != len(before) || len(after) != 2 {
		t.Fatalf("orders after forgetting = %+v, before %+v", after, before)
	}
	for i := range after {
		if after[i].ID != before[i].ID || after[i].TotalCents != before[i].TotalCents || after[i].Status != before[i].Status {
			t.Errorf("order %d changed: %+v, was %+v", i, after[i], before[i])
		}
	}
	if evs := c.events(t, "order-o-zeb-1"); len(evs) < 3 {
		t.Fatalf("the order's history = %v", eventTypes(evs))
	}
	if n := c.notifications(t, "o-zeb-1"); len(n) != 1 || n[0].Email != "" || n[0].Address != "" || n[0].CustomerID != "c-zeb" {
		t.Fatalf("the confirmation after forgetting = %+v, want it kept, with email and address blank", n)
	}
	if n := c.notifications(t, "o-kez-1"); len(n) != 1 || n[0].Email != "keziah@keepsake.example" {
		t.Fatalf("another customer's confirmation = %+v", n)
	}

	// New orders for them fail the customer check.
	failed := c.placeOrder(t, "o-zeb-3", "c-zeb", []Line{{ProductID: "p-er", Quantity: 1}}, true)
	if failed.Status != "FAILED" || !failed.hasReason("UNKNOWN_CUSTOMER") {
		t.Fatalf("an order after forgetting = %+v, want FAILED with UNKNOWN_CUSTOMER", failed)
	}

	// Rebuilt from the log, the read models are the same, minus the person.
	for _, name := range []string{"customers", "notifications", "orders"} {
		c.rebuildProjection(t, name)
	}
	c.waitProjectionsLive(t)
	if cu := c.customerWithFlag(t, "c-zeb"); cu == nil || *cu != got {
		t.Fatalf("after a rebuild the customer reads %+v, want %+v", cu, got)
	}
	if cu := c.customerWithFlag(t, "c-kez"); cu == nil || cu.Forgotten || cu.Name != "Keziah Keepsake" || cu.Address != "5 Stayput Road" {
		t.Fatalf("after a rebuild another customer reads %+v", cu)
	}
	if n := c.notifications(t, "o-zeb-1"); len(n) != 1 || n[0].Email != "" || n[0].Address != "" {
		t.Fatalf("after a rebuild the confirmation = %+v", n)
	}
	if rebuilt := c.allOrders(t, "c-zeb", "", 10); len(rebuilt) != 3 {
		t.Fatalf("after a rebuild the orders = %+v", rebuilt)
	}
	checkFiles("after rebuilding")

	// Replayed offline, and after a restart, nothing personal comes back.
	p.stop(t, syscall.SIGTERM, 30*time.Second)
	if res := runBinary(t, bin, 2*time.Minute, "replay", "--db", dbPath); res.code != 0 {
		t.Fatalf("orderflow replay exited with %d:\n%s%s", res.code, res.stdout, res.stderr)
	}
	checkFiles("after orderflow replay")
	p = startBinary(t, bin, dbPath)
	if n := p.client.notifications(t, "o-zeb-1"); len(n) != 1 || n[0].Email != "" || n[0].Address != "" {
		t.Fatalf("after a replay the confirmation = %+v", n)
	}
	if cu := p.client.customerWithFlag(t, "c-kez"); cu == nil || cu.Name != "Keziah Keepsake" {
		t.Fatalf("after a replay another customer reads %+v", cu)
	}
	if cu := p.client.customerWithFlag(t, "c-zeb"); cu == nil || *cu != got {
		t.Fatalf("after a restart the customer reads %+v", cu)
	}
	if cu := p.client.customerWithFlag(t, "c-old"); cu == nil || !cu.Forgotten || strings.TrimSpace(cu.Name) != "" {
		t.Fatalf("after a restart the customer stored in the clear reads %+v", cu)
	}
	p.stop(t, syscall.SIGTERM, 30*time.Second)
	checkFiles("after a restart")
}
