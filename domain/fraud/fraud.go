// Package fraud owns the fraud check: a customer's orders placed within a
// trailing window may not add up to more than a limit. Every placed order
// counts, failed or not, because attempts are what fraud looks like. A
// customer's checks are recorded in the stream fraud-<customerId>.
package fraud

import (
	"math"
	"time"

	"orderflow/domain/bounds"
)

// ReasonLimitExceeded is the failure code of the fraud validation.
const ReasonLimitExceeded = "FRAUD_LIMIT_EXCEEDED"

// Defaults of the rule, both configurable.
const (
	DefaultLimitCents int64 = 200000
	DefaultWindow           = time.Hour
)

// StreamID is the stream of one customer's fraud checks.
func StreamID(customerID string) string { return "fraud-" + customerID }

// Event is any event of a fraud stream.
type Event interface{ EventType() string }

// FraudCheckPassed records a checked order within the limit.
type FraudCheckPassed struct {
	CustomerID       string    `json:"customerId"`
	OrderID          string    `json:"orderId"`
	PlacedAt         time.Time `json:"placedAt"`
	TotalCents       int64     `json:"totalCents"`
	WindowTotalCents int64     `json:"windowTotalCents"`
}

// FraudCheckFailed records a checked order that took the window over the limit.
type FraudCheckFailed struct {
	CustomerID       string    `json:"customerId"`
	OrderID          string    `json:"orderId"`
	PlacedAt         time.Time `json:"placedAt"`
	TotalCents       int64     `json:"totalCents"`
	WindowTotalCents int64     `json:"windowTotalCents"`
	LimitCents       int64     `json:"limitCents"`
	Reason           string    `json:"reason"`
}

func (FraudCheckPassed) EventType() string { return "FraudCheckPassed" }
func (FraudCheckFailed) EventType() string { return "FraudCheckFailed" }

// Rule is the configured limit over the trailing window.
type Rule struct {
	LimitCents int64
	Window     time.Duration
}

type checked struct {
	placedAt   time.Time
	totalCents int64
}

// History is the orders already checked for one customer.
type History struct {
	orders map[string]checked
}

// Clone returns a copy that shares nothing with h.
func (h History) Clone() History {
	c := History{orders: make(map[string]checked, len(h.orders))}
	for k, v := range h.orders {
		c.orders[k] = v
	}
	return c
}

// Evolve applies one event (in place: a History belongs to one fold).
func (h History) Evolve(e Event) History {
	if h.orders == nil {
		h.orders = map[string]checked{}
	}
	switch e := e.(type) {
	case FraudCheckPassed:
		h.orders[e.OrderID] = checked{e.PlacedAt, counted(e.TotalCents)}
	case FraudCheckFailed:
		h.orders[e.OrderID] = checked{e.PlacedAt, counted(e.TotalCents)}
	}
	return h
}

// Check decides one order: the sum of the customer's orders placed within
// the trailing window that ends at this order's placement (this one
// included) must not exceed the limit. Orders placed later do not count
// even when they were checked first, so the answer does not depend on the
// order in which checks run. An order already checked records nothing.
func Check(h History, r Rule, customerID, orderID string, placedAt time.Time, totalCents int64) []Event {
	if _, done := h.orders[orderID]; done {
		return nil
	}
	sum := counted(totalCents)
	from := placedAt.Add(-r.Window)
	for _, c := range h.orders {
		if c.placedAt.After(from) && !c.placedAt.After(placedAt) {
			sum = bounds.SaturatingAdd(sum, c.totalCents)
		}
	}
	if sum > r.LimitCents {
		return []Event{FraudCheckFailed{CustomerID: customerID, OrderID: orderID, PlacedAt: placedAt,
			TotalCents: totalCents, WindowTotalCents: sum, LimitCents: r.LimitCents, Reason: ReasonLimitExceeded}}
	}
	return []Event{FraudCheckPassed{CustomerID: customerID, OrderID: orderID, PlacedAt: placedAt,
		TotalCents: totalCents, WindowTotalCents: sum}}
}

// counted is what an order's total adds to a window. Totals are bounded
// now, but the log may hold orders placed before: a total that wrapped to a
// negative number stood for more than an int64 holds, so it counts as the
// most there is, and the window sum saturates instead of wrapping. Either
// way such an order fails the check, and so does every order after it
// within the window, as they would have had the total been right.
func counted(totalCents int64) int64 {
	if totalCents < 0 {
		return math.MaxInt64
	}
	return totalCents
}

// Checked reports whether the order was checked already.
func (h History) Checked(orderID string) bool {
	_, ok := h.orders[orderID]
	return ok
}
