package e2e

import (
	"testing"
	"time"

	"orderflow/app"
)

// Notification mirrors the schema's Notification.
type Notification struct {
	OrderID    string `json:"orderId"`
	CustomerID string `json:"customerId"`
	Kind       string `json:"kind"`
	Email      string `json:"email"`
	Address    string `json:"address"`
	SentAt     string `json:"sentAt"`
}

func (c *client) notifications(t testing.TB, orderID string) []Notification {
	t.Helper()
	var out struct{ Notifications []Notification }
	c.do(t, `query($o: ID) { notifications(orderId: $o) { orderId customerId kind email address sentAt } }`,
		map[string]any{"o": orderID}, &out)
	return out.Notifications
}

func (c *client) waitNotification(t testing.TB, orderID string) Notification {
	t.Helper()
	var got []Notification
	eventually(t, settleTimeout, func() (bool, string) {
		got = c.notifications(t, orderID)
		return len(got) > 0, "no notification for " + orderID
	})
	return got[0]
}

// TestOrderConfirmation: a validated and paid order gets ORDER_CONFIRMED
// once, to the customer's email and address as they stood when it was sent;
// an unpaid order gets nothing; a payment held for a PENDING order confirms
// it once it validates.
func TestOrderConfirmation(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	c.registerCustomer(t, "c-n", "Nora", "nora@example.com", "1 Old Rd")
	c.upsertProduct(t, "p-n", "Lamp", 1500)
	c.addStock(t, "p-n", 20)

	o := c.placeValidated(t, "o-n", "c-n", []Line{{ProductID: "p-n", Quantity: 2}})
	c.updateCustomerAddress(t, "c-n", "2 New Rd")
	c.payOrder(t, "o-n", o.TotalCents)
	n := c.waitNotification(t, "o-n")
	if n.Kind != "ORDER_CONFIRMED" || n.CustomerID != "c-n" || n.Email != "nora@example.com" || n.Address != "2 New Rd" {
		t.Fatalf("notification = %+v, want ORDER_CONFIRMED to nora@example.com at the new address", n)
	}
	// A later move changes nothing already recorded.
	c.updateCustomerAddress(t, "c-n", "3 Later Rd")

	unpaid := c.placeValidated(t, "o-n-unpaid", "c-n", []Line{{ProductID: "p-n", Quantity: 1}})
	held := c.placeOrder(t, "o-n-held", "c-n", []Line{{ProductID: "p-n", Quantity: 1}}, false)
	c.payOrder(t, "o-n-held", held.TotalCents)
	if got := c.waitNotification(t, "o-n-held"); got.Address != "3 Later Rd" {
		t.Fatalf("notification of the held payment = %+v, want the address at that moment", got)
	}
	c.quiesce(t)

	if got := c.notifications(t, "o-n"); len(got) != 1 || got[0] != n {
		t.Fatalf("notifications of o-n = %+v, want exactly the first one, unchanged", got)
	}
	if got := c.notifications(t, unpaid.ID); len(got) != 0 {
		t.Fatalf("an unpaid order was confirmed: %+v", got)
	}
	if evs := c.events(t, "notification-o-n"); len(evs) != 1 || evs[0].Type != "NotificationSent" {
		t.Fatalf("notification stream = %+v, want one NotificationSent", evs)
	}
}

// TestOrderConfirmationJoinWindow: validation and payment further apart than
// the join window send nothing.
func TestOrderConfirmationJoinWindow(t *testing.T) {
	t.Parallel()
	c := startApp(t, func(cfg *app.Config) { cfg.JoinWindow = time.Millisecond })
	c.registerCustomer(t, "c-w", "Walt", "walt@example.com", "1 Slow Rd")
	c.upsertProduct(t, "p-w", "Clock", 900)
	c.addStock(t, "p-w", 5)
	o := c.placeValidated(t, "o-w", "c-w", []Line{{ProductID: "p-w", Quantity: 1}})
	time.Sleep(20 * time.Millisecond)
	if paid := c.payOrder(t, "o-w", o.TotalCents); paid.Status != "PAID" {
		t.Fatalf("payOrder = %+v, want PAID", paid)
	}
	c.quiesce(t)
	if got := c.notifications(t, "o-w"); len(got) != 0 {
		t.Fatalf("payment 20ms after validation with a 1ms join window was confirmed: %+v", got)
	}
}
