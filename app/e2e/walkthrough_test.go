package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// TestWalkthrough follows one order through its whole happy life and checks every read model
// and the event stream it leaves behind.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	walkthrough(t, startApp(t))
}

// walkthrough is the README's walkthrough, against an API at c: one
// process, or the API of services split over Kafka.
func walkthrough(t *testing.T, c *client) {

	cust := c.registerCustomer(t, "c-walk", "Ada Lovelace", "ada@example.com", "1 Analytical Way")
	if cust.ID != "c-walk" || cust.Name != "Ada Lovelace" || cust.Email != "ada@example.com" || cust.Address != "1 Analytical Way" {
		t.Fatalf("registerCustomer returned %+v", cust)
	}
	if got := c.customer(t, "c-walk"); got == nil || *got != cust {
		t.Fatalf("customer(c-walk) = %+v, want %+v", got, cust)
	}

	// Define, then reprice through upsert with the same id: only the change is recorded.
	if p := c.upsertProduct(t, "p-widget", "Widget", 1000); p.ID != "p-widget" || p.PriceCents != 1000 || p.Name != "Widget" {
		t.Fatalf("upsertProduct returned %+v", p)
	}
	if p := c.upsertProduct(t, "p-widget", "Widget", 1250); p.PriceCents != 1250 {
		t.Fatalf("reprice: upsertProduct returned %+v, want priceCents 1250", p)
	}
	if p := c.product(t, "p-widget"); p == nil || p.PriceCents != 1250 || p.Name != "Widget" {
		t.Fatalf("product(p-widget) after reprice = %+v, want Widget at 1250", p)
	}
	if got, want := eventTypes(c.events(t, "product-p-widget")), []string{"ProductDefined", "ProductRepriced"}; !reflect.DeepEqual(got, want) {
		t.Errorf("product-p-widget events = %v, want %v", got, want)
	}
	c.upsertProduct(t, "p-gadget", "Gadget", 300)

	if s := c.addStock(t, "p-widget", 10); s.OnHand != 10 || s.Reserved != 0 || s.Available != 10 {
		t.Fatalf("addStock(p-widget, 10) = %+v", s)
	}
	if s := c.addStock(t, "p-gadget", 20); s.OnHand != 20 || s.Available != 20 {
		t.Fatalf("addStock(p-gadget, 20) = %+v", s)
	}

	lines := []Line{{"p-widget", 2}, {"p-gadget", 3}}
	o := c.placeValidated(t, "o-walk", "c-walk", lines)
	wantTotal := 2*1250 + 3*300
	if o.ID != "o-walk" || o.CustomerID != "c-walk" || o.TotalCents != wantTotal {
		t.Fatalf("placed order = %+v, want id o-walk, customer c-walk, total %d", o, wantTotal)
	}
	wantLines := []OrderLine{{"p-widget", 2, 1250}, {"p-gadget", 3, 300}}
	if !reflect.DeepEqual(o.Lines, wantLines) {
		t.Errorf("order lines = %+v, want %+v", o.Lines, wantLines)
	}
	if len(o.FailureReasons) != 0 {
		t.Errorf("validated order has failure reasons %v", o.FailureReasons)
	}
	c.waitStock(t, "p-widget", 10, 2)
	c.waitStock(t, "p-gadget", 20, 3)
	if p := c.product(t, "p-widget"); p == nil || p.Stock == nil || p.Stock.Reserved != 2 || p.Stock.OnHand != 10 {
		t.Errorf("product(p-widget).stock = %+v, want onHand 10 reserved 2", p)
	}

	// A later reprice does not touch an order already placed.
	c.upsertProduct(t, "p-widget", "Widget", 9999)
	if got := c.mustOrder(t, "o-walk"); got.TotalCents != wantTotal || !reflect.DeepEqual(got.Lines, wantLines) {
		t.Errorf("after reprice the order changed: %+v", got)
	}

	paid := c.payOrder(t, "o-walk", wantTotal)
	if paid.Status != "PAID" {
		t.Fatalf("payOrder returned status %s, want PAID", paid.Status)
	}
	if got := c.mustOrder(t, "o-walk"); got.Status != "PAID" {
		t.Fatalf("order after payOrder: %s, want PAID", got.Status)
	}

	shipped := c.shipOrder(t, "o-walk")
	if shipped.Status != "SHIPPED" {
		t.Fatalf("shipOrder returned status %s, want SHIPPED", shipped.Status)
	}
	c.waitStock(t, "p-widget", 8, 0)
	c.waitStock(t, "p-gadget", 17, 0)

	final := c.mustOrder(t, "o-walk")
	if final.Status != "SHIPPED" || final.Version != 4 {
		t.Errorf("final order: status %s version %d, want SHIPPED version 4", final.Status, final.Version)
	}
	if final.UpdatedAt.Before(final.CreatedAt) {
		t.Errorf("updatedAt %v before createdAt %v", final.UpdatedAt, final.CreatedAt)
	}

	evs := c.events(t, "order-o-walk")
	if got, want := eventTypes(evs), []string{"OrderPlaced", "OrderValidated", "OrderPaid", "OrderShipped"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order-o-walk events = %v, want %v", got, want)
	}
	for i, e := range evs {
		if e.StreamID != "order-o-walk" || e.Version != i+1 {
			t.Errorf("event %d: stream %q version %d, want order-o-walk version %d", i, e.StreamID, e.Version, i+1)
		}
		if i > 0 && e.Position <= evs[i-1].Position {
			t.Errorf("event %d: position %d not after %d", i, e.Position, evs[i-1].Position)
		}
		if e.SchemaVersion < 1 {
			t.Errorf("event %s: schemaVersion %d", e.Type, e.SchemaVersion)
		}
		if !json.Valid([]byte(e.Data)) {
			t.Errorf("event %s: data is not JSON: %q", e.Type, e.Data)
		}
		if e.OccurredAt.IsZero() {
			t.Errorf("event %s: occurredAt is zero", e.Type)
		}
	}
	// Everything caused by one placeOrder shares its correlation id, across contexts.
	corr := evs[0].CorrelationID
	if corr == nil || *corr == "" {
		t.Errorf("OrderPlaced has no correlation id")
	} else {
		if evs[1].CorrelationID == nil || *evs[1].CorrelationID != *corr {
			t.Errorf("OrderValidated correlation id %v, want OrderPlaced's %q", evs[1].CorrelationID, *corr)
		}
		found := false
		for _, e := range c.events(t, "stock-p-widget") {
			if e.Type == "StockReserved" && e.CorrelationID != nil && *e.CorrelationID == *corr {
				found = true
			}
		}
		if !found {
			t.Errorf("no StockReserved event in stock-p-widget carries the order's correlation id %q", *corr)
		}
	}

	// More orders, for the listing and paging checks.
	c.registerCustomer(t, "c-other", "Grace Hopper", "grace@example.com", "2 Compiler Street")
	c.addStock(t, "p-gadget", 100)
	ids := map[string]string{"o-walk": "c-walk"}
	for i := 0; i < 7; i++ {
		cust := "c-walk"
		if i%2 == 1 {
			cust = "c-other"
		}
		id := fmt.Sprintf("o-page-%d", i)
		c.placeValidated(t, id, cust, []Line{{"p-gadget", 1}})
		ids[id] = cust
	}

	byCustomer := c.allOrders(t, "c-walk", "", 20)
	if !containsOrder(byCustomer, "o-walk") {
		t.Errorf("orders(customerId: c-walk) misses o-walk")
	}
	for _, o := range byCustomer {
		if o.CustomerID != "c-walk" {
			t.Errorf("orders(customerId: c-walk) returned %s of %s", o.ID, o.CustomerID)
		}
	}
	if want := 5; len(byCustomer) != want {
		t.Errorf("orders(customerId: c-walk) returned %d orders, want %d", len(byCustomer), want)
	}
	shippedOrders := c.allOrders(t, "", "SHIPPED", 20)
	if len(shippedOrders) != 1 || shippedOrders[0].ID != "o-walk" {
		t.Errorf("orders(status: SHIPPED) = %v, want just o-walk", orderIDs(shippedOrders))
	}
	validated := c.allOrders(t, "", "VALIDATED", 20)
	if len(validated) != 7 {
		t.Errorf("orders(status: VALIDATED) returned %d orders, want 7", len(validated))
	}
	for _, o := range validated {
		if o.Status != "VALIDATED" {
			t.Errorf("orders(status: VALIDATED) returned %s in %s", o.ID, o.Status)
		}
	}

	// Paging in small pages visits every order exactly once (allOrders fails on repeats).
	for _, size := range []int{1, 3, 8, 50} {
		got := c.allOrders(t, "", "", size)
		gotIDs := map[string]bool{}
		for _, o := range got {
			gotIDs[o.ID] = true
		}
		if len(got) != len(ids) {
			t.Errorf("paging with first %d: %d orders, want %d (%v)", size, len(got), len(ids), orderIDs(got))
		}
		for id := range ids {
			if !gotIDs[id] {
				t.Errorf("paging with first %d: order %s missing", size, id)
			}
		}
	}
	if got := c.allOrders(t, "c-other", "", 2); len(got) != 3 {
		t.Errorf("paging orders(customerId: c-other, first: 2): %d orders, want 3", len(got))
	}
}

func containsOrder(os []Order, id string) bool {
	for _, o := range os {
		if o.ID == id {
			return true
		}
	}
	return false
}

func orderIDs(os []Order) []string {
	ids := make([]string, len(os))
	for i, o := range os {
		ids[i] = o.ID
	}
	return ids
}
