package order

import (
	"errors"
	"time"
)

// Event is any event of an order stream.
type Event interface{ EventType() string }

// OrderPlaced starts an order in PENDING, priced at placement.
type OrderPlaced struct {
	OrderID    string    `json:"orderId"`
	CustomerID string    `json:"customerId"`
	Lines      []Line    `json:"lines"`
	TotalCents int64     `json:"totalCents"`
	PlacedAt   time.Time `json:"placedAt"`
}

// OrderValidated says all three validations passed. ValidatedAt starts
// the payment deadline; version 1 of the event did not record it (zero
// when read back), and such an order's payment deadline runs from its
// placement (see Deadlines.Due).
type OrderValidated struct {
	OrderID     string    `json:"orderId"`
	ValidatedAt time.Time `json:"validatedAt,omitempty"`
}

// OrderValidatedVersion is the schema version of OrderValidated: 2 added
// validatedAt.
const OrderValidatedVersion = 2

// UpcastOrderValidatedV1 brings a version 1 OrderValidated to version 2:
// the time of validation was not recorded, and stays absent.
func UpcastOrderValidatedV1(v1 map[string]any) (map[string]any, error) {
	if _, ok := v1["orderId"].(string); !ok {
		return nil, errors.New("OrderValidated v1 without an orderId")
	}
	return v1, nil
}

// OrderFailed says a validation failed; Reason is the first failure's code.
// It carries the lines so that inventory can release without asking.
type OrderFailed struct {
	OrderID string `json:"orderId"`
	Reason  string `json:"reason"`
	Lines   []Line `json:"lines"`
}

// OrderPaid says a matching payment was applied to a validated order.
type OrderPaid struct {
	OrderID     string `json:"orderId"`
	PaymentID   string `json:"paymentId"`
	AmountCents int64  `json:"amountCents"`
}

// OrderShipped says the goods left; inventory commits the reservation.
type OrderShipped struct {
	OrderID string `json:"orderId"`
	Lines   []Line `json:"lines"`
}

// OrderCancelled stops the order; inventory releases the reservation.
type OrderCancelled struct {
	OrderID string `json:"orderId"`
	Reason  string `json:"reason,omitempty"`
	Lines   []Line `json:"lines"`
}

func (OrderPlaced) EventType() string    { return "OrderPlaced" }
func (OrderValidated) EventType() string { return "OrderValidated" }
func (OrderFailed) EventType() string    { return "OrderFailed" }
func (OrderPaid) EventType() string      { return "OrderPaid" }
func (OrderShipped) EventType() string   { return "OrderShipped" }
func (OrderCancelled) EventType() string { return "OrderCancelled" }

// Concerning is implemented by the events that are about one order other
// than the validation results (which are CheckReports): the order's own
// events and the payment's.
type Concerning interface {
	AboutOrder() string
}

func (e OrderPlaced) AboutOrder() string    { return e.OrderID }
func (e OrderValidated) AboutOrder() string { return e.OrderID }
func (e OrderFailed) AboutOrder() string    { return e.OrderID }
func (e OrderPaid) AboutOrder() string      { return e.OrderID }
func (e OrderShipped) AboutOrder() string   { return e.OrderID }
func (e OrderCancelled) AboutOrder() string { return e.OrderID }

// IDOf is the order an event is about: the order's own events, the
// validation results and the payment's events name one. ok is false for
// any other event, inventory's releases and commits included: they follow
// the order's outcome, and the order takes nothing from them.
func IDOf(e any) (orderID string, ok bool) {
	switch e := e.(type) {
	case Concerning:
		return e.AboutOrder(), true
	case CheckReport:
		orderID, _ = e.CheckResult()
		return orderID, true
	}
	return "", false
}

// StatusAfter is the status an order's own event leaves it in; ok is false
// for any other event. It is the lifecycle's one table: Evolve and the
// orders read model both take the status from it.
func StatusAfter(e any) (s Status, ok bool) {
	switch e.(type) {
	case OrderPlaced:
		return Pending, true
	case OrderValidated:
		return Validated, true
	case OrderFailed:
		return Failed, true
	case OrderPaid:
		return Paid, true
	case OrderShipped:
		return Shipped, true
	case OrderCancelled:
		return Cancelled, true
	}
	return "", false
}
