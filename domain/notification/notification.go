// Package notification owns the messages sent to customers (the talk's
// email service). Sending is recording: an order's confirmation is kept in
// the stream notification-<orderId>, written once.
package notification

import "time"

// KindOrderConfirmed is the confirmation of a validated and paid order.
const KindOrderConfirmed = "ORDER_CONFIRMED"

// DefaultJoinWindow is how far apart validation and payment may be for the
// confirmation to be sent.
const DefaultJoinWindow = time.Hour

// StreamID is the stream of an order's notifications.
func StreamID(orderID string) string { return "notification-" + orderID }

// Event is any event of a notification stream.
type Event interface{ EventType() string }

// NotificationSent records a message sent to a customer, with the email and
// address it went to as they stood when it was sent.
type NotificationSent struct {
	OrderID    string    `json:"orderId"`
	CustomerID string    `json:"customerId"`
	Kind       string    `json:"kind"`
	Email      string    `json:"email"`
	Address    string    `json:"address"`
	SentAt     time.Time `json:"sentAt"`
}

func (NotificationSent) EventType() string { return "NotificationSent" }

// Recipient is the customer as the notifications context knows them now.
type Recipient struct {
	CustomerID string
	Email      string
	Address    string
}

// Facts are what the order's confirmation depends on. A nil time means the
// event has not happened (yet).
type Facts struct {
	AlreadySent bool
	ValidatedAt *time.Time
	PaidAt      *time.Time
	// PaymentMatches says the payment's amount is the order's total.
	PaymentMatches bool
	Recipient      *Recipient // nil when the customer is unknown
}

// ConfirmOrder sends ORDER_CONFIRMED once, when the order was validated and
// a matching payment received no further apart than the join window, in
// whichever order they came.
func ConfirmOrder(orderID string, f Facts, window time.Duration, now time.Time) []Event {
	switch {
	case f.AlreadySent, f.ValidatedAt == nil, f.PaidAt == nil, !f.PaymentMatches, f.Recipient == nil:
		return nil
	}
	gap := f.PaidAt.Sub(*f.ValidatedAt)
	if gap < 0 {
		gap = -gap
	}
	if gap > window {
		return nil
	}
	return []Event{NotificationSent{
		OrderID: orderID, CustomerID: f.Recipient.CustomerID, Kind: KindOrderConfirmed,
		Email: f.Recipient.Email, Address: f.Recipient.Address, SentAt: now.UTC(),
	}}
}
