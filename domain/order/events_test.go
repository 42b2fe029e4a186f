package order_test

import (
	"testing"

	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/domain/payment"
)

// TestResultOf reads every kind of event the way the order process, the
// orders read model and the verifier do: which validation result it
// reports, if any.
func TestResultOf(t *testing.T) {
	const o = "o1"
	pass := func(c order.Check, productID string) *order.CheckResult {
		return &order.CheckResult{Check: c, ProductID: productID, Passed: true}
	}
	fail := func(c order.Check, productID, reason string) *order.CheckResult {
		return &order.CheckResult{Check: c, ProductID: productID, Reason: reason}
	}
	cases := []struct {
		event  any
		result *order.CheckResult // what ResultOf reads, nil for none
	}{
		// The order's own events report no result.
		{event: order.OrderPlaced{OrderID: o, CustomerID: "c1"}},
		{event: order.OrderValidated{OrderID: o}},
		{event: order.OrderFailed{OrderID: o, Reason: "FRAUD_LIMIT_EXCEEDED"}},
		{event: order.OrderPaid{OrderID: o, PaymentID: "pay1", AmountCents: 100}},
		{event: order.OrderShipped{OrderID: o}},
		{event: order.OrderCancelled{OrderID: o, Reason: "r"}},

		// The validation results.
		{event: inventory.StockReserved{ProductID: "p1", OrderID: o, Quantity: 2},
			result: pass(order.CheckInventory, "p1")},
		{event: inventory.StockReservationRejected{ProductID: "p2", OrderID: o, Requested: 3, Available: 1, Shortfall: 2, Reason: inventory.ReasonInsufficientStock},
			result: fail(order.CheckInventory, "p2", inventory.ReasonInsufficientStock)},
		{event: fraud.FraudCheckPassed{CustomerID: "c1", OrderID: o, TotalCents: 100},
			result: pass(order.CheckFraud, "")},
		{event: fraud.FraudCheckFailed{CustomerID: "c1", OrderID: o, Reason: fraud.ReasonLimitExceeded},
			result: fail(order.CheckFraud, "", fraud.ReasonLimitExceeded)},
		{event: customercheck.CustomerCheckPassed{OrderID: o, CustomerID: "c1"},
			result: pass(order.CheckCustomer, "")},
		{event: customercheck.CustomerCheckFailed{OrderID: o, CustomerID: "c1", Reason: customercheck.ReasonUnknownCustomer},
			result: fail(order.CheckCustomer, "", customercheck.ReasonUnknownCustomer)},

		// Neither do the payment's events,
		{event: payment.PaymentReceived{PaymentID: "pay1", OrderID: o, AmountCents: 100}},
		{event: payment.PaymentRefunded{PaymentID: "pay1", OrderID: o, AmountCents: 100, Reason: "ORDER_CANCELLED"}},

		// nor what inventory does after the outcome, nor anything else.
		{event: inventory.StockReleased{ProductID: "p1", OrderID: o, Quantity: 2}},
		{event: inventory.StockCommitted{ProductID: "p1", OrderID: o, Quantity: 2}},
		{event: inventory.StockAdded{ProductID: "p1", Quantity: 5}},
		{event: nil},
	}
	for _, c := range cases {
		id, r, ok := order.ResultOf(c.event)
		switch {
		case c.result == nil && (ok || id != "" || r != order.CheckResult{}):
			t.Errorf("ResultOf(%T) = %q, %+v, %v; want no result", c.event, id, r, ok)
		case c.result != nil && (!ok || id != o || r != *c.result):
			t.Errorf("ResultOf(%T) = %q, %+v, %v; want %s, %+v", c.event, id, r, ok, o, *c.result)
		}
	}
}
