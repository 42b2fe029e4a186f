package order

import "time"

// The reasons a deadline gives: VALIDATION_TIMEOUT is the failure reason
// of an order not validated in time, PAYMENT_TIMEOUT the cancellation
// reason of one not paid in time.
const (
	ReasonValidationTimeout = "VALIDATION_TIMEOUT"
	ReasonPaymentTimeout    = "PAYMENT_TIMEOUT"
)

// Deadlines are how long an order may wait: Validation from its placement
// until it is validated, Payment from its validation until it is paid in
// full. Zero turns a deadline off.
type Deadlines struct {
	Validation time.Duration
	Payment    time.Duration
}

// Default deadlines.
const (
	DefaultValidationDeadline = time.Minute
	DefaultPaymentDeadline    = 24 * time.Hour
)

// Due is when the order's current deadline passes: its validation deadline
// while PENDING, its payment deadline while VALIDATED. ok is false when no
// deadline runs for it (any other status, or the deadline is off). An
// order validated by a version 1 OrderValidated, which did not record
// when, counts its payment deadline from its placement.
func (d Deadlines) Due(o Order) (at time.Time, ok bool) {
	switch {
	case o.Status == Pending && d.Validation > 0:
		return o.PlacedAt.Add(d.Validation), true
	case o.Status == Validated && d.Payment > 0:
		since := o.ValidatedAt
		if since.IsZero() {
			since = o.PlacedAt
		}
		return since.Add(d.Payment), true
	}
	return time.Time{}, false
}

// Expire ends an order whose deadline has passed at now: a PENDING order
// fails with VALIDATION_TIMEOUT, a VALIDATED one is cancelled with
// PAYMENT_TIMEOUT; both carry the lines, so that inventory releases what
// was reserved (a reservation that arrives later included). Anything else,
// or a deadline not yet passed, records nothing: the order's stream decides
// between an expiry and a validation or a payment racing it, whichever is
// appended first, and the other then finds the order moved on.
func Expire(o Order, d Deadlines, now time.Time) []Event {
	at, ok := d.Due(o)
	if !ok || now.Before(at) {
		return nil
	}
	if o.Status == Pending {
		return []Event{OrderFailed{OrderID: o.ID, Reason: ReasonValidationTimeout, Lines: o.Lines}}
	}
	return []Event{OrderCancelled{OrderID: o.ID, Reason: ReasonPaymentTimeout, Lines: o.Lines}}
}
