package verify

import (
	"fmt"
	"slices"
	"strings"

	"orderflow/domain/inventory"
	"orderflow/domain/order"
)

// Invariant 3: stock. Each product's stream is folded by the domain's own
// inventory.Stock.Evolve, and after every event 0 ≤ reserved ≤ on hand (so on
// hand is never negative). At the end, what the product holds must be
// what the orders call for. Inventory reserves a line when the order is
// placed, releases it when the order fails or is cancelled and commits it
// when the order ships (commands/inventory.go), so in a settled history the
// orders holding a reservation are exactly the VALIDATED and PAID ones,
// each for its line's quantity. A PENDING order is still being answered and
// may hold its line or not yet (it is reported under invariant 2 anyway).
// Each order is reserved at most once per product, and a release or commit
// gives back exactly what the order held.

// holding is one order's line of a product, as the orders call for it.
type holding struct {
	orderID  string
	quantity int
	status   order.Status
	// must: the order is VALIDATED or PAID and has to hold the line; else
	// it is PENDING and may.
	must bool
}

// detailsShown bounds the orders named in one product's violation.
const detailsShown = 5

func (h history) checkStock(orders orderBook) []Violation {
	want := map[string][]holding{} // by product id
	for _, id := range orders.ids {
		f := orders.byID[id]
		st := f.order.Status
		if st != order.Validated && st != order.Paid && st != order.Pending {
			continue
		}
		for _, l := range f.order.Lines {
			want[l.ProductID] = append(want[l.ProductID], holding{orderID: id, quantity: l.Quantity, status: st, must: st != order.Pending})
		}
	}
	var vs []Violation
	seen := map[string]bool{}
	for _, s := range h.families[inventory.StreamID("")] {
		seen[s.key] = true
		vs = append(vs, checkProduct(s, want[s.key], orders)...)
	}
	// Validated orders of products that never had a stock stream.
	var missing []string
	for product, hs := range want {
		if !seen[product] && slices.ContainsFunc(hs, func(h holding) bool { return h.must }) {
			missing = append(missing, product)
		}
	}
	slices.Sort(missing)
	for _, product := range missing {
		var names []string
		var sum int64
		v := Violation{Streams: []string{inventory.StreamID(product)}}
		for _, h := range want[product] {
			if h.must {
				sum += int64(h.quantity)
				names = append(names, fmt.Sprintf("order %s (%s) %d", h.orderID, h.status, h.quantity))
				v.Streams = append(v.Streams, order.StreamID(h.orderID))
			}
		}
		v.Message = fmt.Sprintf("%s: no stock stream, but the VALIDATED and PAID orders' lines of product %s add up to %d: %s",
			inventory.StreamID(product), product, sum, capped(names))
		vs = append(vs, v)
	}
	return vs
}

// checkProduct folds one product's stock and compares it with the orders.
func checkProduct(s folded, want []holding, orders orderBook) []Violation {
	var vs []Violation
	var st inventory.Stock
	reservedAt := map[string]at{} // by order: its latest StockReserved
	var reservedOrders []string   // in the order first reserved
	var firstBad string
	var firstBadAt at
	bad := 0
	for _, e := range s.entries {
		if e.payload == nil {
			continue
		}
		a := atEntry(s.id, e)
		switch p := e.payload.(type) {
		case inventory.StockReserved:
			if q := st.OpenReservation(p.OrderID); q > 0 {
				vs = append(vs, violation(fmt.Sprintf("%s: order %s reserved twice (%d still held since %s, again %d at %s)",
					s.id, p.OrderID, q, reservedAt[p.OrderID], p.Quantity, a), reservedAt[p.OrderID], a))
			}
			if _, ok := reservedAt[p.OrderID]; !ok {
				reservedOrders = append(reservedOrders, p.OrderID)
			}
			reservedAt[p.OrderID] = a
		case inventory.StockReleased:
			vs = append(vs, givenBack(s.id, a, st, p.OrderID, p.Quantity, "released", reservedAt)...)
		case inventory.StockCommitted:
			vs = append(vs, givenBack(s.id, a, st, p.OrderID, p.Quantity, "committed", reservedAt)...)
		}
		st = st.Evolve(e.payload)
		if st.OnHand < 0 || st.Reserved < 0 || st.Reserved > st.OnHand {
			if bad == 0 {
				firstBad = fmt.Sprintf("reserved %d, on hand %d", st.Reserved, st.OnHand)
				firstBadAt = a
			}
			bad++
		}
	}
	if bad > 0 {
		vs = append(vs, violation(fmt.Sprintf("%s: %s after %s, the first of %d event(s) of the stream that leave 0 ≤ reserved ≤ on hand broken",
			s.id, firstBad, firstBadAt, bad), firstBadAt))
	}

	// What the product holds against what the orders call for.
	var problems []string
	var involved []at
	var mustSum, pendingSum int64
	wanted := map[string]bool{}
	for _, h := range want {
		wanted[h.orderID] = true
		got := st.OpenReservation(h.orderID)
		if h.must {
			mustSum += int64(h.quantity)
		} else {
			pendingSum += int64(got)
		}
		if got == h.quantity || (!h.must && got == 0) {
			continue
		}
		p := fmt.Sprintf("order %s (%s, line of %d) holds %d", h.orderID, h.status, h.quantity, got)
		if r, ok := reservedAt[h.orderID]; ok {
			p += fmt.Sprintf(" (last reserved at version %d, %s)", r.version, r.id)
			involved = append(involved, r)
		}
		problems = append(problems, p)
	}
	for _, id := range reservedOrders {
		got := st.OpenReservation(id)
		if got == 0 || wanted[id] {
			continue
		}
		status := order.Status("never placed")
		if f, ok := orders.placedOrder(id); ok {
			status = f.order.Status
		}
		r := reservedAt[id]
		problems = append(problems, fmt.Sprintf("order %s (%s) holds %d (reserved at version %d, %s)", id, status, got, r.version, r.id))
		involved = append(involved, r)
	}
	// With 0 ≤ reserved ≤ on hand at the end (else reported above), the
	// domain's own check fails only when the total is not the sum of the
	// open reservations.
	sumOff := st.Reserved >= 0 && st.Reserved <= st.OnHand && st.CheckInvariants() != nil
	if len(problems) > 0 || sumOff {
		msg := fmt.Sprintf("%s: reserved %d; the VALIDATED and PAID orders' lines of it add up to %d (PENDING orders hold %d)",
			s.id, st.Reserved, mustSum, pendingSum)
		if sumOff {
			msg += fmt.Sprintf("; the total is not the sum of the open reservations (%v)", st.CheckInvariants())
		}
		if len(problems) > 0 {
			msg += ": " + capped(problems)
		}
		v := violation(msg, involved...)
		v.Streams = uniq(append([]string{s.id}, v.Streams...)...)
		vs = append(vs, v)
	}
	return vs
}

// givenBack checks a release or commit: it gives back what the order held.
func givenBack(streamID string, a at, st inventory.Stock, orderID string, quantity int, verb string, reservedAt map[string]at) []Violation {
	held := st.OpenReservation(orderID)
	if held == quantity {
		return nil
	}
	if held == 0 {
		return []Violation{violation(fmt.Sprintf("%s: %s %d for order %s at %s, which held no reservation",
			streamID, verb, quantity, orderID, a), a)}
	}
	r := reservedAt[orderID]
	return []Violation{violation(fmt.Sprintf("%s: %s %d for order %s at %s, which held %d (reserved at %s)",
		streamID, verb, quantity, orderID, a, held, r), r, a)}
}

// capped joins the first detailsShown items and says how many more there are.
func capped(items []string) string {
	if len(items) <= detailsShown {
		return strings.Join(items, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(items[:detailsShown], "; "), len(items)-detailsShown)
}
