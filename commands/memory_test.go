package commands

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"orderflow/domain/fraud"
	"orderflow/events"
)

// BenchmarkFraudStateMillionCustomers builds the fraud context's memory for
// a million customers who placed ten orders each, one every 20 minutes,
// the way the reaction builds it: eight lanes of at most laneCacheLimit
// customers and the snapshot cache, every history forgetting beyond the
// retention. It reports the heap that state holds, the heap a history per
// customer would hold if nothing were bounded but the window, and the heap
// of the old histories (every order kept, in a map) for comparison. Run it
// once:
//
//	go test -run xxx -bench FraudStateMillionCustomers -benchtime 1x ./commands/
func BenchmarkFraudStateMillionCustomers(b *testing.B) {
	const customers, ordersEach, lanes = 1_000_000, 10, 8
	rule := fraud.Rule{LimitCents: fraud.DefaultLimitCents, Window: fraud.DefaultWindow}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	customer := func(c int) string { return fmt.Sprintf("customer-%07d", c) }
	orderID := func(c, i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", c, i) } // as long as a UUID
	history := func(c int) fraud.History {
		var h fraud.History
		for i := range ordersEach {
			h = h.Evolve(fraud.FraudCheckPassed{CustomerID: customer(c), OrderID: orderID(c, i),
				PlacedAt: t0.Add(time.Duration(i) * 20 * time.Minute), TotalCents: 1000}).Forget(rule.Retention())
		}
		return h
	}
	for range b.N {
		base := heapInUse()
		ls := make([]*fraudLane, lanes)
		for i := range ls {
			ls[i] = &fraudLane{histories: newLRU[*fraudState](laneCacheLimit)}
		}
		snaps := newSnapshots(func(h fraud.History, p events.Payload) fraud.History { return h.Evolve(p) }, fraud.History.Clone)
		for c := range customers {
			h := history(c)
			l := ls[events.Partition(customer(c), lanes)]
			l.histories.put(customer(c), &fraudState{history: h, version: ordersEach})
			l.histories.trim()
			snaps.m.put(fraud.StreamID(customer(c)), snapshot[fraud.History]{state: h.Clone(), version: ordersEach})
			snaps.m.trim()
		}
		bounded := heapInUse() - base
		held := 0
		for _, l := range ls {
			held += l.histories.len()
		}
		runtime.KeepAlive(ls)
		runtime.KeepAlive(snaps)
		ls, snaps = nil, nil

		base = heapInUse()
		all := make(map[string]fraud.History, customers)
		for c := range customers {
			all[customer(c)] = history(c)
		}
		windowOnly := heapInUse() - base
		runtime.KeepAlive(all)
		all = nil

		type checked struct {
			placedAt   time.Time
			totalCents int64
		}
		base = heapInUse()
		old := make(map[string]map[string]checked, customers)
		for c := range customers {
			m := map[string]checked{}
			for i := range ordersEach {
				m[orderID(c, i)] = checked{t0.Add(time.Duration(i) * 20 * time.Minute), 1000}
			}
			old[customer(c)] = m
		}
		everything := heapInUse() - base
		runtime.KeepAlive(old)

		b.ReportMetric(float64(bounded)/1e6, "MB-bounded")
		b.ReportMetric(float64(held), "customers-in-lanes")
		b.ReportMetric(float64(windowOnly)/1e6, "MB-all-customers-window-only")
		b.ReportMetric(float64(everything)/1e6, "MB-all-customers-every-order")
	}
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
