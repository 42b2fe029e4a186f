package order

import "time"

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

// OrderValidated says all three validations passed.
type OrderValidated struct {
	OrderID string `json:"orderId"`
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
