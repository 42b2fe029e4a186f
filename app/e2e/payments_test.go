package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
)

// TestPaymentBeforeValidation pays orders right after placing them, usually while they are still
// PENDING. A held payment is applied once the order validates; an order that fails is never paid,
// and a payment held for it is refunded; each accepted payment is recorded once.
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
			// A payment held for an order that failed is given back.
			want := []string{}
			if len(payments) > 0 {
				o = c.refunded(t, id)
				want = []string{"PaymentReceived", "PaymentRefunded"}
			}
			if payments := eventTypes(c.events(t, "payment-"+id)); !reflect.DeepEqual(payments, want) && !(len(payments) == 0 && len(want) == 0) {
				t.Errorf("payment-%s events %v, want %v", id, payments, want)
			}
			if o.RefundedCents != o.PaidCents {
				t.Errorf("failed order %s: paid %d, refunded %d; want all of it back", id, o.PaidCents, o.RefundedCents)
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

// refunded waits until the order shows a refund and returns it.
func (c *client) refunded(t testing.TB, id string) Order {
	t.Helper()
	var o Order
	eventually(t, settleTimeout, func() (bool, string) {
		o = c.mustOrder(t, id)
		return o.RefundedCents > 0, fmt.Sprintf("order %s is %s, paid %d, refunded %d", id, o.Status, o.PaidCents, o.RefundedCents)
	})
	return o
}

// TestRefundAfterCancel cancels a PAID order: the payments context gives the amount paid back,
// once, and the order shows both.
func TestRefundAfterCancel(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	c.registerCustomer(t, "c-refund", "Ida", "ida@example.com", "9 Ninth St")
	c.upsertProduct(t, "p-refund", "Lamp", 1250)
	c.addStock(t, "p-refund", 5)
	o := c.placeValidated(t, "o-refund", "c-refund", []Line{{"p-refund", 2}})
	if o.PaidCents != 0 || o.RefundedCents != 0 {
		t.Fatalf("validated order paid %d, refunded %d; want 0 and 0", o.PaidCents, o.RefundedCents)
	}
	c.payOrder(t, "o-refund", o.TotalCents)
	eventually(t, settleTimeout, func() (bool, string) {
		o = c.mustOrder(t, "o-refund")
		return o.Status == "PAID", "order is " + o.Status
	})
	if o.PaidCents != 2500 || o.RefundedCents != 0 {
		t.Fatalf("PAID order paid %d, refunded %d; want 2500 and 0", o.PaidCents, o.RefundedCents)
	}
	if got := c.cancelOrder(t, "o-refund", "changed my mind"); got.Status != "CANCELLED" {
		t.Fatalf("cancelOrder answered %s, want CANCELLED", got.Status)
	}
	o = c.refunded(t, "o-refund")
	if o.Status != "CANCELLED" || o.PaidCents != 2500 || o.RefundedCents != 2500 {
		t.Fatalf("order after cancel = %s, paid %d, refunded %d; want CANCELLED, 2500, 2500", o.Status, o.PaidCents, o.RefundedCents)
	}
	c.quiesce(t)
	evs := c.events(t, "payment-o-refund")
	if got, want := eventTypes(evs), []string{"PaymentReceived", "PaymentRefunded"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("payment-o-refund events %v, want %v", got, want)
	}
	var refund struct {
		AmountCents int    `json:"amountCents"`
		Reason      string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(evs[1].Data), &refund); err != nil {
		t.Fatal(err)
	}
	if refund.AmountCents != 2500 || refund.Reason != "ORDER_CANCELLED" {
		t.Errorf("PaymentRefunded = %+v, want 2500 for ORDER_CANCELLED", refund)
	}
	// The money cannot be taken again for a cancelled order.
	c.expectError(t, "CONFLICT", payOrderMutation, map[string]any{"id": "o-refund", "amt": o.TotalCents})
}

// TestPaymentRacingCancel pays and cancels validated orders at the same moment, many times. The order
// stream decides which came first; whatever it decided, every cent taken is given back exactly once
// and nothing is refunded that was not taken.
func TestPaymentRacingCancel(t *testing.T) {
	t.Parallel()
	c := startApp(t, withFraudLimit(1<<40))
	c.registerCustomer(t, "c-race", "Jo", "jo@example.com", "10 Tenth St")
	c.upsertProduct(t, "p-race", "Cup", 300)
	const tries = 40
	c.addStock(t, "p-race", tries)

	ctx := context.Background()
	accepted := map[string]bool{}
	for i := range tries {
		id := fmt.Sprintf("o-race-%d", i)
		o := c.placeValidated(t, id, "c-race", []Line{{"p-race", 1}})
		var wg sync.WaitGroup
		var pay, cancel *gqlResponse
		var payErr, cancelErr error
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			pay, payErr = c.exec(ctx, payOrderMutation, map[string]any{"id": id, "amt": o.TotalCents})
		})
		wg.Go(func() {
			<-start
			cancel, cancelErr = c.exec(ctx, cancelOrderMutation, map[string]any{"id": id, "reason": "race"})
		})
		close(start)
		wg.Wait()
		if payErr != nil || cancelErr != nil {
			t.Fatalf("%s: pay %v, cancel %v", id, payErr, cancelErr)
		}
		if len(cancel.Errors) > 0 {
			t.Fatalf("cancelOrder(%s) of a VALIDATED or PAID order refused: %s", id, cancel.Body)
		}
		switch {
		case len(pay.Errors) == 0:
			accepted[id] = true
		case pay.Errors[0].code() != "CONFLICT":
			t.Fatalf("payOrder(%s): %s", id, pay.Body)
		}
	}

	for id := range accepted {
		c.refunded(t, id)
	}
	c.quiesce(t)
	landedOnCancelled, paidThenCancelled := 0, 0
	for i := range tries {
		id := fmt.Sprintf("o-race-%d", i)
		o := c.mustOrder(t, id)
		orderEvents := eventTypes(c.events(t, "order-"+id))
		payments := eventTypes(c.events(t, "payment-"+id))
		if o.Status != "CANCELLED" {
			t.Errorf("%s is %s, want CANCELLED", id, o.Status)
		}
		if !accepted[id] {
			if len(payments) != 0 || o.PaidCents != 0 || o.RefundedCents != 0 {
				t.Errorf("%s: payment refused, yet payment stream %v, paid %d, refunded %d", id, payments, o.PaidCents, o.RefundedCents)
			}
			continue
		}
		if want := []string{"PaymentReceived", "PaymentRefunded"}; !reflect.DeepEqual(payments, want) {
			t.Errorf("%s: payment stream %v, want %v", id, payments, want)
		}
		if o.PaidCents != o.TotalCents || o.RefundedCents != o.TotalCents {
			t.Errorf("%s: paid %d, refunded %d, want both %d", id, o.PaidCents, o.RefundedCents, o.TotalCents)
		}
		if reflect.DeepEqual(orderEvents, []string{"OrderPlaced", "OrderValidated", "OrderPaid", "OrderCancelled"}) {
			paidThenCancelled++
		} else {
			landedOnCancelled++
		}
	}
	t.Logf("%d tries: %d payments refused, %d paid then cancelled, %d landed on an order cancelled before it was applied",
		tries, tries-len(accepted), paidThenCancelled, landedOnCancelled)
	// Stock is never leaked by the cancellations.
	c.waitStock(t, "p-race", tries, 0)
}
