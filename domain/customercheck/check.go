// Package customercheck owns the customer validation of an order: the
// customer must be registered. Its result for an order is recorded in the
// stream customercheck-<orderId>, written once.
package customercheck

import "orderflow/domain/order"

// ReasonUnknownCustomer is the failure code of the customer validation.
const ReasonUnknownCustomer = "UNKNOWN_CUSTOMER"

// StreamID is the stream of one order's customer check.
func StreamID(orderID string) string { return "customercheck-" + orderID }

// Event is any event of a customer check stream.
type Event interface{ EventType() string }

// CustomerCheckPassed says the order's customer is registered.
type CustomerCheckPassed struct {
	OrderID    string `json:"orderId"`
	CustomerID string `json:"customerId"`
}

// CustomerCheckFailed says the order's customer is not registered.
type CustomerCheckFailed struct {
	OrderID    string `json:"orderId"`
	CustomerID string `json:"customerId"`
	Reason     string `json:"reason"`
}

func (CustomerCheckPassed) EventType() string { return "CustomerCheckPassed" }
func (CustomerCheckFailed) EventType() string { return "CustomerCheckFailed" }

// CheckResult is the order's customer validation passed.
func (e CustomerCheckPassed) CheckResult() (string, order.CheckResult) {
	return e.OrderID, order.CheckResult{Check: order.CheckCustomer, Passed: true}
}

// CheckResult is the order's customer validation failed.
func (e CustomerCheckFailed) CheckResult() (string, order.CheckResult) {
	return e.OrderID, order.CheckResult{Check: order.CheckCustomer, Reason: e.Reason}
}

// Check decides the customer validation of an order. done is true when the
// order was checked before, and then nothing is recorded.
func Check(done bool, orderID, customerID string, registered bool) []Event {
	switch {
	case done:
		return nil
	case registered:
		return []Event{CustomerCheckPassed{OrderID: orderID, CustomerID: customerID}}
	}
	return []Event{CustomerCheckFailed{OrderID: orderID, CustomerID: customerID, Reason: ReasonUnknownCustomer}}
}
