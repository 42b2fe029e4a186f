// Package payment owns payments received for orders. An order is paid at
// most once, so a payment's stream is payment-<orderId>.
package payment

import (
	"fmt"

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
	ErrBadAmount   = fault.Invalidf(fmt.Sprintf("amountCents must be between %d and %d", MinAmountCents, MaxAmountCents))
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

func (PaymentReceived) EventType() string { return "PaymentReceived" }

// Payment is the state of an order's payment stream.
type Payment struct {
	Received    bool
	PaymentID   string
	AmountCents int64
}

// Evolve applies one event.
func (p Payment) Evolve(e Event) Payment {
	if e, ok := e.(PaymentReceived); ok {
		p.Received, p.PaymentID, p.AmountCents = true, e.PaymentID, e.AmountCents
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
		return nil, fault.Invalidf(fmt.Sprintf("amountCents must equal the order total %d, got %d", orderTotalCents, amountCents))
	}
	return []Event{PaymentReceived{PaymentID: paymentID, OrderID: orderID, AmountCents: amountCents}}, nil
}
