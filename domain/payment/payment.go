// Package payment owns payments received for orders and their refunds. An
// order is paid at most once, so a payment's stream is payment-<orderId>:
// the money taken (payOrder) and, when the order ends without being
// fulfilled, the money given back.
package payment

import (
	"orderflow/domain/fault"
)

// Bounds of a payment, in cents. The highest is the highest order total
// (order.MaxTotalCents): an order recorded before totals were bounded,
// whose total is negative or larger, cannot be paid.
const (
	MinAmountCents int64 = 1
	MaxAmountCents int64 = 100_000_000_000_000
)

var (
	ErrAlreadyPaid = fault.Conflictf("a payment for this order was already received")
	ErrBadAmount   = fault.Invalidf("amountCents must be between %d and %d", MinAmountCents, MaxAmountCents)
)

// StreamID is the stream of an order's payment.
func StreamID(orderID string) string { return "payment-" + orderID }

// Event is any event of a payment stream.
type Event interface{ EventType() string }

// PaymentReceived records money taken for an order.
type PaymentReceived struct {
	PaymentID   string `json:"paymentId"`
	OrderID     string `json:"orderId"`
	AmountCents int64  `json:"amountCents"`
}

// PaymentRefunded records the money of a payment given back because its
// order ended without being fulfilled; Reason is how it ended
// (ORDER_CANCELLED or ORDER_FAILED).
type PaymentRefunded struct {
	PaymentID   string `json:"paymentId"`
	OrderID     string `json:"orderId"`
	AmountCents int64  `json:"amountCents"`
	Reason      string `json:"reason"`
}

func (PaymentReceived) EventType() string { return "PaymentReceived" }
func (PaymentRefunded) EventType() string { return "PaymentRefunded" }

// AboutOrder names the order paid for (order.Concerning).
func (e PaymentReceived) AboutOrder() string { return e.OrderID }

// AboutOrder names the order whose payment was given back (order.Concerning).
func (e PaymentRefunded) AboutOrder() string { return e.OrderID }

// Payment is the state of an order's payment stream.
type Payment struct {
	Received      bool
	PaymentID     string
	AmountCents   int64
	Refunded      bool
	RefundedCents int64
}

// Evolve applies one event. Applying an event twice changes nothing more
// than applying it once, so a reaction that reads the stream and is then
// handed the same event again stays right.
func (p Payment) Evolve(e Event) Payment {
	switch e := e.(type) {
	case PaymentReceived:
		p.Received, p.PaymentID, p.AmountCents = true, e.PaymentID, e.AmountCents
	case PaymentRefunded:
		p.Refunded, p.RefundedCents = true, e.AmountCents
	}
	return p
}

// Receive takes a payment for an order whose total is orderTotalCents. The
// caller has already checked the order exists and may be paid.
func Receive(p Payment, paymentID, orderID string, orderTotalCents, amountCents int64) ([]Event, error) {
	if p.Received {
		return nil, ErrAlreadyPaid
	}
	if amountCents < MinAmountCents || amountCents > MaxAmountCents {
		return nil, ErrBadAmount
	}
	if amountCents != orderTotalCents {
		return nil, fault.Invalidf("amountCents must equal the order total %d, got %d", orderTotalCents, amountCents)
	}
	return []Event{PaymentReceived{PaymentID: paymentID, OrderID: orderID, AmountCents: amountCents}}, nil
}

// OrderOutcome is what payments know of the order a payment is for: still
// open (it may yet be paid, shipped or cancelled) or ended unfulfilled.
type OrderOutcome string

const (
	OrderOpen      OrderOutcome = ""
	OrderCancelled OrderOutcome = "ORDER_CANCELLED"
	OrderFailed    OrderOutcome = "ORDER_FAILED"
)

// Refund decides whether the money taken for an order goes back: it does,
// whole and once, when the order was cancelled or failed. The order's
// stream decides the outcome (cancelOrder and the order process both append
// to it with an expected version), so a payment that raced a cancel is
// refunded whether the order was PAID when it was cancelled or was
// cancelled before the payment could be applied. A payment of an open
// order, or none at all, records nothing.
func Refund(p Payment, orderID string, outcome OrderOutcome) []Event {
	if !p.Received || p.Refunded || outcome == OrderOpen {
		return nil
	}
	return []Event{PaymentRefunded{PaymentID: p.PaymentID, OrderID: orderID, AmountCents: p.AmountCents, Reason: string(outcome)}}
}
