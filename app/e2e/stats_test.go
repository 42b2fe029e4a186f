package e2e

import (
	"fmt"
	"testing"
	"time"

	"orderflow/graph/access"
)

const statsQuery = `{ stats { at headPosition orders { status count }
	projections { name position lag lagSeconds rebuilding }
	reactions { name position lag lagSeconds handled conflicts retries redeliveries deadLetters openDeadLetters } } }`

type statsAnswer struct {
	Stats struct {
		At           time.Time
		HeadPosition int64
		Orders       []struct {
			Status string
			Count  int64
		}
		Projections []struct {
			Name       string
			Position   int64
			Lag        int64
			LagSeconds float64
			Rebuilding bool
		}
		Reactions []struct {
			Name                                                   string
			Position, Lag                                          int64
			LagSeconds                                             float64
			Handled, Conflicts, Retries, Redeliveries, DeadLetters int64
			OpenDeadLetters                                        int
		}
	}
}

// TestStatsQuery: the stats query answers an admin with the figures
// /metrics serves (the same head, the same counts of orders by status),
// the orders placed and settled counted by status, every projection and
// reaction caught up once the shop is quiet; a customer is FORBIDDEN and
// a caller without a token UNAUTHENTICATED.
func TestStatsQuery(t *testing.T) {
	t.Parallel()
	c := startApp(t, withAuthSecret(testSecret))
	admin := c.as(token(t, access.RoleAdmin, "root", time.Hour))
	admin.registerCustomer(t, "c-stats", "Stat Istic", "stats@example.com", "1 Chart St")
	admin.upsertProduct(t, "p-dial", "Dial", 1000)
	admin.addStock(t, "p-dial", 3)
	admin.placeValidated(t, "o-1", "c-stats", []Line{{ProductID: "p-dial", Quantity: 1}})
	admin.placeValidated(t, "o-2", "c-stats", []Line{{ProductID: "p-dial", Quantity: 1}})
	admin.placeOrder(t, "o-3", "c-stats", []Line{{ProductID: "p-dial", Quantity: 5}}, true)
	admin.payOrder(t, "o-1", 1000)

	want := map[string]int64{"PENDING": 3, "VALIDATED": 2, "FAILED": 1, "PAID": 1, "SHIPPED": 0, "CANCELLED": 0}
	var got statsAnswer
	eventually(t, settleTimeout, func() (bool, string) {
		got = statsAnswer{}
		admin.do(t, statsQuery, nil, &got)
		s := got.Stats
		for _, p := range s.Projections {
			if p.Position != s.HeadPosition || p.Lag != 0 {
				return false, fmt.Sprintf("projection %s at %d, head %d", p.Name, p.Position, s.HeadPosition)
			}
		}
		for _, r := range s.Reactions {
			if r.Position < s.HeadPosition {
				return false, fmt.Sprintf("reaction %s at %d, head %d", r.Name, r.Position, s.HeadPosition)
			}
		}
		return true, ""
	})
	s := got.Stats
	if time.Since(s.At) > time.Minute || s.At.After(time.Now()) {
		t.Errorf("at = %v, want the time of the query", s.At)
	}
	if len(s.Orders) != 6 || s.Orders[0].Status != "PENDING" {
		t.Fatalf("orders = %v, want every status, PENDING first", s.Orders)
	}
	for _, o := range s.Orders {
		if o.Count != want[o.Status] {
			t.Errorf("%s: %d orders entered it, want %d", o.Status, o.Count, want[o.Status])
		}
	}
	names := map[string]bool{}
	for _, p := range s.Projections {
		names["projection "+p.Name] = true
		if p.LagSeconds != 0 || p.Rebuilding {
			t.Errorf("projection %s caught up: lagSeconds %v, rebuilding %v", p.Name, p.LagSeconds, p.Rebuilding)
		}
	}
	handled := map[string]int64{}
	for _, r := range s.Reactions {
		names["reaction "+r.Name] = true
		handled[r.Name] = r.Handled
		if r.Lag != 0 || r.LagSeconds != 0 || r.DeadLetters != 0 || r.OpenDeadLetters != 0 {
			t.Errorf("reaction %s caught up without dead letters: %+v", r.Name, r)
		}
	}
	for _, n := range []string{"projection orders", "projection stock", "reaction inventory", "reaction order-process", "reaction fraud"} {
		if !names[n] {
			t.Errorf("stats lack %s: %+v", n, s)
		}
	}
	if handled["inventory"] == 0 || handled["order-process"] == 0 {
		t.Errorf("reactions handled nothing: %v", handled)
	}

	// The same figures as /metrics: the shop is quiet, so the head and the
	// counts do not move between the two reads.
	m := c.scrapeMetrics(t)
	if head, _ := m.value("orderflow_log_head_position"); int64(head) != s.HeadPosition {
		t.Errorf("/metrics head %v, stats head %d", head, s.HeadPosition)
	}
	for _, o := range s.Orders {
		if v, ok := m.value("orderflow_orders_entered_total", "status", o.Status); !ok || int64(v) != o.Count {
			t.Errorf("/metrics orderflow_orders_entered_total{status=%q} = %v (%v), stats %d", o.Status, v, ok, o.Count)
		}
	}

	c.as(token(t, access.RoleCustomer, "c-stats", time.Hour)).expectError(t, "FORBIDDEN", statsQuery, nil)
	c.expectError(t, "UNAUTHENTICATED", statsQuery, nil)
}
