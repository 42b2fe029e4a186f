package verify_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"orderflow/commands"
	"orderflow/domain/catalog"
	"orderflow/domain/customer"
	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/notification"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
	"orderflow/migrations"
)

// shop writes a history as the services would: every event is decided by
// the domain's own deciders (order.Place, inventory.ReserveLine, fraud.Check,
// order.Evaluate, payment.Refund, …) against state folded by the domain,
// and encoded by the registry. The steps are separate so that a test can
// leave one out, or plant an event the services would never write with
// append.
type shop struct {
	tb        testing.TB
	reg       *events.Registry // as orderflow verify reads: no keys, personal fields blank
	sealer    *events.Registry // encodes, sealing personal fields
	evs       []events.Event
	versions  map[string]int64
	seq       int
	clock     time.Time
	rule      fraud.Rule
	prices    map[string]int64
	stocks    map[string]inventory.Stock
	frauds    map[string]fraud.History
	customers map[string]bool
}

// sim is what the shop knows of one order.
type sim struct {
	id, customer string
	o            order.Order
	results      []order.CheckResult
	pay          payment.Payment
	placed       events.Event
}

func newShop(tb testing.TB) *shop {
	// Customers' personal fields are sealed under keys kept in a database.
	keys, err := events.Open(context.Background(), filepath.Join(tb.TempDir(), "keys.db"), events.Options{Migrate: migrations.Apply})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { keys.Close() })
	sealer := commands.Registry()
	sealer.UseKeys(events.NewKeyring(keys))
	return &shop{
		tb: tb, reg: commands.Registry(), sealer: sealer, versions: map[string]int64{},
		clock:  time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		rule:   fraud.Rule{LimitCents: fraud.DefaultLimitCents, Window: fraud.DefaultWindow},
		prices: map[string]int64{}, stocks: map[string]inventory.Stock{}, frauds: map[string]fraud.History{},
		customers: map[string]bool{},
	}
}

// append encodes payloads and appends them to a stream at its next versions.
func (s *shop) append(stream string, ps ...events.Payload) []events.Event {
	s.tb.Helper()
	evs, err := s.sealer.Encode(events.Metadata{}, ps...)
	if err != nil {
		s.tb.Fatal(err)
	}
	for i := range evs {
		s.seq++
		s.versions[stream]++
		evs[i].ID = fmt.Sprintf("ev-%07d", s.seq)
		evs[i].StreamID = stream
		evs[i].StreamVersion = s.versions[stream]
		evs[i].Position = int64(len(s.evs) + 1)
		evs[i].OccurredAt = s.clock
		s.evs = append(s.evs, evs[i])
	}
	return evs
}

// at appends one event at a version of the stream's choosing (to plant a
// second event at a version, or leave a gap).
func (s *shop) at(stream string, version int64, p events.Payload) events.Event {
	s.tb.Helper()
	saved := s.versions[stream]
	s.versions[stream] = version - 1
	e := s.append(stream, p)[0]
	s.versions[stream] = max(saved, version)
	return e
}

func payloads[E events.Payload](es []E) []events.Payload {
	out := make([]events.Payload, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (s *shop) must(err error) {
	s.tb.Helper()
	if err != nil {
		s.tb.Fatal(err)
	}
}

func (s *shop) product(id string, priceCents int64, onHand int) {
	evs, err := catalog.Upsert(catalog.Product{}, id, "product "+id, priceCents)
	s.must(err)
	s.append(catalog.StreamID(id), payloads(evs)...)
	s.prices[id] = priceCents
	s.addStock(id, onHand)
}

func (s *shop) addStock(id string, quantity int) {
	evs, err := inventory.Add(s.stocks[id], id, quantity)
	s.must(err)
	s.stock(id, evs)
}

// stock appends stock events and folds them.
func (s *shop) stock(id string, evs []inventory.Event) []events.Event {
	st := s.stocks[id]
	for _, e := range evs {
		st = st.Evolve(e)
	}
	s.stocks[id] = st
	return s.append(inventory.StreamID(id), payloads(evs)...)
}

func (s *shop) customer(id string) {
	evs, err := customer.Register(customer.Customer{}, id, "customer "+id, id+"@example.com", "1 Main St")
	s.must(err)
	s.append(customer.StreamID(id), payloads(evs)...)
	s.customers[id] = true
}

// place records OrderPlaced for the lines (product, quantity, product, …).
func (s *shop) place(id, customerID string, lines ...any) *sim {
	var req []order.RequestedLine
	for i := 0; i+1 < len(lines); i += 2 {
		req = append(req, order.RequestedLine{ProductID: lines[i].(string), Quantity: lines[i+1].(int)})
	}
	evs, err := order.Place(order.Order{}, id, customerID, req, s.prices, s.clock)
	s.must(err)
	o := &sim{id: id, customer: customerID}
	o.placed = s.order(o, evs)[0]
	return o
}

// order appends order events and folds them.
func (s *shop) order(o *sim, evs []order.Event) []events.Event {
	for _, e := range evs {
		o.o = o.o.Evolve(e)
	}
	return s.append(order.StreamID(o.id), payloads(evs)...)
}

// reserve answers every line of the order, as inventory does.
func (s *shop) reserve(o *sim) {
	for _, l := range o.o.Lines {
		evs := inventory.ReserveLine(s.stocks[l.ProductID], l.ProductID, o.id, l.Quantity)
		s.stock(l.ProductID, evs)
		for _, e := range evs {
			switch e := e.(type) {
			case inventory.StockReserved:
				o.results = append(o.results, order.CheckResult{Check: order.CheckInventory, ProductID: l.ProductID, Passed: true})
			case inventory.StockReservationRejected:
				o.results = append(o.results, order.CheckResult{Check: order.CheckInventory, ProductID: l.ProductID, Reason: e.Reason})
			}
		}
	}
}

func (s *shop) checkFraud(o *sim) {
	h := s.frauds[o.customer]
	evs := fraud.Check(h, s.rule, o.customer, o.id, o.o.PlacedAt, o.o.TotalCents)
	for _, e := range evs {
		h = h.Evolve(e).Forget(s.rule.Retention())
		switch e := e.(type) {
		case fraud.FraudCheckPassed:
			o.results = append(o.results, order.CheckResult{Check: order.CheckFraud, Passed: true})
		case fraud.FraudCheckFailed:
			o.results = append(o.results, order.CheckResult{Check: order.CheckFraud, Reason: e.Reason})
		}
	}
	s.frauds[o.customer] = h
	s.append(fraud.StreamID(o.customer), payloads(evs)...)
}

func (s *shop) checkCustomer(o *sim) {
	evs := customercheck.Check(false, o.id, o.customer, s.customers[o.customer])
	for _, e := range evs {
		switch e := e.(type) {
		case customercheck.CustomerCheckPassed:
			o.results = append(o.results, order.CheckResult{Check: order.CheckCustomer, Passed: true})
		case customercheck.CustomerCheckFailed:
			o.results = append(o.results, order.CheckResult{Check: order.CheckCustomer, Reason: e.Reason})
		}
	}
	s.append(customercheck.StreamID(o.id), payloads(evs)...)
}

// evaluate is the order process: validate or fail, then apply a payment
// held; a failure releases the lines and refunds, as the reactions do.
func (s *shop) evaluate(o *sim) {
	s.order(o, order.Evaluate(o.o, o.results, time.Now()))
	switch o.o.Status {
	case order.Failed:
		s.release(o)
		s.refund(o)
	case order.Validated:
		s.applyPayment(o)
	}
}

// settle runs the three checks and the order process.
func (s *shop) settle(o *sim) {
	s.reserve(o)
	s.checkFraud(o)
	s.checkCustomer(o)
	s.evaluate(o)
}

func (s *shop) pay(o *sim) {
	evs, err := payment.Receive(o.pay, "pay-"+o.id, o.id, o.o.TotalCents, o.o.TotalCents)
	s.must(err)
	s.payment(o, evs)
	s.applyPayment(o)
}

func (s *shop) payment(o *sim, evs []payment.Event) []events.Event {
	for _, e := range evs {
		o.pay = o.pay.Evolve(e)
	}
	return s.append(payment.StreamID(o.id), payloads(evs)...)
}

func (s *shop) applyPayment(o *sim) {
	if o.pay.Received {
		s.order(o, order.ApplyPayment(o.o, o.pay.PaymentID, o.pay.AmountCents))
	}
}

func (s *shop) ship(o *sim) {
	evs, err := order.Ship(o.o)
	s.must(err)
	s.order(o, evs)
	for _, l := range o.o.Lines {
		s.stock(l.ProductID, inventory.CommitLine(s.stocks[l.ProductID], l.ProductID, o.id))
	}
}

// cancel cancels the order and lets inventory and payments react.
func (s *shop) cancel(o *sim) {
	s.cancelOnly(o)
	s.release(o)
	s.refund(o)
}

func (s *shop) cancelOnly(o *sim) {
	evs, err := order.Cancel(o.o, "changed my mind")
	s.must(err)
	s.order(o, evs)
}

func (s *shop) release(o *sim) {
	for _, l := range o.o.Lines {
		s.stock(l.ProductID, inventory.ReleaseLine(s.stocks[l.ProductID], l.ProductID, o.id))
	}
}

func (s *shop) refund(o *sim) {
	outcome := payment.OrderOpen
	switch o.o.Status {
	case order.Cancelled:
		outcome = payment.OrderCancelled
	case order.Failed:
		outcome = payment.OrderFailed
	}
	s.payment(o, payment.Refund(o.pay, o.id, outcome))
}

func (s *shop) notify(o *sim) {
	s.append(notification.StreamID(o.id), notification.NotificationSent{
		OrderID: o.id, CustomerID: o.customer, Kind: "ORDER_CONFIRMED", Email: o.customer + "@example.com", SentAt: s.clock})
}

// realisticHistory is a shop's day: products (a few kept short of stock),
// registered customers (and some unknown ones), and orders of one to three
// lines going every way the domain allows: validated, paid (before or
// after validation), shipped, cancelled while PENDING, VALIDATED or PAID,
// failed on stock, fraud or an unknown customer, refunded. It stops after
// the order that takes it to at least n events.
func realisticHistory(tb testing.TB, n int, seed uint64) []events.Event {
	s := newShop(tb)
	rng := rand.New(rand.NewPCG(seed, 0))
	const products, customers = 200, 2000
	for i := range products {
		onHand := 5000
		if i%20 == 0 {
			onHand = 40 // short: some lines are rejected
		}
		s.product(fmt.Sprintf("p%03d", i), int64(100+rng.IntN(4900)), onHand)
	}
	for i := range customers {
		s.customer(fmt.Sprintf("c%04d", i))
	}
	for i := 0; len(s.evs) < n; i++ {
		s.clock = s.clock.Add(time.Second)
		if i%500 == 499 { // restock what ran low
			for p := range products {
				id := fmt.Sprintf("p%03d", p)
				if st := s.stocks[id]; st.Available() < 100 && p%20 != 0 {
					s.addStock(id, 5000)
				}
			}
		}
		cust := fmt.Sprintf("c%04d", rng.IntN(customers))
		if rng.IntN(100) < 2 {
			cust = fmt.Sprintf("stranger%d", i) // fails the customer check
		}
		if rng.IntN(100) < 1 {
			cust = "c0000" // a heavy buyer: fails the fraud check now and then
		}
		var lines []any
		for _, p := range rng.Perm(products)[:1+rng.IntN(3)] {
			lines = append(lines, fmt.Sprintf("p%03d", p), 1+rng.IntN(5))
		}
		o := s.place(fmt.Sprintf("o%06d", i), cust, lines...)
		roll := rng.IntN(100)
		if roll < 4 { // cancelled while PENDING: never evaluated, still checked
			s.reserve(o)
			s.cancel(o)
			s.checkFraud(o)
			s.checkCustomer(o)
			continue
		}
		if roll < 14 {
			s.pay(o) // held until the order validates (refunded if it fails)
		}
		s.settle(o)
		if o.o.Status != order.Validated && o.o.Status != order.Paid {
			continue
		}
		if !o.pay.Received && rng.IntN(100) < 85 {
			s.pay(o)
		}
		switch r := rng.IntN(100); {
		case o.o.Status == order.Paid && r < 75:
			s.notify(o)
			s.ship(o)
		case r < 85:
			if o.o.Status == order.Paid {
				s.notify(o)
			}
		default:
			s.cancel(o)
		}
	}
	return s.evs
}
