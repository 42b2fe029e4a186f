// Package inventory owns the stock of the shop: stock on hand per product and the
// reservations held for orders. A product's stock stream is stock-<productId>
// and has one writer: every decision about a product is taken against that
// product's stock alone, one order line at a time (orders re-keyed by
// product, as in the talk). An order with several lines gets one answer per
// line; the order process validates it only when every line is reserved and
// fails it (releasing the reserved lines) when any is short.
package inventory

import (
	"encoding/json"
	"fmt"

	"orderflow/domain/bounds"
	"orderflow/domain/fault"
	"orderflow/domain/order"
)

// ReasonInsufficientStock is the failure code of the inventory validation.
const ReasonInsufficientStock = "INSUFFICIENT_STOCK"

// Bounds of stock. One addStock brings in at most MaxAddQuantity units, and
// a product never has more than MaxOnHand on hand, so that no sum of stock
// comes near the end of an int64.
const (
	MinAddQuantity       = 1
	MaxAddQuantity       = 1_000_000_000
	MaxOnHand      int64 = 1_000_000_000_000
)

var (
	// ErrBadQuantity refuses to add fewer than one unit (stock only ever
	// comes in; it leaves through reservations that are committed) or more
	// than MaxAddQuantity at once.
	ErrBadQuantity = fault.Invalidf("quantity must be between %d and %d", MinAddQuantity, MaxAddQuantity)
	// ErrOnHandLimit refuses stock that would take a product past
	// MaxOnHand. It is a conflict, not bad input: the quantity is within
	// its bounds, and the same request succeeds once less is on hand; it
	// is the product's current stock that does not allow it.
	ErrOnHandLimit = fault.Conflictf("stock on hand may not exceed %d units", MaxOnHand)
)

// StreamID is the stream that holds a product's stock events.
func StreamID(productID string) string { return "stock-" + productID }

// Event is any event of a stock stream.
type Event interface{ EventType() string }

// StockAdded puts goods on hand.
type StockAdded struct {
	ProductID string `json:"productId"`
	Quantity  int    `json:"quantity"`
}

// StockReserved holds goods for one line of an order. (Before reservations
// were decided per product, all lines of an order were recorded in one
// transaction; the events are the same.)
type StockReserved struct {
	ProductID string `json:"productId"`
	OrderID   string `json:"orderId"`
	Quantity  int    `json:"quantity"`
}

// StockReservationRejected says an order's line of this product could not be
// reserved: the product was short. Nothing was reserved for it here.
//
// Schema version 2 added Shortfall (requested - available), so that
// restocking reports need not recompute it; version 1 events are upcast.
type StockReservationRejected struct {
	ProductID string `json:"productId"`
	OrderID   string `json:"orderId"`
	Requested int    `json:"requested"`
	Available int    `json:"available"`
	Shortfall int    `json:"shortfall"`
	Reason    string `json:"reason"`
}

// StockReservationRejectedVersion is the current schema version.
const StockReservationRejectedVersion = 2

// UpcastStockReservationRejectedV1 adds shortfall to a version 1 payload.
func UpcastStockReservationRejectedV1(v1 map[string]any) (map[string]any, error) {
	requested, ok1 := v1["requested"].(float64)
	available, ok2 := v1["available"].(float64)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("StockReservationRejected v1 without numeric requested/available")
	}
	v1["shortfall"] = requested - available
	return v1, nil
}

// StockReleased gives a reservation back (order failed or cancelled).
type StockReleased struct {
	ProductID string `json:"productId"`
	OrderID   string `json:"orderId"`
	Quantity  int    `json:"quantity"`
}

// StockCommitted turns a reservation into goods gone (order shipped).
type StockCommitted struct {
	ProductID string `json:"productId"`
	OrderID   string `json:"orderId"`
	Quantity  int    `json:"quantity"`
}

func (StockAdded) EventType() string               { return "StockAdded" }
func (StockReserved) EventType() string            { return "StockReserved" }
func (StockReservationRejected) EventType() string { return "StockReservationRejected" }
func (StockReleased) EventType() string            { return "StockReleased" }
func (StockCommitted) EventType() string           { return "StockCommitted" }

// CheckResult says the order's line of this product is reserved: one of
// the answers of the inventory validation, one per line.
func (e StockReserved) CheckResult() (string, order.CheckResult) {
	return e.OrderID, order.CheckResult{Check: order.CheckInventory, ProductID: e.ProductID, Passed: true}
}

// CheckResult says the order's line of this product could not be reserved,
// which fails the order's inventory validation.
func (e StockReservationRejected) CheckResult() (string, order.CheckResult) {
	return e.OrderID, order.CheckResult{Check: order.CheckInventory, ProductID: e.ProductID, Reason: e.Reason}
}

// Stock is one product's inventory. Its sums are int64 and saturate: the
// log may hold StockAdded events from before stock was bounded (two of
// MaxInt64 were once accepted), and folding them must not wrap. A saturated
// product has far more than MaxOnHand, so nothing more can be added to it.
type Stock struct {
	ProductID string
	OnHand    int64
	Reserved  int64
	// open holds the quantity reserved per order, until released or committed.
	open map[string]int
}

// Clone returns a copy that shares nothing with s, so a cached state can be
// handed out and folded further without touching the cache.
func (s Stock) Clone() Stock {
	c := s
	c.open = make(map[string]int, len(s.open))
	for k, v := range s.open {
		c.open[k] = v
	}
	return c
}

// Available is what can still be reserved.
func (s Stock) Available() int64 { return bounds.SaturatingSub(s.OnHand, s.Reserved) }

// OpenReservation is the quantity held for an order, 0 if none.
func (s Stock) OpenReservation(orderID string) int { return s.open[orderID] }

// Evolve applies one event. It updates the reservation maps in place: a
// Stock value is owned by the one fold that rebuilds it, so earlier states
// are never looked at again.
func (s Stock) Evolve(e Event) Stock {
	if s.open == nil {
		s.open = map[string]int{}
	}
	switch e := e.(type) {
	case StockAdded:
		s.ProductID = e.ProductID
		s.OnHand = bounds.SaturatingAdd(s.OnHand, int64(e.Quantity))
	case StockReserved:
		s.ProductID = e.ProductID
		s.Reserved = bounds.SaturatingAdd(s.Reserved, int64(e.Quantity))
		s.open[e.OrderID] = e.Quantity
	case StockReservationRejected:
		s.ProductID = e.ProductID
	case StockReleased:
		s.Reserved = bounds.SaturatingSub(s.Reserved, int64(e.Quantity))
		delete(s.open, e.OrderID)
	case StockCommitted:
		s.Reserved = bounds.SaturatingSub(s.Reserved, int64(e.Quantity))
		s.OnHand = bounds.SaturatingSub(s.OnHand, int64(e.Quantity))
		delete(s.open, e.OrderID)
	}
	return s
}

// CheckAdd refuses an addStock whose input is out of bounds, whatever the
// stock: a bad product id or a quantity outside 1..MaxAddQuantity.
func CheckAdd(productID string, quantity int) error {
	if err := bounds.CheckID("productId", productID); err != nil {
		return err
	}
	if quantity < MinAddQuantity || quantity > MaxAddQuantity {
		return ErrBadQuantity
	}
	return nil
}

// Add puts goods on hand, within the bounds of one call and of the stock
// a product may hold.
func Add(s Stock, productID string, quantity int) ([]Event, error) {
	if err := CheckAdd(productID, quantity); err != nil {
		return nil, err
	}
	if s.OnHand > MaxOnHand-int64(quantity) {
		return nil, ErrOnHandLimit
	}
	return []Event{StockAdded{ProductID: productID, Quantity: quantity}}, nil
}

// ReserveLine decides one line of an order against this product's stock:
// StockReserved when what is available covers the quantity, otherwise
// StockReservationRejected with the shortfall. An order that already holds
// a reservation here records nothing (a redelivered request).
//
// A Stock does not remember rejections or released reservations, so a
// request redelivered after those would be decided afresh; the stream's
// single writer answers each order event once and drops redeliveries
// before calling this.
func ReserveLine(s Stock, productID, orderID string, quantity int) []Event {
	if s.open[orderID] > 0 {
		return nil
	}
	if available := s.Available(); available < int64(quantity) {
		return []Event{StockReservationRejected{
			ProductID: productID, OrderID: orderID, Requested: quantity,
			Available: int(available), Shortfall: quantity - int(available), Reason: ReasonInsufficientStock,
		}}
	}
	return []Event{StockReserved{ProductID: productID, OrderID: orderID, Quantity: quantity}}
}

// ReleaseLine gives back what this product holds for the order, if anything.
func ReleaseLine(s Stock, productID, orderID string) []Event {
	if q := s.open[orderID]; q > 0 {
		return []Event{StockReleased{ProductID: productID, OrderID: orderID, Quantity: q}}
	}
	return nil
}

// CommitLine turns what this product holds for the order into goods gone.
func CommitLine(s Stock, productID, orderID string) []Event {
	if q := s.open[orderID]; q > 0 {
		return []Event{StockCommitted{ProductID: productID, OrderID: orderID, Quantity: q}}
	}
	return nil
}

// CheckInvariants verifies 0 ≤ reserved ≤ onHand and that reserved is the
// sum of the open reservations.
func (s Stock) CheckInvariants() error {
	var sum int64
	for _, q := range s.open {
		sum += int64(q)
	}
	if s.Reserved < 0 || s.Reserved > s.OnHand || s.Reserved != sum {
		return fmt.Errorf("stock %s: onHand %d reserved %d open %d", s.ProductID, s.OnHand, s.Reserved, sum)
	}
	return nil
}

// stockSnapshot is Stock as a snapshot carries it: a context's changelog
// (split into services) holds each product's stock in this form.
type stockSnapshot struct {
	ProductID string         `json:"productId"`
	OnHand    int64          `json:"onHand"`
	Reserved  int64          `json:"reserved"`
	Open      map[string]int `json:"open,omitempty"`
}

// MarshalJSON encodes the stock with its open reservations.
func (s Stock) MarshalJSON() ([]byte, error) {
	return json.Marshal(stockSnapshot{ProductID: s.ProductID, OnHand: s.OnHand, Reserved: s.Reserved, Open: s.open})
}

// UnmarshalJSON decodes what MarshalJSON encoded.
func (s *Stock) UnmarshalJSON(b []byte) error {
	var snap stockSnapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return err
	}
	*s = Stock{ProductID: snap.ProductID, OnHand: snap.OnHand, Reserved: snap.Reserved, open: snap.Open}
	if s.open == nil {
		s.open = map[string]int{}
	}
	return nil
}
