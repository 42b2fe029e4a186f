package verify

import (
	"fmt"
	"slices"

	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/order"
)

// Invariant 4: every placed order's fraud check and customer check are
// answered exactly once. Both react to OrderPlaced alone, whatever happens
// to the order afterwards (a cancelled order is checked too), and each
// result names its order in its orderId: fraud results are in the
// customer's stream fraud-<customerId>, customer check results in
// customercheck-<orderId>. A result for an order never placed is broken
// as well.

// check is one of the two checks: the family its results are in, which
// check they report (order.ResultOf) and what the report calls it.
type check struct {
	prefix string
	check  order.Check
	name   string
}

var answeredChecks = []check{
	{prefix: fraud.StreamID(""), check: order.CheckFraud, name: "fraud check"},
	{prefix: customercheck.StreamID(""), check: order.CheckCustomer, name: "customer check"},
}

func (h history) checkAnswers(orders orderBook) []Violation {
	var vs []Violation
	for _, c := range answeredChecks {
		results := map[string][]at{} // by order id
		for _, s := range h.families[c.prefix] {
			for _, e := range s.entries {
				if id, r, ok := order.ResultOf(e.payload); ok && r.Check == c.check {
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
