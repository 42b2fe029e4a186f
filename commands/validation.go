package commands

import (
	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/events"
)

// validationResult reads a validation result out of an event: the order it
// is about and what it says. ok is false for any other event.
func validationResult(p events.Payload) (orderID string, r order.CheckResult, ok bool) {
	switch e := p.(type) {
	case inventory.StockReserved:
		return e.OrderID, order.CheckResult{Check: order.CheckInventory, ProductID: e.ProductID, Passed: true}, true
	case inventory.StockReservationRejected:
		return e.OrderID, order.CheckResult{Check: order.CheckInventory, ProductID: e.ProductID, Reason: e.Reason}, true
	case fraud.FraudCheckPassed:
		return e.OrderID, order.CheckResult{Check: order.CheckFraud, Passed: true}, true
	case fraud.FraudCheckFailed:
		return e.OrderID, order.CheckResult{Check: order.CheckFraud, Reason: e.Reason}, true
	case customercheck.CustomerCheckPassed:
		return e.OrderID, order.CheckResult{Check: order.CheckCustomer, Passed: true}, true
	case customercheck.CustomerCheckFailed:
		return e.OrderID, order.CheckResult{Check: order.CheckCustomer, Reason: e.Reason}, true
	}
	return "", order.CheckResult{}, false
}
