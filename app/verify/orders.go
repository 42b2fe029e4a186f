package verify

import (
	"fmt"
	"strings"

	"orderflow/domain/order"
)

// Invariant 2: every placed order has exactly one validation outcome. The
// order process validates or fails an order only while it is PENDING
// (order.Evaluate), and then never again, so an order's stream holds one
// OrderValidated or OrderFailed, recorded while it was PENDING. The one
// exception the domain allows: an order cancelled while PENDING
// (order.Cancel) is never evaluated, so it has none. A cancellation after
// the outcome is fine (a VALIDATED or PAID order may be cancelled).

// orderBook is every order stream folded, by order id (the stream's key),
// with the ids in order.
type orderBook struct {
	byID map[string]*orderFacts
	ids  []string
}

// orderFacts is what the other invariants need of one order.
type orderFacts struct {
	stream string
	// placed is the OrderPlaced event; its id is "" when the stream has none.
	placed at
	// order is the order's final state, folded by the domain.
	order order.Order
	// paid are the order's OrderPaid events.
	paid []paidAt
}

type paidAt struct {
	at
	order.OrderPaid
}

// at is one event, as a report names it.
type at struct {
	stream  string
	version int64
	id      string
	typ     string
}

func atEntry(streamID string, e entry) at {
	return at{stream: streamID, version: e.version, id: e.id, typ: e.typ}
}

// String is "OrderFailed at order-o1 version 3 (event id)".
func (a at) String() string {
	return fmt.Sprintf("%s at %s version %d (%s)", a.typ, a.stream, a.version, a.id)
}

// placedOrder is the order, if it was placed.
func (b orderBook) placedOrder(id string) (*orderFacts, bool) {
	f, ok := b.byID[id]
	if !ok || f.placed.id == "" {
		return nil, false
	}
	return f, true
}

// checkOrders folds every order stream and checks invariant 2.
func (h history) checkOrders() (orderBook, []Violation) {
	book := orderBook{byID: map[string]*orderFacts{}}
	var vs []Violation
	for _, s := range h.families[order.StreamID("")] {
		f := &orderFacts{stream: s.id}
		book.byID[s.key] = f
		book.ids = append(book.ids, s.key)
		var outcomes []at
		cancelledPending := false
		for _, e := range s.entries {
			if e.payload == nil {
				continue // undecodable: reported as such
			}
			a := atEntry(s.id, e)
			switch p := e.payload.(type) {
			case order.OrderPlaced:
				if f.placed.id != "" {
					vs = append(vs, violation(fmt.Sprintf("order %s was placed twice: %s and %s", s.key, f.placed, a), f.placed, a))
				} else {
					f.placed = a
				}
			case order.OrderValidated, order.OrderFailed:
				outcomes = append(outcomes, a)
				if f.order.Status != order.Pending {
					vs = append(vs, violation(fmt.Sprintf("order %s: %s came while the order was %s; only a PENDING order is validated or failed",
						s.key, a, statusOf(f.order)), a))
				}
			case order.OrderCancelled:
				cancelledPending = cancelledPending || f.order.Status == order.Pending
			case order.OrderPaid:
				f.paid = append(f.paid, paidAt{a, p})
			}
			f.order = f.order.Evolve(e.payload)
		}
		switch {
		case f.placed.id == "" && len(s.entries) > 0:
			first := atEntry(s.id, s.entries[0])
			vs = append(vs, violation(fmt.Sprintf("order %s has events but no OrderPlaced (the first is %s)", s.key, first), first))
		case f.placed.id == "":
		case len(outcomes) == 0 && !cancelledPending:
			vs = append(vs, violation(fmt.Sprintf("order %s is not settled: %s, and no OrderValidated or OrderFailed (it is %s)",
				s.key, f.placed, statusOf(f.order)), f.placed))
		case len(outcomes) > 1:
			vs = append(vs, violation(fmt.Sprintf("order %s has %d validation outcomes: %s", s.key, len(outcomes), joinAt(outcomes)), outcomes...))
		}
	}
	return book, vs
}

// violation names the streams and events of the events given.
func violation(msg string, evs ...at) Violation {
	v := Violation{Message: msg}
	for _, a := range evs {
		v.Streams = uniq(append(v.Streams, a.stream)...)
		v.Events = append(v.Events, a.id)
	}
	return v
}

func joinAt(as []at) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}

func statusOf(o order.Order) order.Status {
	if o.Status == "" {
		return "not placed"
	}
	return o.Status
}
