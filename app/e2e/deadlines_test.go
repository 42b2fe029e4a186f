package e2e

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The deadlines of an order, with the real binary: a VALIDATED order not paid in time is
// cancelled with PAYMENT_TIMEOUT and its stock released; a deadline that passed while the server
// was down is applied when it comes back; split over the devbroker with the inventory service
// stopped, PENDING orders fail with VALIDATION_TIMEOUT, a payment held for one is refunded whole,
// and the reservation inventory makes when it comes back is released.

// cancellation is an order's cancellationReason, "<null>" when it has none.
func cancellation(o Order) string {
	if o.CancellationReason == nil {
		return "<null>"
	}
	return *o.CancellationReason
}

// waitStatus polls until the order has the status.
func (c *client) waitStatus(t testing.TB, id, status string, timeout time.Duration) Order {
	t.Helper()
	var last *Order
	eventually(t, timeout, func() (bool, string) {
		last = c.order(t, id)
		if last == nil {
			return false, "order " + id + " not found"
		}
		return last.Status == status, fmt.Sprintf("order %s is %s %v, want %s", id, last.Status, last.FailureReasons, status)
	})
	return *last
}

// expiries is what /metrics says this process expired for a reason.
func (c *client) expiries(t testing.TB, reason string) float64 {
	t.Helper()
	v, ok := c.scrapeMetrics(t).value("orderflow_deadline_expiries_total", "reason", reason)
	if !ok {
		t.Fatalf("/metrics lacks orderflow_deadline_expiries_total{reason=%q}", reason)
	}
	return v
}

func TestDeadlinePaymentTimeout(t *testing.T) {
	t.Parallel()
	bin := needBinary(t)
	const deadline = 5 * time.Second
	p := startBinary(t, bin, filepath.Join(t.TempDir(), "d.db"), "--payment-deadline", deadline.String())
	c := p.client
	c.registerCustomer(t, "c-dl", "Ada", "ada@example.com", "1 Analytical Way")
	c.upsertProduct(t, "p-dl", "Kettle", 500)
	c.addStock(t, "p-dl", 10)

	// Paid, and cancelled by hand, each well within its deadline.
	c.placeValidated(t, "o-paid", "c-dl", []Line{{"p-dl", 2}})
	c.payOrder(t, "o-paid", 1000)
	c.placeValidated(t, "o-cancelled", "c-dl", []Line{{"p-dl", 1}})
	if o := c.cancelOrder(t, "o-cancelled", "changed my mind"); cancellation(o) != "changed my mind" {
		t.Errorf("cancelOrder's reason reads back as %q", cancellation(o))
	}
	unpaid := c.placeValidated(t, "o-unpaid", "c-dl", []Line{{"p-dl", 3}})
	if cancellation(unpaid) != "<null>" {
		t.Errorf("a VALIDATED order has cancellationReason %q, want null", cancellation(unpaid))
	}
	c.waitStock(t, "p-dl", 10, 5)
	if v, ok := c.scrapeMetrics(t).value("orderflow_deadlines_pending", "deadline", "payment"); !ok || v != 1 {
		t.Errorf("orderflow_deadlines_pending{deadline=payment} = %v (%v), want 1 (o-unpaid)", v, ok)
	}

	o := c.waitStatus(t, "o-unpaid", "CANCELLED", settleTimeout)
	if cancellation(o) != "PAYMENT_TIMEOUT" {
		t.Errorf("o-unpaid cancelled with reason %q, want PAYMENT_TIMEOUT", cancellation(o))
	}
	if since := o.UpdatedAt.Sub(unpaid.UpdatedAt); since < deadline {
		t.Errorf("o-unpaid was cancelled %v after its validation, before its %v deadline", since, deadline)
	}
	c.waitStock(t, "p-dl", 10, 2) // o-unpaid's 3 released; o-paid keeps its 2
	// A payment that comes too late is refused, and nothing is recorded.
	c.expectError(t, "CONFLICT", payOrderMutation, map[string]any{"id": "o-unpaid", "amt": 1500})
	if o := c.mustOrder(t, "o-unpaid"); o.PaidCents != 0 || o.Status != "CANCELLED" {
		t.Errorf("after a late payment o-unpaid = %s paid %d, want CANCELLED paid 0", o.Status, o.PaidCents)
	}
	// The paid order and the one cancelled by hand are as they were.
	if o := c.mustOrder(t, "o-paid"); o.Status != "PAID" || cancellation(o) != "<null>" {
		t.Errorf("o-paid = %s %q, want PAID", o.Status, cancellation(o))
	}
	if o := c.mustOrder(t, "o-cancelled"); cancellation(o) != "changed my mind" {
		t.Errorf("o-cancelled reason = %q, want the one given", cancellation(o))
	}
	want := []string{"OrderPlaced", "OrderValidated", "OrderCancelled"}
	if got := eventTypes(c.events(t, "order-o-unpaid")); !reflect.DeepEqual(got, want) {
		t.Errorf("order-o-unpaid = %v, want %v", got, want)
	}
	if n := c.expiries(t, "PAYMENT_TIMEOUT"); n != 1 {
		t.Errorf("expiries PAYMENT_TIMEOUT = %v, want 1", n)
	}
	if v, ok := c.scrapeMetrics(t).value("orderflow_deadlines_pending", "deadline", "payment"); !ok || v != 0 {
		t.Errorf("orderflow_deadlines_pending{deadline=payment} = %v (%v), want 0", v, ok)
	}
}

// TestDeadlineAcrossRestart stops the server before an order's payment deadline and starts it
// again after: the order is cancelled once the server is back, from the log, not from a timer
// that died with the process.
func TestDeadlineAcrossRestart(t *testing.T) {
	t.Parallel()
	bin := needBinary(t)
	db := filepath.Join(t.TempDir(), "r.db")
	const deadline = 8 * time.Second // room to stop the server before it, under -race too
	args := []string{"--payment-deadline", deadline.String()}
	p := startBinary(t, bin, db, args...)
	c := p.client
	c.registerCustomer(t, "c-rs", "Ada", "ada@example.com", "1 Analytical Way")
	c.upsertProduct(t, "p-rs", "Kettle", 500)
	c.addStock(t, "p-rs", 10)
	c.placeValidated(t, "o-rs", "c-rs", []Line{{"p-rs", 4}})
	validated := time.Now() // at or after the validation: the deadline passes by validated + deadline
	c.waitStock(t, "p-rs", 10, 4)
	if code := p.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("the server exited with %d on SIGTERM:\n%s", code, p.stderr.String())
	}
	stopped := time.Now()
	time.Sleep(time.Until(validated.Add(deadline + time.Second))) // past the deadline while the server is down

	p = startBinary(t, bin, db, args...)
	c = p.client
	o := c.waitStatus(t, "o-rs", "CANCELLED", settleTimeout)
	if cancellation(o) != "PAYMENT_TIMEOUT" {
		t.Errorf("o-rs cancelled with %q, want PAYMENT_TIMEOUT", cancellation(o))
	}
	evs := c.events(t, "order-o-rs")
	if got, want := eventTypes(evs), []string{"OrderPlaced", "OrderValidated", "OrderCancelled"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order-o-rs = %v, want %v", got, want)
	}
	if at := evs[2].OccurredAt; at.Before(stopped) {
		t.Errorf("OrderCancelled at %v, before the server stopped at %v", at, stopped)
	}
	c.waitStock(t, "p-rs", 10, 0)
}

// TestSplitProcessValidationTimeout stops the inventory service of a split deployment with two
// orders members: the orders placed meanwhile fail with VALIDATION_TIMEOUT (each decided by the
// member that owns it, and by the one left when the other is killed), the payment held for one is
// refunded whole, and when inventory comes back the reservations it then makes for them are
// released.
func TestSplitProcessValidationTimeout(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	deadline := []string{"--validation-deadline", "5s"}
	api := s.service("api", apiContexts, deadline...)
	c := api.client
	orders2 := s.service("orders-2", "orders", deadline...)
	inv := s.service("inventory", "inventory")
	s.service("checks", checkContexts)

	c.registerCustomer(t, "c-vt", "Ada", "ada@example.com", "1 Analytical Way")
	c.upsertProduct(t, "p-vt", "Kettle", 100)
	c.addStock(t, "p-vt", 100)
	if o := c.placeOrder(t, "o-vt-ok", "c-vt", []Line{{"p-vt", 1}}, true); o.Status != "VALIDATED" {
		t.Fatalf("o-vt-ok = %s %v, want VALIDATED", o.Status, o.FailureReasons)
	}
	c.waitStock(t, "p-vt", 100, 1)

	if code := inv.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("inventory exited with %d", code)
	}
	const n = 8
	var ids []string
	for i := range n {
		id := fmt.Sprintf("o-vt-%d", i)
		ids = append(ids, id)
		if o := c.placeOrder(t, id, "c-vt", []Line{{"p-vt", 2}}, false); o.Status != "PENDING" {
			t.Fatalf("%s with inventory stopped = %s, want PENDING", id, o.Status)
		}
		if i == 0 {
			c.payOrder(t, id, 200) // held while PENDING
		}
	}

	for _, id := range ids {
		o := c.waitStatus(t, id, "FAILED", splitSettleTimeout)
		if !reflect.DeepEqual(o.FailureReasons, []string{"VALIDATION_TIMEOUT"}) {
			t.Errorf("%s failed with %v, want [VALIDATION_TIMEOUT]", id, o.FailureReasons)
		}
	}
	eventually(t, splitSettleTimeout, func() (bool, string) {
		o := c.mustOrder(t, "o-vt-0")
		return o.PaidCents == 200 && o.RefundedCents == 200, fmt.Sprintf("o-vt-0 paid %d refunded %d, want 200 and 200", o.PaidCents, o.RefundedCents)
	})
	// Every order failed once, by one member or the other.
	expired := c.expiries(t, "VALIDATION_TIMEOUT") + orders2.client.expiries(t, "VALIDATION_TIMEOUT")
	if expired < n {
		t.Errorf("the orders members expired %v orders, want at least %d", expired, n)
	}
	t.Logf("VALIDATION_TIMEOUT expiries: api %v, orders-2 %v", c.expiries(t, "VALIDATION_TIMEOUT"), orders2.client.expiries(t, "VALIDATION_TIMEOUT"))
	for _, id := range ids {
		if got := eventTypes(c.events(t, "order-"+id)); !reflect.DeepEqual(got, []string{"OrderPlaced", "OrderFailed"}) {
			t.Errorf("order-%s = %v, want [OrderPlaced OrderFailed]", id, got)
		}
	}

	// The timer scales with the orders context: orders-2 dies with deadlines running for the
	// orders of its partitions, and the member that takes them over expires them.
	var orphans []string
	for i := range n {
		id := fmt.Sprintf("o-vt-k%d", i)
		orphans = append(orphans, id)
		if o := c.placeOrder(t, id, "c-vt", []Line{{"p-vt", 2}}, false); o.Status != "PENDING" {
			t.Fatalf("%s with inventory stopped = %s, want PENDING", id, o.Status)
		}
	}
	orders2.kill(t)
	for _, id := range orphans {
		o := c.waitStatus(t, id, "FAILED", splitSettleTimeout)
		if !reflect.DeepEqual(o.FailureReasons, []string{"VALIDATION_TIMEOUT"}) {
			t.Errorf("%s failed with %v, want [VALIDATION_TIMEOUT]", id, o.FailureReasons)
		}
		if got := eventTypes(c.events(t, "order-"+id)); !reflect.DeepEqual(got, []string{"OrderPlaced", "OrderFailed"}) {
			t.Errorf("order-%s = %v, want [OrderPlaced OrderFailed]", id, got)
		}
	}
	ids = append(ids, orphans...)
	t.Logf("VALIDATION_TIMEOUT expiries of api after orders-2 was killed: %v", c.expiries(t, "VALIDATION_TIMEOUT"))

	// Inventory comes back: it reserves for the orders it had not seen, then releases them.
	s.restart("inventory")
	eventually(t, splitSettleTimeout, func() (bool, string) {
		stock := c.events(t, "stock-p-vt")
		for _, id := range ids {
			var seen []string
			for _, e := range stock {
				if slices.Contains([]string{"StockReserved", "StockReleased"}, e.Type) && namesOrder(e.Data, id) {
					seen = append(seen, e.Type)
				}
			}
			if !reflect.DeepEqual(seen, []string{"StockReserved", "StockReleased"}) {
				return false, fmt.Sprintf("stock-p-vt for %s: %v, want a late reservation released", id, seen)
			}
		}
		return true, ""
	})
	c.waitStock(t, "p-vt", 100, 1)
	if o := c.mustOrder(t, "o-vt-ok"); o.Status != "VALIDATED" {
		t.Errorf("o-vt-ok = %s, want VALIDATED (its payment deadline is a day)", o.Status)
	}
	s.verify()
	s.checkNoErrorsLogged()
}

// namesOrder says an event's JSON data names the order.
func namesOrder(data, orderID string) bool {
	return strings.Contains(data, `"orderId":"`+orderID+`"`)
}
