// Package fraud owns the fraud check: a customer's orders placed within a
// trailing window may not add up to more than a limit. Every placed order
// counts, failed or not, because attempts are what fraud looks like. A
// customer's checks are recorded in the stream fraud-<customerId>.
package fraud

import (
	"encoding/json"
	"math"
	"time"

	"orderflow/domain/bounds"
	"orderflow/domain/order"
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

// CheckResult is the order's fraud validation passed.
func (e FraudCheckPassed) CheckResult() (string, order.CheckResult) {
	return e.OrderID, order.CheckResult{Check: order.CheckFraud, Passed: true}
}

// CheckResult is the order's fraud validation failed.
func (e FraudCheckFailed) CheckResult() (string, order.CheckResult) {
	return e.OrderID, order.CheckResult{Check: order.CheckFraud, Reason: e.Reason}
}

// Rule is the configured limit over the trailing window.
type Rule struct {
	LimitCents int64
	Window     time.Duration
}

// Retention is how far behind the newest order checked a history keeps
// orders: the window, and a margin of one more window for checks that
// arrive out of placement order. placeOrder stamps placedAt before its
// append waits for the group commit, so two placements of one customer can
// reach the log (and fraud, which reads it in order) the other way round,
// by as long as an append takes: milliseconds, seconds under overload, more
// if the clock steps back. An order placed up to one window before the
// newest is still decided from memory; an older one, or a redelivery of one
// forgotten, is decided against the whole stream (see Covers), so the
// margin only saves reads, never correctness.
func (r Rule) Retention() time.Duration { return 2 * r.Window }

type checked struct {
	orderID    string
	placedAt   int64 // unix nanoseconds
	totalCents int64
}

// History is the orders already checked for one customer that a check may
// still need, in placement order. Forget keeps it to the retention, so its
// size follows the customer's orders in the last two windows, not all their
// orders ever.
type History struct {
	orders []checked
	// horizon is the placement time before which orders were forgotten;
	// 0 when none were.
	horizon int64
}

// Clone returns a copy that shares nothing with h.
func (h History) Clone() History {
	h.orders = append([]checked(nil), h.orders...)
	return h
}

// Evolve applies one event (in place: a History belongs to one fold). An
// order already held, or placed before the horizon, changes nothing.
func (h History) Evolve(e Event) History {
	var c checked
	switch e := e.(type) {
	case FraudCheckPassed:
		c = checked{e.OrderID, e.PlacedAt.UnixNano(), counted(e.TotalCents)}
	case FraudCheckFailed:
		c = checked{e.OrderID, e.PlacedAt.UnixNano(), counted(e.TotalCents)}
	default:
		return h
	}
	if h.Checked(c.orderID) || (h.horizon != 0 && c.placedAt < h.horizon) {
		return h
	}
	// Checks come almost always in placement order: look from the end.
	i := len(h.orders)
	for i > 0 && h.orders[i-1].placedAt > c.placedAt {
		i--
	}
	h.orders = append(h.orders, checked{})
	copy(h.orders[i+1:], h.orders[i:])
	h.orders[i] = c
	return h
}

// Forget drops the orders placed more than keep before the newest one held
// and moves the horizon there (in place, like Evolve).
func (h History) Forget(keep time.Duration) History {
	if len(h.orders) == 0 {
		return h
	}
	cut := h.orders[len(h.orders)-1].placedAt - int64(keep)
	if cut <= h.horizon {
		return h
	}
	h.horizon = cut
	i := 0
	for i < len(h.orders) && h.orders[i].placedAt < cut {
		i++
	}
	if i > 0 {
		n := copy(h.orders, h.orders[i:])
		clear(h.orders[n:]) // let the forgotten order ids go
		h.orders = h.orders[:n]
	}
	if cap(h.orders) > 2*len(h.orders)+4 {
		// A burst of orders grew it: a million customers' histories should
		// not keep their peak capacity for ever.
		h.orders = append([]checked(nil), h.orders...)
	}
	return h
}

// Covers says whether h still holds every order the check of an order
// placed at placedAt needs: all those placed in its window, and the order
// itself if it was checked. When it does not, the check must be decided
// against the customer's whole stream.
func (h History) Covers(r Rule, placedAt time.Time) bool {
	return h.horizon == 0 || placedAt.UnixNano()-int64(r.Window) >= h.horizon
}

// Check decides one order: the sum of the customer's orders placed within
// the trailing window that ends at this order's placement (this one
// included) must not exceed the limit. Orders placed later do not count
// even when they were checked first, so the answer does not depend on the
// order in which checks run. An order already checked records nothing. h
// must cover the order's placement (Covers).
func Check(h History, r Rule, customerID, orderID string, placedAt time.Time, totalCents int64) []Event {
	if h.Checked(orderID) {
		return nil
	}
	sum := counted(totalCents)
	at := placedAt.UnixNano()
	from := at - int64(r.Window)
	for _, c := range h.orders {
		if c.placedAt > from && c.placedAt <= at {
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

// Len is how many orders the history holds.
func (h History) Len() int { return len(h.orders) }

// Checked reports whether the order was checked already.
func (h History) Checked(orderID string) bool {
	for _, c := range h.orders {
		if c.orderID == orderID {
			return true
		}
	}
	return false
}

// historySnapshot is History as a snapshot carries it: a context's
// changelog (split into services) holds each customer's history in this
// form.
type historySnapshot struct {
	Orders  []checkedSnapshot `json:"orders,omitempty"`
	Horizon int64             `json:"horizon,omitempty"`
}

type checkedSnapshot struct {
	OrderID    string `json:"orderId"`
	PlacedAt   int64  `json:"placedAt"`
	TotalCents int64  `json:"totalCents"`
}

// MarshalJSON encodes the history.
func (h History) MarshalJSON() ([]byte, error) {
	snap := historySnapshot{Horizon: h.horizon, Orders: make([]checkedSnapshot, len(h.orders))}
	for i, c := range h.orders {
		snap.Orders[i] = checkedSnapshot{OrderID: c.orderID, PlacedAt: c.placedAt, TotalCents: c.totalCents}
	}
	return json.Marshal(snap)
}

// UnmarshalJSON decodes what MarshalJSON encoded.
func (h *History) UnmarshalJSON(b []byte) error {
	var snap historySnapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return err
	}
	*h = History{horizon: snap.Horizon, orders: make([]checked, len(snap.Orders))}
	for i, c := range snap.Orders {
		h.orders[i] = checked{orderID: c.OrderID, placedAt: c.PlacedAt, totalCents: c.TotalCents}
	}
	return nil
}
