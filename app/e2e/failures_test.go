package e2e

import (
	"fmt"
	"testing"
)

// TestInsufficientStock: an order that cannot be reserved fails with INSUFFICIENT_STOCK, reserves
// nothing, and a multi-line order reserves all its lines or none.
func TestInsufficientStock(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	c.registerCustomer(t, "c1", "Alice", "alice@example.com", "1 Main St")
	c.upsertProduct(t, "p-a", "Apple", 100)
	c.upsertProduct(t, "p-b", "Banana", 50)
	c.addStock(t, "p-a", 5)
	c.addStock(t, "p-b", 2)

	c.placeValidated(t, "o-ok", "c1", []Line{{"p-a", 3}})
	c.waitStock(t, "p-a", 5, 3)

	// Only 2 left: 3 more cannot be reserved.
	o := c.placeOrder(t, "o-short", "c1", []Line{{"p-a", 3}}, true)
	if o.Status != "FAILED" || !o.hasReason("INSUFFICIENT_STOCK") {
		t.Errorf("o-short: got %s %v, want FAILED with INSUFFICIENT_STOCK", o.Status, o.FailureReasons)
	}
	// The first line alone would fit, the second does not: nothing may stay reserved.
	o = c.placeOrder(t, "o-partial", "c1", []Line{{"p-a", 2}, {"p-b", 3}}, true)
	if o.Status != "FAILED" || !o.hasReason("INSUFFICIENT_STOCK") {
		t.Errorf("o-partial: got %s %v, want FAILED with INSUFFICIENT_STOCK", o.Status, o.FailureReasons)
	}
	// A product that was never given stock has nothing available.
	c.upsertProduct(t, "p-none", "Nothing", 10)
	o = c.placeOrder(t, "o-none", "c1", []Line{{"p-none", 1}}, true)
	if o.Status != "FAILED" || !o.hasReason("INSUFFICIENT_STOCK") {
		t.Errorf("o-none: got %s %v, want FAILED with INSUFFICIENT_STOCK", o.Status, o.FailureReasons)
	}

	// Reservations are back to what the one valid order holds.
	c.waitStock(t, "p-a", 5, 3)
	c.waitStock(t, "p-b", 2, 0)
	if s := c.stock(t, "p-none"); s.OnHand != 0 || s.Reserved != 0 {
		t.Errorf("stock(p-none) = %+v, want nothing", s)
	}
	// And the two units still available can be ordered: nothing leaked.
	c.placeValidated(t, "o-rest", "c1", []Line{{"p-a", 2}, {"p-b", 2}})
	c.waitStock(t, "p-a", 5, 5)
	c.waitStock(t, "p-b", 2, 2)

	if got := c.mustOrder(t, "o-short"); got.Status != "FAILED" {
		t.Errorf("o-short changed to %s after later orders", got.Status)
	}
}

// TestFraudLimit: the customer's trailing-window total, including the new order and every earlier
// attempt (failed ones too), must not exceed the limit.
func TestFraudLimit(t *testing.T) {
	t.Parallel()
	c := startApp(t, withFraudLimit(1000))
	c.upsertProduct(t, "p", "Thing", 250)
	c.addStock(t, "p", 1000)
	for _, id := range []string{"c-under", "c-attempts", "c-edge"} {
		c.registerCustomer(t, id, "Customer "+id, id+"@example.com", "Somewhere 1")
	}

	// 3 × 250 = 750 passes; another 250 reaches 1000 exactly, which does not exceed; the next fails.
	c.placeValidated(t, "u1", "c-under", []Line{{"p", 3}})
	c.placeValidated(t, "u2", "c-under", []Line{{"p", 1}})
	o := c.placeOrder(t, "u3", "c-under", []Line{{"p", 1}}, true)
	if o.Status != "FAILED" || !o.hasReason("FRAUD_LIMIT_EXCEEDED") {
		t.Errorf("u3 (window total 1250 > 1000): got %s %v, want FAILED with FRAUD_LIMIT_EXCEEDED", o.Status, o.FailureReasons)
	}

	// A single order over the limit fails; it still counts, so a small one after it fails too.
	o = c.placeOrder(t, "a1", "c-attempts", []Line{{"p", 5}}, true) // 1250
	if o.Status != "FAILED" || !o.hasReason("FRAUD_LIMIT_EXCEEDED") {
		t.Errorf("a1 (1250 > 1000): got %s %v, want FAILED with FRAUD_LIMIT_EXCEEDED", o.Status, o.FailureReasons)
	}
	o = c.placeOrder(t, "a2", "c-attempts", []Line{{"p", 1}}, true) // 250, window 1500
	if o.Status != "FAILED" || !o.hasReason("FRAUD_LIMIT_EXCEEDED") {
		t.Errorf("a2 (window 1250 failed + 250): got %s %v, want FAILED with FRAUD_LIMIT_EXCEEDED (failed attempts count)", o.Status, o.FailureReasons)
	}

	// Exactly at the limit in one order passes.
	c.placeValidated(t, "e1", "c-edge", []Line{{"p", 4}}) // 1000

	// Customers do not share a window: the others' orders did not use c-edge's allowance and
	// vice versa; and the fraud failures released whatever inventory had reserved for them.
	c.waitStock(t, "p", 1000, 3+1+4)
}

// TestUnknownCustomer: an order of an unregistered customer is accepted, then fails with
// UNKNOWN_CUSTOMER, and any reservation made for it is released.
func TestUnknownCustomer(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	c.upsertProduct(t, "p", "Thing", 100)
	c.addStock(t, "p", 10)

	o := c.placeOrder(t, "o-ghost", "c-nobody", []Line{{"p", 4}}, true)
	if o.Status != "FAILED" || !o.hasReason("UNKNOWN_CUSTOMER") {
		t.Errorf("o-ghost: got %s %v, want FAILED with UNKNOWN_CUSTOMER", o.Status, o.FailureReasons)
	}
	if got := c.mustOrder(t, "o-ghost"); got.Status != "FAILED" || !got.hasReason("UNKNOWN_CUSTOMER") {
		t.Errorf("order(o-ghost) = %s %v, want FAILED with UNKNOWN_CUSTOMER", got.Status, got.FailureReasons)
	}
	c.waitStock(t, "p", 10, 0)

	// Several validations fail: the order stays FAILED and eventually lists every reason.
	c.placeOrder(t, "o-double", "c-nobody", []Line{{"p", 11}}, false)
	var last Order
	eventually(t, settleTimeout, func() (bool, string) {
		last = c.mustOrder(t, "o-double")
		return last.Status == "FAILED" && last.hasReason("UNKNOWN_CUSTOMER") && last.hasReason("INSUFFICIENT_STOCK"),
			fmt.Sprintf("o-double: %s %v, want FAILED with UNKNOWN_CUSTOMER and INSUFFICIENT_STOCK", last.Status, last.FailureReasons)
	})
	c.waitStock(t, "p", 10, 0)

	// Registering the customer afterwards does not revive a failed order.
	c.registerCustomer(t, "c-nobody", "Late Registrant", "late@example.com", "3 Late Lane")
	if got := c.mustOrder(t, "o-ghost"); got.Status != "FAILED" {
		t.Errorf("o-ghost became %s after the customer registered", got.Status)
	}
	c.placeValidated(t, "o-now", "c-nobody", []Line{{"p", 10}})
	c.waitStock(t, "p", 10, 10)
}
