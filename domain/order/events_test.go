package order_test

import (
	"testing"

	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/domain/payment"
)

// TestWhatAnEventSays reads every kind of event the way the order process,
// the orders read model and the verifier do: which order it is about
// (IDOf), which validation result it reports (ResultOf) and which status
// it leaves its order in (StatusAfter).
func TestWhatAnEventSays(t *testing.T) {
	const o = "o1"
	pass := func(c order.Check, productID string) *order.CheckResult {
		return &order.CheckResult{Check: c, ProductID: productID, Passed: true}
	}
	fail := func(c order.Check, productID, reason string) *order.CheckResult {
		return &order.CheckResult{Check: c, ProductID: productID, Reason: reason}
	}
	cases := []struct {
		event  any
		about  bool               // IDOf names o1
		result *order.CheckResult // what ResultOf reads, nil for none
		status order.Status       // what StatusAfter says, "" for none
	}{
		// The order's own events: about it, each leaving it in a status.
		{event: order.OrderPlaced{OrderID: o, CustomerID: "c1"}, about: true, status: order.Pending},
		{event: order.OrderValidated{OrderID: o}, about: true, status: order.Validated},
		{event: order.OrderFailed{OrderID: o, Reason: "FRAUD_LIMIT_EXCEEDED"}, about: true, status: order.Failed},
		{event: order.OrderPaid{OrderID: o, PaymentID: "pay1", AmountCents: 100}, about: true, status: order.Paid},
		{event: order.OrderShipped{OrderID: o}, about: true, status: order.Shipped},
		{event: order.OrderCancelled{OrderID: o, Reason: "r"}, about: true, status: order.Cancelled},

		// The validation results: about the order they answer for.
		{event: inventory.StockReserved{ProductID: "p1", OrderID: o, Quantity: 2}, about: true,
			result: pass(order.CheckInventory, "p1")},
		{event: inventory.StockReservationRejected{ProductID: "p2", OrderID: o, Requested: 3, Available: 1, Shortfall: 2, Reason: inventory.ReasonInsufficientStock}, about: true,
			result: fail(order.CheckInventory, "p2", inventory.ReasonInsufficientStock)},
		{event: fraud.FraudCheckPassed{CustomerID: "c1", OrderID: o, TotalCents: 100}, about: true,
			result: pass(order.CheckFraud, "")},
		{event: fraud.FraudCheckFailed{CustomerID: "c1", OrderID: o, Reason: fraud.ReasonLimitExceeded}, about: true,
			result: fail(order.CheckFraud, "", fraud.ReasonLimitExceeded)},
		{event: customercheck.CustomerCheckPassed{OrderID: o, CustomerID: "c1"}, about: true,
			result: pass(order.CheckCustomer, "")},
		{event: customercheck.CustomerCheckFailed{OrderID: o, CustomerID: "c1", Reason: customercheck.ReasonUnknownCustomer}, about: true,
			result: fail(order.CheckCustomer, "", customercheck.ReasonUnknownCustomer)},

		// The payment's events are about the order paid for.
		{event: payment.PaymentReceived{PaymentID: "pay1", OrderID: o, AmountCents: 100}, about: true},
		{event: payment.PaymentRefunded{PaymentID: "pay1", OrderID: o, AmountCents: 100, Reason: "ORDER_CANCELLED"}, about: true},

		// What inventory does after the outcome (the order takes nothing
		// from it), and everything else, is about no order.
		{event: inventory.StockReleased{ProductID: "p1", OrderID: o, Quantity: 2}},
		{event: inventory.StockCommitted{ProductID: "p1", OrderID: o, Quantity: 2}},
		{event: inventory.StockAdded{ProductID: "p1", Quantity: 5}},
		{event: nil},
	}
	for _, c := range cases {
		id, ok := order.IDOf(c.event)
		if ok != c.about || (ok && id != o) || (!ok && id != "") {
			t.Errorf("IDOf(%T) = %q, %v; want about %s: %v", c.event, id, ok, o, c.about)
		}
		id, r, ok := order.ResultOf(c.event)
		switch {
		case c.result == nil && (ok || id != "" || r != order.CheckResult{}):
			t.Errorf("ResultOf(%T) = %q, %+v, %v; want no result", c.event, id, r, ok)
		case c.result != nil && (!ok || id != o || r != *c.result):
			t.Errorf("ResultOf(%T) = %q, %+v, %v; want %s, %+v", c.event, id, r, ok, o, *c.result)
		}
		s, ok := order.StatusAfter(c.event)
		if s != c.status || ok != (c.status != "") {
			t.Errorf("StatusAfter(%T) = %q, %v; want %q", c.event, s, ok, c.status)
		}
	}
}
