package verify

import (
	"fmt"
	"slices"

	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
)

// Invariant 4: every placed order's fraud check and customer check are
// answered exactly once. Both react to OrderPlaced alone, whatever happens
// to the order afterwards (a cancelled order is checked too), and each
// result names its order in its orderId: fraud results are in the
// customer's stream fraud-<customerId>, customer check results in
// customercheck-<orderId>. A result for an order never placed is broken
// as well.

// check is one of the two checks: the family its results are in and what
// the report calls it.
type check struct {
	prefix string
	name   string
	// orderOf is the order a result is about, ok false for other events.
	orderOf func(any) (string, bool)
}

var answeredChecks = []check{
	{prefix: fraud.StreamID(""), name: "fraud check", orderOf: func(p any) (string, bool) {
		switch p := p.(type) {
		case fraud.FraudCheckPassed:
			return p.OrderID, true
		case fraud.FraudCheckFailed:
			return p.OrderID, true
		}
		return "", false
	}},
	{prefix: customercheck.StreamID(""), name: "customer check", orderOf: func(p any) (string, bool) {
		switch p := p.(type) {
		case customercheck.CustomerCheckPassed:
			return p.OrderID, true
		case customercheck.CustomerCheckFailed:
			return p.OrderID, true
		}
		return "", false
	}},
}

func (h history) checkAnswers(orders orderBook) []Violation {
	var vs []Violation
	for _, c := range answeredChecks {
		results := map[string][]at{} // by order id
		for _, s := range h.families[c.prefix] {
			for _, e := range s.entries {
				if id, ok := c.orderOf(e.payload); ok {
					results[id] = append(results[id], atEntry(s.id, e))
				}
			}
		}
		for _, id := range orders.ids {
			f, ok := orders.placedOrder(id)
			if !ok {
				continue
			}
			switch rs := results[id]; len(rs) {
			case 1:
			case 0:
				vs = append(vs, violation(fmt.Sprintf("order %s has no %s result (placed: %s)", id, c.name, f.placed), f.placed))
			default:
				vs = append(vs, violation(fmt.Sprintf("order %s has %d %s results: %s", id, len(rs), c.name, joinAt(rs)),
					append([]at{f.placed}, rs...)...))
			}
		}
		var strays []string
		for id := range results {
			if _, ok := orders.placedOrder(id); !ok {
				strays = append(strays, id)
			}
		}
		slices.Sort(strays)
		for _, id := range strays {
			rs := results[id]
			vs = append(vs, violation(fmt.Sprintf("%s result for order %s, which was never placed: %s", c.name, id, joinAt(rs)), rs...))
		}
	}
	return vs
}
