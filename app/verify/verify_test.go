package verify_test

import (
	"encoding/json"
	"hash/fnv"
	"strings"
	"testing"

	"orderflow/app/verify"
	"orderflow/domain/catalog"
	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
)

// TestCheck: for each invariant, a history that keeps it and histories that
// break it in the ways the services could; each broken one must be the only
// invariant broken, and one of its violations must name the streams and
// events involved.
func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		// build writes the history and returns what one violation of the
		// broken invariant must mention (nil when every invariant holds).
		build  func(s *shop) []string
		broken int
	}{
		{name: "a settled shop, every outcome", build: func(s *shop) []string {
			shipped := s.place("o1", "ada", "p1", 2)
			s.settle(shipped)
			s.pay(shipped)
			s.ship(shipped)
			paid := s.place("o2", "ada", "p1", 1, "p2", 3)
			s.settle(paid)
			s.pay(paid)
			s.settle(s.place("o3", "ada", "p2", 1)) // VALIDATED, unpaid
			short := s.place("o4", "ada", "p1", 20)
			s.pay(short) // held, then refunded when the order fails
			s.settle(short)
			s.settle(s.place("o5", "stranger", "p1", 1)) // unknown customer
			pending := s.place("o6", "ada", "p2", 1)
			s.reserve(pending)
			s.cancel(pending) // while PENDING: never evaluated
			s.checkFraud(pending)
			s.checkCustomer(pending)
			cancelled := s.place("o7", "ada", "p1", 1)
			s.settle(cancelled)
			s.pay(cancelled)
			s.cancel(cancelled) // PAID, then cancelled: refunded
			return nil
		}},
		{name: "redelivered events are counted once", build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.settle(o)
			s.pay(o)
			s.evs = append(s.evs, s.evs[len(s.evs)-4:]...)
			return nil
		}},

		{name: "two events at one version", broken: verify.StreamsLinear, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.settle(o)
			validated := s.evs[len(s.evs)-1]
			other := s.at(order.StreamID("o1"), validated.StreamVersion, order.OrderValidated{OrderID: "o1"})
			return []string{"order-o1", "version 2", validated.ID, other.ID}
		}},
		{name: "a gap in a stream", broken: verify.StreamsLinear, build: func(s *shop) []string {
			renamed := s.at(catalog.StreamID("p1"), 3, catalog.ProductRenamed{ProductID: "p1", Name: "new"})
			return []string{"product-p1", "version 2 is missing", renamed.ID}
		}},
		{name: "one event id at two places", broken: verify.StreamsLinear, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.settle(o)
			moved := s.evs[0]
			moved.StreamID, moved.StreamVersion = "product-elsewhere", 1
			s.evs = append(s.evs, moved)
			return []string{moved.ID, "product-p1", "product-elsewhere"}
		}},

		{name: "an order not settled", broken: verify.OrdersSettledOnce, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.reserve(o) // a PENDING order may hold its lines
			s.checkFraud(o)
			s.checkCustomer(o)
			return []string{"order o1 is not settled", "order-o1", o.placed.ID, "PENDING"}
		}},
		{name: "two validation outcomes", broken: verify.OrdersSettledOnce, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.settle(o)
			first := s.evs[len(s.evs)-1]
			second := s.order(o, []order.Event{order.OrderValidated{OrderID: "o1"}})[0]
			return []string{"order o1 has 2 validation outcomes", first.ID, second.ID}
		}},
		{name: "an outcome after the order was cancelled", broken: verify.OrdersSettledOnce, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.reserve(o)
			s.cancel(o)
			s.checkFraud(o)
			s.checkCustomer(o)
			failed := s.order(o, []order.Event{order.OrderFailed{OrderID: "o1", Reason: "LATE", Lines: o.o.Lines}})[0]
			return []string{"order-o1", failed.ID, "while the order was CANCELLED"}
		}},

		{name: "a cancelled order's reservation not released", broken: verify.StockConsistent, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.settle(o)
			reserved := s.evs[len(s.evs)-4] // before the fraud, customer check and outcome events
			s.cancelOnly(o)
			return []string{"stock-p1", "reserved 2", "order o1 (CANCELLED) holds 2", reserved.ID}
		}},
		{name: "reserved above on hand", broken: verify.StockConsistent, build: func(s *shop) []string {
			s.product("p3", 100, 2)
			over := s.stock("p3", []inventory.Event{inventory.StockReserved{ProductID: "p3", OrderID: "ghost", Quantity: 3}})[0]
			return []string{"stock-p3", over.ID, "reserved 3, on hand 2 after"}
		}},
		{name: "a validated order's line released", broken: verify.StockConsistent, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2, "p2", 1)
			s.settle(o)
			s.stock("p2", inventory.ReleaseLine(s.stocks["p2"], "p2", "o1"))
			return []string{"stock-p2", "order o1 (VALIDATED, line of 1) holds 0"}
		}},
		{name: "a line reserved twice", broken: verify.StockConsistent, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.settle(o)
			again := s.stock("p1", []inventory.Event{inventory.StockReserved{ProductID: "p1", OrderID: "o1", Quantity: 2}})[0]
			return []string{"stock-p1", "order o1 reserved twice", again.ID}
		}},

		{name: "a fraud check answered twice", broken: verify.ChecksAnsweredOnce, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.settle(o)
			again := s.append(fraud.StreamID("ada"), fraud.FraudCheckPassed{CustomerID: "ada", OrderID: "o1", PlacedAt: o.o.PlacedAt, TotalCents: o.o.TotalCents})[0]
			return []string{"order o1 has 2 fraud check results", "fraud-ada", again.ID}
		}},
		{name: "a customer check never answered", broken: verify.ChecksAnsweredOnce, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.reserve(o)
			s.checkFraud(o)
			s.cancel(o)
			return []string{"order o1 has no customer check result", "order-o1", o.placed.ID}
		}},
		{name: "a check of an order never placed", broken: verify.ChecksAnsweredOnce, build: func(s *shop) []string {
			stray := s.append(customercheck.StreamID("ghost"), customercheck.CustomerCheckPassed{OrderID: "ghost", CustomerID: "ada"})[0]
			return []string{"order ghost, which was never placed", "customercheck-ghost", stray.ID}
		}},

		{name: "a cancelled order's payment not refunded", broken: verify.PaymentsMatched, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.settle(o)
			s.pay(o)
			received := s.evs[len(s.evs)-2]
			s.cancelOnly(o)
			s.release(o)
			return []string{"order o1 is CANCELLED", "payment-o1", received.ID, "not refunded"}
		}},
		{name: "a shipped order refunded", broken: verify.PaymentsMatched, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.settle(o)
			s.pay(o)
			s.ship(o)
			refund := s.payment(o, []payment.Event{payment.PaymentRefunded{PaymentID: o.pay.PaymentID, OrderID: "o1", AmountCents: o.pay.AmountCents}})[0]
			return []string{"order o1 is SHIPPED", refund.ID, "was refunded"}
		}},
		{name: "a payment never applied", broken: verify.PaymentsMatched, build: func(s *shop) []string {
			o := s.place("o1", "ada", "p1", 2)
			s.settle(o)
			evs, _ := payment.Receive(o.pay, "pay-o1", "o1", o.o.TotalCents, o.o.TotalCents)
			received := s.payment(o, evs)[0]
			return []string{"order o1 is VALIDATED", received.ID, "neither its OrderPaid nor refunded"}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newShop(t)
			s.product("p1", 1000, 10)
			s.product("p2", 500, 10)
			s.customer("ada")
			want := c.build(s)
			rep := verify.Check(s.evs, s.reg)
			if len(rep.Undecodable) > 0 {
				t.Fatalf("undecodable: %v", rep.Undecodable)
			}
			for _, inv := range rep.Invariants {
				if inv.Number != c.broken {
					if !inv.Holds() {
						t.Errorf("invariant %d (%s) broken: %v", inv.Number, inv.Name, inv.Violations)
					}
					continue
				}
				if inv.Holds() {
					t.Fatalf("invariant %d (%s) holds, want it broken", inv.Number, inv.Name)
				}
				if !anyMentions(inv.Violations, want) {
					t.Errorf("no violation of invariant %d mentions all of %q:\n%s", inv.Number, want, joinViolations(inv.Violations))
				}
			}
			if c.broken == 0 && !rep.Holds() {
				t.Errorf("report does not hold")
			}
		})
	}
}

func anyMentions(vs []verify.Violation, want []string) bool {
	for _, v := range vs {
		all := true
		for _, w := range want {
			all = all && strings.Contains(v.Message, w)
		}
		if all {
			return true
		}
	}
	return false
}

func joinViolations(vs []verify.Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("  " + v.Message + "\n")
	}
	return b.String()
}

// TestCheckCountsRedeliveriesOnce: a history read with redeliveries (as
// from Kafka) has the same distinct events, and the duplicates are counted.
func TestCheckCountsRedeliveriesOnce(t *testing.T) {
	evs := realisticHistory(t, 5000, 1)
	again := append(append([]events.Event(nil), evs...), evs[100:200]...)
	rep := verify.Check(again, newShop(t).reg)
	if !rep.Holds() || rep.Events != len(evs) || rep.Duplicates != 100 {
		t.Fatalf("holds %v, %d events and %d duplicates; want it to hold with %d and 100", rep.Holds(), rep.Events, rep.Duplicates, len(evs))
	}
}

// TestCheckRealisticHistory: a day of the shop, decided by the domain,
// keeps every invariant, also when its streams arrive interleaved as
// Kafka's partitions deliver them (each stream in order, partitions in any
// order).
func TestCheckRealisticHistory(t *testing.T) {
	evs := realisticHistory(t, 30000, 7)
	reg := newShop(t).reg
	rep := verify.Check(evs, reg)
	for _, inv := range rep.Invariants {
		if !inv.Holds() {
			t.Errorf("invariant %d broken: %s", inv.Number, joinViolations(inv.Violations[:min(5, len(inv.Violations))]))
		}
	}
	const parts = 12
	byPartition := make([][]events.Event, parts)
	for _, e := range evs {
		h := fnv.New32a()
		h.Write([]byte(e.StreamID))
		p := h.Sum32() % parts
		byPartition[p] = append(byPartition[p], e)
	}
	var interleaved []events.Event
	for p := parts - 1; p >= 0; p-- {
		interleaved = append(interleaved, byPartition[p]...)
	}
	if again := verify.Check(interleaved, reg); !again.Holds() || again.Events != rep.Events {
		t.Errorf("interleaved by partition: holds %v with %d events, want it to hold with %d", again.Holds(), again.Events, rep.Events)
	}
}

// TestCheckUndecodable: an event whose payload does not decode is reported
// by id and stream, and the report does not hold.
func TestCheckUndecodable(t *testing.T) {
	s := newShop(t)
	s.product("p1", 1000, 10)
	bad := s.evs[0]
	bad.ID, bad.StreamID, bad.Data = "broken-1", "product-p9", json.RawMessage(`{"productId": 7`)
	rep := verify.Check(append(s.evs, bad), s.reg)
	if rep.Holds() || len(rep.Undecodable) != 1 || !strings.Contains(rep.Undecodable[0].Message, "broken-1") ||
		!strings.Contains(rep.Undecodable[0].Message, "product-p9") {
		t.Fatalf("holds %v, undecodable %v; want one naming broken-1 and product-p9", rep.Holds(), rep.Undecodable)
	}
}
