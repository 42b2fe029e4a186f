package projections

import (
	"sync"

	"orderflow/domain/order"
	"orderflow/events"
)

// orderTally counts the orders that entered each status as the live
// orders read model applied their events, since the runner started: the
// figures behind the rates of orders placed and settled that /metrics and
// the stats query show. Each event is counted once, when the live tables
// take it in (a rebuild, which fills fresh tables from the start of the
// log, counts nothing), so after a restart only what the read model had not
// applied yet counts again.
type orderTally struct {
	mu sync.Mutex
	n  map[order.Status]uint64
}

// add counts the order events among payloads.
func (t *orderTally) add(payloads []events.Payload) {
	var seen map[order.Status]uint64
	for _, p := range payloads {
		if s, ok := order.StatusAfter(p); ok {
			if seen == nil {
				seen = map[order.Status]uint64{}
			}
			seen[s]++
		}
	}
	if seen == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[order.Status]uint64{}
	}
	for s, n := range seen {
		t.n[s] += n
	}
}

// OrderCount is how many orders entered one status.
type OrderCount struct {
	Status order.Status
	Count  uint64
}

// OrdersEntered is, for each status of an order's lifecycle in its order
// (PENDING first: the orders placed), how many orders the live orders read
// model saw enter it since the runner started. Placed orders are those
// that entered PENDING; settled ones those that entered VALIDATED or
// FAILED. Without an orders read model every count is 0.
func (r *Runner) OrdersEntered() []OrderCount {
	r.tally.mu.Lock()
	defer r.tally.mu.Unlock()
	out := make([]OrderCount, len(lifecycle))
	for i, s := range lifecycle {
		out[i] = OrderCount{Status: s, Count: r.tally.n[s]}
	}
	return out
}

// lifecycle is every status of an order, in the order the lifecycle goes.
var lifecycle = []order.Status{order.Pending, order.Validated, order.Failed, order.Paid, order.Shipped, order.Cancelled}
