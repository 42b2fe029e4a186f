package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// TestPaymentBeforeValidation pays orders right after placing them, usually while they are still
// PENDING. A held payment is applied once the order validates; an order that fails is never paid;
// each accepted payment is recorded once.
func TestPaymentBeforeValidation(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	c.registerCustomer(t, "c-pay", "Hal", "hal@example.com", "8 Eighth St")
	c.upsertProduct(t, "p", "Thing", 100)
	c.addStock(t, "p", 3)

	const orders = 6 // 3 units for 6 one-unit orders: 3 validate, 3 fail
	accepted := map[string]bool{}
	pendingAtPayment := 0
	for i := 0; i < orders; i++ {
		id := fmt.Sprintf("o-pay-%d", i)
		o := c.placeOrder(t, id, "c-pay", []Line{{"p", 1}}, false)
		resp, err := c.exec(context.Background(), payOrderMutation, map[string]any{"id": id, "amt": o.TotalCents})
		if err != nil {
			t.Fatalf("payOrder(%s): %v", id, err)
		}
		if len(resp.Errors) > 0 {
			// Only an order that already failed may refuse the payment.
			if resp.Errors[0].code() != "CONFLICT" {
				t.Errorf("payOrder(%s): %s", id, resp.Body)
			}
			continue
		}
		var out struct{ PayOrder Order }
		if err := json.Unmarshal(resp.Data, &out); err != nil {
			t.Fatal(err)
		}
		// The order may move on while the payment is recorded, so any state up to PAID (or the
		// FAILED a held payment cannot prevent) is a fair answer; the final states are checked below.
		switch out.PayOrder.Status {
		case "PENDING":
			pendingAtPayment++
		case "VALIDATED", "PAID", "FAILED":
		default:
			t.Errorf("payOrder(%s) returned status %s", id, out.PayOrder.Status)
		}
		accepted[id] = true
	}
	t.Logf("%d of %d payments accepted, %d of them while the order was PENDING", len(accepted), orders, pendingAtPayment)

	paid, failed := 0, 0
	for i := 0; i < orders; i++ {
		id := fmt.Sprintf("o-pay-%d", i)
		var o Order
		eventually(t, settleTimeout, func() (bool, string) {
			o = c.mustOrder(t, id)
			return o.Status == "PAID" || o.Status == "FAILED" || (o.Status == "VALIDATED" && !accepted[id]),
				fmt.Sprintf("order %s is %s (payment accepted: %v)", id, o.Status, accepted[id])
		})
		types := eventTypes(c.events(t, "order-"+id))
		payments := eventTypes(c.events(t, "payment-"+id))
		switch o.Status {
		case "PAID":
			paid++
			if want := []string{"OrderPlaced", "OrderValidated", "OrderPaid"}; !reflect.DeepEqual(types, want) {
				t.Errorf("order-%s events %v, want %v", id, types, want)
			}
			if want := []string{"PaymentReceived"}; !reflect.DeepEqual(payments, want) {
				t.Errorf("payment-%s events %v, want %v", id, payments, want)
			}
		case "FAILED":
			failed++
			for _, ty := range types {
				if ty == "OrderPaid" {
					t.Errorf("failed order %s has an OrderPaid event: %v", id, types)
				}
			}
			if len(payments) > 1 {
				t.Errorf("payment-%s events %v, want at most one PaymentReceived", id, payments)
			}
		default:
			t.Errorf("order %s validated but its payment was refused", id)
		}
	}
	if paid != 3 || failed != 3 {
		t.Errorf("%d PAID and %d FAILED, want 3 and 3", paid, failed)
	}
	c.waitStock(t, "p", 3, 3)
	if n := len(c.allOrders(t, "c-pay", "PAID", 20)); n != paid {
		t.Errorf("orders(status: PAID) lists %d, want %d", n, paid)
	}
}
