package order

import "time"

// Check names one of the three independent validations of a placed order.
type Check string

const (
	CheckInventory Check = "INVENTORY"
	CheckFraud     Check = "FRAUD"
	CheckCustomer  Check = "CUSTOMER"
)

// AllChecks must all pass for an order to be validated.
var AllChecks = []Check{CheckInventory, CheckFraud, CheckCustomer}

// CheckResult is what one validation said about an order. Inventory
// answers once per line (each product's stock has its own single writer),
// so its results name the product; the other checks answer once per order.
type CheckResult struct {
	Check     Check
	ProductID string // the line an inventory result is about
	Passed    bool
	Reason    string // the failure code when not passed
}

// A CheckReport is an event in which one validation answers for an order:
// the result events of inventory, fraud and the customer check each say
// which order they answer for and what they say, so that the order
// process, the orders read model and the verifier read a result the same
// way. CheckResult is the contract between the validations and the order,
// as the OrderValidation schema is in the talk.
type CheckReport interface {
	CheckResult() (orderID string, r CheckResult)
}

// ResultOf reads a validation result out of an event: the order it is
// about and what it says. ok is false for any event that is not a result.
func ResultOf(e any) (orderID string, r CheckResult, ok bool) {
	c, ok := e.(CheckReport)
	if !ok {
		return "", CheckResult{}, false
	}
	orderID, r = c.CheckResult()
	return orderID, r, true
}

// Evaluate is the aggregation rule: a PENDING order with any failed check
// fails with the first failure's reason; one whose fraud and customer
// checks passed and whose every line was reserved is validated; otherwise
// it keeps waiting. No order is validated with a line unreserved, and the
// lines reserved for an order that fails are released by inventory when it
// sees OrderFailed, so "all lines or none" holds in effect. Results never
// change an order that is no longer PENDING, so late or repeated results
// are harmless. now is when the order is validated: its payment deadline
// runs from then.
func Evaluate(o Order, results []CheckResult, now time.Time) []Event {
	if o.Status != Pending {
		return nil
	}
	passed := make(map[Check]bool, len(AllChecks))
	reserved := make(map[string]bool, len(o.Lines))
	for _, r := range results {
		if !r.Passed {
			return []Event{OrderFailed{OrderID: o.ID, Reason: r.Reason, Lines: o.Lines}}
		}
		if r.Check == CheckInventory {
			reserved[r.ProductID] = true
			continue
		}
		passed[r.Check] = true
	}
	for _, c := range AllChecks {
		if c != CheckInventory && !passed[c] {
			return nil
		}
	}
	for _, l := range o.Lines {
		if !reserved[l.ProductID] {
			return nil
		}
	}
	return []Event{OrderValidated{OrderID: o.ID, ValidatedAt: now.UTC()}}
}

// ApplyPayment turns a received payment into OrderPaid once the order is
// VALIDATED. A payment for a PENDING order is held (nothing recorded) and
// applied when the order validates; for any other status it records nothing.
func ApplyPayment(o Order, paymentID string, amountCents int64) []Event {
	if o.Status != Validated {
		return nil
	}
	return []Event{OrderPaid{OrderID: o.ID, PaymentID: paymentID, AmountCents: amountCents}}
}
