// Package order owns the order aggregate: placement with its input rules,
// the outcome of validation, payment, shipping and cancellation. An order's
// stream is order-<id>, and its only writer is the orders context (the
// command handlers and the validation process manager).
package order

import (
	"fmt"
	"strings"
	"time"

	"orderflow/domain/bounds"
	"orderflow/domain/fault"
)

// Limits of one order. MaxTotalCents is MaxLines lines of MaxQuantity units
// at the catalog's highest price (1,000,000,000 cents): no order placed
// within the bounds costs more, and a price recorded before prices were
// bounded cannot make a total wrap.
const (
	MaxLines            = 100
	MinQuantity         = 1
	MaxQuantity         = 1000
	MaxTotalCents int64 = MaxLines * MaxQuantity * 1_000_000_000
)

// Status is where an order is in its lifecycle.
type Status string

const (
	Pending   Status = "PENDING"
	Validated Status = "VALIDATED"
	Failed    Status = "FAILED"
	Paid      Status = "PAID"
	Shipped   Status = "SHIPPED"
	Cancelled Status = "CANCELLED"
)

var (
	ErrBlankID       = fault.Invalidf("order id must not be blank")
	ErrBlankCustomer = fault.Invalidf("customerId must not be blank")
	ErrNoLines       = fault.Invalidf("an order needs at least one line")
	ErrTooManyLines  = fault.Invalidf("an order has at most %d lines", MaxLines)
	ErrTotalTooLarge = fault.Invalidf("the order total would exceed %d cents", MaxTotalCents)
	ErrAlreadyPlaced = fault.Conflictf("order id is already used by a different order")
	ErrNotFound      = fault.NotFoundf("order not found")
)

// StreamID is the stream that holds an order's events.
func StreamID(orderID string) string { return "order-" + orderID }

// Line is one product on an order, priced at placement.
type Line struct {
	ProductID      string `json:"productId"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unitPriceCents"`
}

// RequestedLine is a line as the customer asks for it.
type RequestedLine struct {
	ProductID string
	Quantity  int
}

// Order is the state of one order, rebuilt from its events.
type Order struct {
	ID         string
	CustomerID string
	Status     Status
	Lines      []Line
	TotalCents int64
	PlacedAt   time.Time
	// ValidatedAt is when it was validated, zero when it was not (or was,
	// by a version 1 OrderValidated that did not say when).
	ValidatedAt time.Time
	PaymentID   string
}

// Exists reports whether the order was placed.
func (o Order) Exists() bool { return o.Status != "" }

// Evolve applies one event.
func (o Order) Evolve(e Event) Order {
	switch e := e.(type) {
	case OrderPlaced:
		o.ID, o.CustomerID, o.Lines, o.TotalCents, o.PlacedAt = e.OrderID, e.CustomerID, e.Lines, e.TotalCents, e.PlacedAt
	case OrderValidated:
		o.ValidatedAt = e.ValidatedAt
	case OrderPaid:
		o.PaymentID = e.PaymentID
	}
	if s, ok := StatusAfter(e); ok {
		o.Status = s
	}
	return o
}

// Place checks a new order against the rules and prices it from the catalog
// copy (product id → unit price in cents). Placing an id that exists is a
// safe retry when the customer and lines are identical (nothing recorded),
// and a conflict otherwise.
func Place(o Order, id, customerID string, lines []RequestedLine, prices map[string]int64, now time.Time) ([]Event, error) {
	if strings.TrimSpace(id) == "" {
		return nil, ErrBlankID
	}
	if strings.TrimSpace(customerID) == "" {
		return nil, ErrBlankCustomer
	}
	if err := bounds.CheckID("order id", id); err != nil {
		return nil, err
	}
	if err := bounds.CheckID("customerId", customerID); err != nil {
		return nil, err
	}
	if o.Exists() {
		if o.sameRequest(customerID, lines) {
			return nil, nil
		}
		return nil, ErrAlreadyPlaced
	}
	if len(lines) == 0 {
		return nil, ErrNoLines
	}
	if len(lines) > MaxLines {
		return nil, ErrTooManyLines
	}
	seen := make(map[string]bool, len(lines))
	priced := make([]Line, 0, len(lines))
	var total int64
	for i, l := range lines {
		if err := bounds.CheckID(fmt.Sprintf("line %d: productId", i+1), l.ProductID); err != nil {
			return nil, err
		}
		switch {
		case l.Quantity < MinQuantity || l.Quantity > MaxQuantity:
			return nil, fault.Invalidf("line %d: quantity must be between %d and %d, got %d", i+1, MinQuantity, MaxQuantity, l.Quantity)
		case seen[l.ProductID]:
			return nil, fault.Invalidf("line %d: product %q appears more than once", i+1, l.ProductID)
		}
		price, ok := prices[l.ProductID]
		if !ok {
			return nil, fault.Invalidf("line %d: unknown product %q", i+1, l.ProductID)
		}
		seen[l.ProductID] = true
		priced = append(priced, Line{ProductID: l.ProductID, Quantity: l.Quantity, UnitPriceCents: price})
		// The catalog copy may hold a price recorded before prices were
		// bounded: check the arithmetic rather than let the total wrap.
		lineTotal, ok := bounds.Mul(int64(l.Quantity), price)
		if ok {
			total, ok = bounds.Add(total, lineTotal)
		}
		if !ok || total > MaxTotalCents {
			return nil, ErrTotalTooLarge
		}
	}
	return []Event{OrderPlaced{OrderID: id, CustomerID: customerID, Lines: priced, TotalCents: total, PlacedAt: now.UTC()}}, nil
}

func (o Order) sameRequest(customerID string, lines []RequestedLine) bool {
	if o.CustomerID != customerID || len(o.Lines) != len(lines) {
		return false
	}
	for i, l := range lines {
		if o.Lines[i].ProductID != l.ProductID || o.Lines[i].Quantity != l.Quantity {
			return false
		}
	}
	return true
}

// Ship records that a PAID order left the warehouse.
func Ship(o Order) ([]Event, error) {
	switch {
	case !o.Exists():
		return nil, ErrNotFound
	case o.Status != Paid:
		return nil, fault.Conflictf("order is %s: only a PAID order can be shipped", o.Status)
	}
	return []Event{OrderShipped{OrderID: o.ID, Lines: o.Lines}}, nil
}

// Cancel stops an order that has not shipped, failed or been cancelled.
func Cancel(o Order, reason string) ([]Event, error) {
	if !o.Exists() {
		return nil, ErrNotFound
	}
	switch o.Status {
	case Pending, Validated, Paid:
		return []Event{OrderCancelled{OrderID: o.ID, Reason: strings.TrimSpace(reason), Lines: o.Lines}}, nil
	}
	return nil, fault.Conflictf("order is %s: only a PENDING, VALIDATED or PAID order can be cancelled", o.Status)
}

// CanBePaid says whether a payment for this order may be taken now. A
// PENDING order may be paid: the payment is held until it validates.
func CanBePaid(o Order) error {
	if !o.Exists() {
		return ErrNotFound
	}
	switch o.Status {
	case Pending, Validated:
		return nil
	}
	return fault.Conflictf("order is %s: it cannot be paid", o.Status)
}
