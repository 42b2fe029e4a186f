package stock_test

import (
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"orderflow/domain/fault"
	"orderflow/domain/stock"
)

// build folds each product's events into a fresh Stock. Evolve updates the
// reservation maps in place, so every test case builds its own states.
func build(t *testing.T, given map[string][]stock.Event) map[string]stock.Stock {
	t.Helper()
	stocks := make(map[string]stock.Stock, len(given))
	for id, events := range given {
		var s stock.Stock
		for _, e := range events {
			s = s.Evolve(e)
		}
		if err := s.CheckInvariants(); err != nil {
			t.Fatalf("given state of %s breaks the invariants: %v", id, err)
		}
		stocks[id] = s
	}
	return stocks
}

// apply folds a decision into the stocks, checking that each event went to
// its own product's stream and that the invariants hold afterwards.
func apply(t *testing.T, stocks map[string]stock.Stock, out map[string][]stock.Event) {
	t.Helper()
	for id, events := range out {
		s := stocks[id]
		for _, e := range events {
			if pid := productOf(e); pid != id {
				t.Fatalf("event %#v decided for stream of %s", e, id)
			}
			s = s.Evolve(e)
		}
		if err := s.CheckInvariants(); err != nil {
			t.Fatalf("after %#v: %v", events, err)
		}
		stocks[id] = s
	}
}

func productOf(e stock.Event) string {
	switch e := e.(type) {
	case stock.StockAdded:
		return e.ProductID
	case stock.StockReserved:
		return e.ProductID
	case stock.StockReservationRejected:
		return e.ProductID
	case stock.StockReleased:
		return e.ProductID
	case stock.StockCommitted:
		return e.ProductID
	}
	panic(fmt.Sprintf("unknown event %T", e))
}

func sameDecision(got, want map[string][]stock.Event) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return reflect.DeepEqual(got, want)
}

// level is the expected onHand and reserved of one product.
type level struct{ onHand, reserved int }

func checkLevels(t *testing.T, stocks map[string]stock.Stock, want map[string]level) {
	t.Helper()
	for id, w := range want {
		s := stocks[id]
		if s.OnHand != w.onHand || s.Reserved != w.reserved || s.Available() != w.onHand-w.reserved {
			t.Errorf("%s: onHand %d reserved %d available %d, want onHand %d reserved %d",
				id, s.OnHand, s.Reserved, s.Available(), w.onHand, w.reserved)
		}
	}
}

func added(id string, q int) stock.Event { return stock.StockAdded{ProductID: id, Quantity: q} }
func reserved(id, order string, q int) stock.Event {
	return stock.StockReserved{ProductID: id, OrderID: order, Quantity: q}
}
func released(id, order string, q int) stock.Event {
	return stock.StockReleased{ProductID: id, OrderID: order, Quantity: q}
}
func committed(id, order string, q int) stock.Event {
	return stock.StockCommitted{ProductID: id, OrderID: order, Quantity: q}
}
func rejected(id, order string, requested, available int) stock.Event {
	return stock.StockReservationRejected{ProductID: id, OrderID: order, Requested: requested, Available: available, Shortfall: requested - available, Reason: "INSUFFICIENT_STOCK"}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		name     string
		quantity int
		want     []stock.Event
		wantKind fault.Kind
	}{
		{"one", 1, []stock.Event{added("p1", 1)}, fault.Unknown},
		{"many", 5000, []stock.Event{added("p1", 5000)}, fault.Unknown},
		{"zero", 0, nil, fault.Invalid},
		{"negative", -3, nil, fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stock.Add(stock.Stock{}, "p1", tt.quantity)
			if kind := fault.KindOf(err); kind != tt.wantKind {
				t.Fatalf("error kind = %v (err %v), want %v", kind, err, tt.wantKind)
			}
			if tt.wantKind != fault.Unknown && !errors.Is(err, stock.ErrBadQuantity) {
				t.Errorf("error = %v, want ErrBadQuantity", err)
			}
			if !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("events = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestAddAccumulates(t *testing.T) {
	var s stock.Stock
	for _, q := range []int{3, 4, 10} {
		events, err := stock.Add(s, "p1", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			s = s.Evolve(e)
		}
	}
	if s.ProductID != "p1" || s.OnHand != 17 || s.Reserved != 0 || s.Available() != 17 {
		t.Errorf("state = %+v, want p1 with 17 on hand", s)
	}
}

func TestReserve(t *testing.T) {
	// p1: 10 free; p2: 5 free; p3: 3 on hand, 2 held for order "other".
	base := func() map[string][]stock.Event {
		return map[string][]stock.Event{
			"p1": {added("p1", 10)},
			"p2": {added("p2", 5)},
			"p3": {added("p3", 3), reserved("p3", "other", 2)},
		}
	}
	with := func(extra map[string][]stock.Event) map[string][]stock.Event {
		g := base()
		for id, events := range extra {
			g[id] = append(g[id], events...)
		}
		return g
	}
	baseLevels := map[string]level{"p1": {10, 0}, "p2": {5, 0}, "p3": {3, 2}}

	tests := []struct {
		name  string
		given map[string][]stock.Event
		lines []stock.Line
		// answered is what the command side learned from the log: inventory
		// already answered this order.
		answered bool
		want     map[string][]stock.Event
		after    map[string]level
	}{
		{
			name: "all lines available", given: base(),
			lines: []stock.Line{{ProductID: "p1", Quantity: 4}, {ProductID: "p2", Quantity: 2}},
			want:  map[string][]stock.Event{"p1": {reserved("p1", "o1", 4)}, "p2": {reserved("p2", "o1", 2)}},
			after: map[string]level{"p1": {10, 4}, "p2": {5, 2}, "p3": {3, 2}},
		},
		{
			name: "exactly the available quantity on every line", given: base(),
			lines: []stock.Line{{ProductID: "p1", Quantity: 10}, {ProductID: "p2", Quantity: 5}, {ProductID: "p3", Quantity: 1}},
			want: map[string][]stock.Event{
				"p1": {reserved("p1", "o1", 10)}, "p2": {reserved("p2", "o1", 5)}, "p3": {reserved("p3", "o1", 1)},
			},
			after: map[string]level{"p1": {10, 10}, "p2": {5, 5}, "p3": {3, 3}},
		},
		{
			name: "one product short: one rejection, nothing reserved", given: base(),
			lines: []stock.Line{{ProductID: "p1", Quantity: 4}, {ProductID: "p3", Quantity: 2}},
			want:  map[string][]stock.Event{"p3": {rejected("p3", "o1", 2, 1)}},
			after: baseLevels,
		},
		{
			name: "short on the first line", given: base(),
			lines: []stock.Line{{ProductID: "p1", Quantity: 11}, {ProductID: "p2", Quantity: 1}},
			want:  map[string][]stock.Event{"p1": {rejected("p1", "o1", 11, 10)}},
			after: baseLevels,
		},
		{
			name: "two short: the first short line in order is named", given: base(),
			lines: []stock.Line{{ProductID: "p1", Quantity: 1}, {ProductID: "p2", Quantity: 6}, {ProductID: "p3", Quantity: 2}},
			want:  map[string][]stock.Event{"p2": {rejected("p2", "o1", 6, 5)}},
			after: baseLevels,
		},
		{
			name: "two short, other line order", given: base(),
			lines: []stock.Line{{ProductID: "p3", Quantity: 2}, {ProductID: "p2", Quantity: 6}, {ProductID: "p1", Quantity: 1}},
			want:  map[string][]stock.Event{"p3": {rejected("p3", "o1", 2, 1)}},
			after: baseLevels,
		},
		{
			name: "product with no stock at all", given: base(),
			lines: []stock.Line{{ProductID: "p1", Quantity: 1}, {ProductID: "p9", Quantity: 1}},
			want:  map[string][]stock.Event{"p9": {rejected("p9", "o1", 1, 0)}},
			after: baseLevels,
		},
		{
			name:  "redelivered after it was reserved",
			given: with(map[string][]stock.Event{"p1": {reserved("p1", "o1", 4)}, "p2": {reserved("p2", "o1", 2)}}),
			lines: []stock.Line{{ProductID: "p1", Quantity: 4}, {ProductID: "p2", Quantity: 2}},
			want:  nil,
			after: map[string]level{"p1": {10, 4}, "p2": {5, 2}},
		},
		{
			name: "redelivered after it was rejected, though stock arrived since",
			given: with(map[string][]stock.Event{
				"p3": {rejected("p3", "o1", 2, 1), added("p3", 100)},
			}),
			lines:    []stock.Line{{ProductID: "p1", Quantity: 4}, {ProductID: "p3", Quantity: 2}},
			answered: true,
			want:     nil,
			after:    map[string]level{"p1": {10, 0}, "p3": {103, 2}},
		},
		{
			name: "redelivered after it was reserved and then released",
			given: with(map[string][]stock.Event{
				"p1": {reserved("p1", "o1", 4), released("p1", "o1", 4)},
			}),
			lines:    []stock.Line{{ProductID: "p1", Quantity: 4}},
			answered: true,
			want:     nil,
			after:    map[string]level{"p1": {10, 0}},
		},
		{
			name:  "an answer for another order does not block this one",
			given: with(map[string][]stock.Event{"p2": {rejected("p2", "o0", 9, 5)}}),
			lines: []stock.Line{{ProductID: "p2", Quantity: 5}},
			want:  map[string][]stock.Event{"p2": {reserved("p2", "o1", 5)}},
			after: map[string]level{"p2": {5, 5}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stocks := build(t, tt.given)
			got := stock.Reserve(stocks, "o1", tt.lines, tt.answered)
			if !sameDecision(got, tt.want) {
				t.Fatalf("decision = %#v\nwant %#v", got, tt.want)
			}
			apply(t, stocks, got)
			checkLevels(t, stocks, tt.after)
		})
	}
}

// TestReserveAnsweredOnce follows one order through a rejection and its
// redeliveries (answered, as the command side learns from the log): stock
// is never reserved for it, even once enough arrives.
func TestReserveAnsweredOnce(t *testing.T) {
	stocks := build(t, map[string][]stock.Event{
		"p1": {added("p1", 5)}, "p2": {added("p2", 1)}, "p3": {added("p3", 5)},
	})
	lines := []stock.Line{{ProductID: "p1", Quantity: 2}, {ProductID: "p2", Quantity: 2}, {ProductID: "p3", Quantity: 2}}

	first := stock.Reserve(stocks, "o1", lines, false)
	want := map[string][]stock.Event{"p2": {rejected("p2", "o1", 2, 1)}}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("first decision = %#v, want %#v", first, want)
	}
	apply(t, stocks, first)
	checkLevels(t, stocks, map[string]level{"p1": {5, 0}, "p2": {1, 0}, "p3": {5, 0}})
	for _, id := range []string{"p1", "p2", "p3"} {
		if q := stocks[id].OpenReservation("o1"); q != 0 {
			t.Errorf("%s holds %d for a rejected order", id, q)
		}
	}

	if again := stock.Reserve(stocks, "o1", lines, true); len(again) != 0 {
		t.Fatalf("redelivery = %#v, want nothing", again)
	}
	events, _ := stock.Add(stocks["p2"], "p2", 10)
	apply(t, stocks, map[string][]stock.Event{"p2": events})
	if again := stock.Reserve(stocks, "o1", lines, true); len(again) != 0 {
		t.Fatalf("redelivery after restock = %#v, want nothing", again)
	}

	// A new order for the same lines now succeeds, and is answered once too.
	second := stock.Reserve(stocks, "o2", lines, false)
	apply(t, stocks, second)
	checkLevels(t, stocks, map[string]level{"p1": {5, 2}, "p2": {11, 2}, "p3": {5, 2}})
	if again := stock.Reserve(stocks, "o2", lines, true); len(again) != 0 {
		t.Fatalf("redelivery of a reserved order = %#v, want nothing", again)
	}
	// Even when the caller could not tell, a stream holding a reservation
	// for the order refuses to reserve it twice.
	if again := stock.Reserve(stocks, "o2", lines, false); len(again) != 0 {
		t.Fatalf("reserve of an order with open reservations = %#v, want nothing", again)
	}
	checkLevels(t, stocks, map[string]level{"p1": {5, 2}, "p2": {11, 2}, "p3": {5, 2}})
}

func TestReleaseAndCommit(t *testing.T) {
	// o1 holds 3 of p1 and 2 of p2; o2 holds 1 of p1; o3 was rejected on p3.
	base := func() map[string][]stock.Event {
		return map[string][]stock.Event{
			"p1": {added("p1", 10), reserved("p1", "o1", 3), reserved("p1", "o2", 1)},
			"p2": {added("p2", 5), reserved("p2", "o1", 2)},
			"p3": {added("p3", 1), rejected("p3", "o3", 4, 1)},
		}
	}
	with := func(extra map[string][]stock.Event) map[string][]stock.Event {
		g := base()
		for id, events := range extra {
			g[id] = append(g[id], events...)
		}
		return g
	}
	type decide func(map[string]stock.Stock, string) map[string][]stock.Event
	tests := []struct {
		name   string
		given  map[string][]stock.Event
		decide decide
		order  string
		want   map[string][]stock.Event
		after  map[string]level
	}{
		{
			name: "release an order on two products", given: base(), decide: stock.Release, order: "o1",
			want:  map[string][]stock.Event{"p1": {released("p1", "o1", 3)}, "p2": {released("p2", "o1", 2)}},
			after: map[string]level{"p1": {10, 1}, "p2": {5, 0}, "p3": {1, 0}},
		},
		{
			name: "release touches only the order's products", given: base(), decide: stock.Release, order: "o2",
			want:  map[string][]stock.Event{"p1": {released("p1", "o2", 1)}},
			after: map[string]level{"p1": {10, 3}, "p2": {5, 2}},
		},
		{
			name: "release an unknown order", given: base(), decide: stock.Release, order: "o9",
			after: map[string]level{"p1": {10, 4}, "p2": {5, 2}, "p3": {1, 0}},
		},
		{
			name: "release a rejected order", given: base(), decide: stock.Release, order: "o3",
			after: map[string]level{"p3": {1, 0}},
		},
		{
			name:   "release twice",
			given:  with(map[string][]stock.Event{"p1": {released("p1", "o1", 3)}, "p2": {released("p2", "o1", 2)}}),
			decide: stock.Release, order: "o1",
			after: map[string]level{"p1": {10, 1}, "p2": {5, 0}},
		},
		{
			name:   "release after commit",
			given:  with(map[string][]stock.Event{"p1": {committed("p1", "o1", 3)}, "p2": {committed("p2", "o1", 2)}}),
			decide: stock.Release, order: "o1",
			after: map[string]level{"p1": {7, 1}, "p2": {3, 0}},
		},
		{
			name: "commit reduces on hand and reserved", given: base(), decide: stock.Commit, order: "o1",
			want:  map[string][]stock.Event{"p1": {committed("p1", "o1", 3)}, "p2": {committed("p2", "o1", 2)}},
			after: map[string]level{"p1": {7, 1}, "p2": {3, 0}, "p3": {1, 0}},
		},
		{
			name: "commit touches only the order's products", given: base(), decide: stock.Commit, order: "o2",
			want:  map[string][]stock.Event{"p1": {committed("p1", "o2", 1)}},
			after: map[string]level{"p1": {9, 3}, "p2": {5, 2}},
		},
		{
			name: "commit an unknown order", given: base(), decide: stock.Commit, order: "o9",
			after: map[string]level{"p1": {10, 4}, "p2": {5, 2}},
		},
		{
			name:   "commit twice",
			given:  with(map[string][]stock.Event{"p1": {committed("p1", "o1", 3)}, "p2": {committed("p2", "o1", 2)}}),
			decide: stock.Commit, order: "o1",
			after: map[string]level{"p1": {7, 1}, "p2": {3, 0}},
		},
		{
			name:   "commit after release",
			given:  with(map[string][]stock.Event{"p1": {released("p1", "o1", 3)}, "p2": {released("p2", "o1", 2)}}),
			decide: stock.Commit, order: "o1",
			after: map[string]level{"p1": {10, 1}, "p2": {5, 0}},
		},
		{
			name:   "commit what is left after a partial release",
			given:  with(map[string][]stock.Event{"p2": {released("p2", "o1", 2)}}),
			decide: stock.Commit, order: "o1",
			want:  map[string][]stock.Event{"p1": {committed("p1", "o1", 3)}},
			after: map[string]level{"p1": {7, 1}, "p2": {5, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stocks := build(t, tt.given)
			got := tt.decide(stocks, tt.order)
			if !sameDecision(got, tt.want) {
				t.Fatalf("decision = %#v\nwant %#v", got, tt.want)
			}
			apply(t, stocks, got)
			checkLevels(t, stocks, tt.after)
			for id, s := range stocks {
				if q := s.OpenReservation(tt.order); q != 0 {
					t.Errorf("%s still holds %d for %s", id, q, tt.order)
				}
			}
		})
	}
}

// TestCheckInvariants shows the check can fail: states no decision would
// produce are reported.
func TestCheckInvariants(t *testing.T) {
	tests := []struct {
		name   string
		events []stock.Event
		ok     bool
	}{
		{"empty", nil, true},
		{"stock only", []stock.Event{added("p1", 4)}, true},
		{"reserved all", []stock.Event{added("p1", 4), reserved("p1", "o1", 4)}, true},
		{"committed all", []stock.Event{added("p1", 4), reserved("p1", "o1", 4), committed("p1", "o1", 4)}, true},
		{"reserved more than on hand", []stock.Event{added("p1", 4), reserved("p1", "o1", 5)}, false},
		{"reserved with nothing on hand", []stock.Event{reserved("p1", "o1", 1)}, false},
		{"released more than held", []stock.Event{added("p1", 4), reserved("p1", "o1", 2), released("p1", "o1", 3)}, false},
		{"released less than held", []stock.Event{added("p1", 4), reserved("p1", "o1", 3), released("p1", "o1", 1)}, false},
		{"committed less than held", []stock.Event{added("p1", 4), reserved("p1", "o1", 3), committed("p1", "o1", 1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s stock.Stock
			for _, e := range tt.events {
				s = s.Evolve(e)
			}
			if err := s.CheckInvariants(); (err == nil) != tt.ok {
				t.Errorf("CheckInvariants() = %v, want ok %v (state %+v)", err, tt.ok, s)
			}
		})
	}
}

// TestRandomOperations runs thousands of random Add / Reserve / Release /
// Commit decisions over three products, folds what each decides, and checks
// after every step the invariants and a simple model of what the stock
// should be.
func TestRandomOperations(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) { randomOperations(t, seed, 3000) })
	}
}

func randomOperations(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	products := []string{"p1", "p2", "p3"}
	stocks := map[string]stock.Stock{}

	// The model.
	onHand := map[string]int{}
	open := map[string]map[string]int{} // order → product → quantity held
	orderLines := map[string][]stock.Line{}
	var orders []string
	counts := map[string]int{}

	for step := 0; step < steps; step++ {
		var out map[string][]stock.Event
		switch op := rng.Intn(10); {
		case op < 3: // Add, sometimes with a bad quantity
			id := products[rng.Intn(len(products))]
			q := rng.Intn(12) - 1
			events, err := stock.Add(stocks[id], id, q)
			if q < 1 {
				if fault.KindOf(err) != fault.Invalid || len(events) != 0 {
					t.Fatalf("step %d: Add(%d) = %#v, %v; want Invalid", step, q, events, err)
				}
				counts["add refused"]++
				continue
			}
			if err != nil {
				t.Fatalf("step %d: Add(%d): %v", step, q, err)
			}
			onHand[id] += q
			out = map[string][]stock.Event{id: events}
			counts["add"]++

		case op < 7: // Reserve a new order, or redeliver an old one
			var orderID string
			var lines []stock.Line
			redelivered := len(orders) > 0 && rng.Intn(5) == 0
			if redelivered {
				orderID = orders[rng.Intn(len(orders))]
				lines = orderLines[orderID]
			} else {
				orderID = fmt.Sprintf("o%d", len(orders)+1)
				for _, i := range rng.Perm(len(products))[:1+rng.Intn(len(products))] {
					lines = append(lines, stock.Line{ProductID: products[i], Quantity: 1 + rng.Intn(8)})
				}
				orders = append(orders, orderID)
				orderLines[orderID] = lines
			}
			in := map[string]stock.Stock{}
			for _, l := range lines {
				in[l.ProductID] = stocks[l.ProductID]
			}
			out = stock.Reserve(in, orderID, lines, redelivered)

			var want map[string][]stock.Event
			if !redelivered {
				want = map[string][]stock.Event{}
				short := false
				for _, l := range lines {
					if avail := onHand[l.ProductID] - sumHeld(open, l.ProductID); avail < l.Quantity {
						want = map[string][]stock.Event{l.ProductID: {rejected(l.ProductID, orderID, l.Quantity, avail)}}
						short = true
						break
					}
					want[l.ProductID] = []stock.Event{reserved(l.ProductID, orderID, l.Quantity)}
				}
				if !short {
					open[orderID] = map[string]int{}
					for _, l := range lines {
						open[orderID][l.ProductID] = l.Quantity
					}
					counts["reserve"]++
				} else {
					counts["reject"]++
				}
			} else {
				counts["redelivered"]++
			}
			if !sameDecision(out, want) {
				t.Fatalf("step %d: Reserve(%s, %v) = %#v\nwant %#v", step, orderID, lines, out, want)
			}

		default: // Release or Commit an order, possibly one with nothing open
			if len(orders) == 0 {
				continue
			}
			orderID := orders[rng.Intn(len(orders))]
			commit := rng.Intn(2) == 0
			if commit {
				out = stock.Commit(stocks, orderID)
			} else {
				out = stock.Release(stocks, orderID)
			}
			want := map[string][]stock.Event{}
			for id, q := range open[orderID] {
				if commit {
					want[id] = []stock.Event{committed(id, orderID, q)}
					onHand[id] -= q
				} else {
					want[id] = []stock.Event{released(id, orderID, q)}
				}
			}
			if len(open[orderID]) > 0 {
				counts[map[bool]string{true: "commit", false: "release"}[commit]]++
			}
			delete(open, orderID)
			if !sameDecision(out, want) {
				t.Fatalf("step %d: commit=%v %s = %#v\nwant %#v", step, commit, orderID, out, want)
			}
		}

		apply(t, stocks, out)
		for _, id := range products {
			s := stocks[id]
			if err := s.CheckInvariants(); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if s.OnHand != onHand[id] || s.Reserved != sumHeld(open, id) {
				t.Fatalf("step %d: %s onHand %d reserved %d, model says %d and %d",
					step, id, s.OnHand, s.Reserved, onHand[id], sumHeld(open, id))
			}
		}
		for orderID, held := range open {
			for _, id := range products {
				if got := stocks[id].OpenReservation(orderID); got != held[id] {
					t.Fatalf("step %d: %s holds %d for %s, model says %d", step, id, got, orderID, held[id])
				}
			}
		}
	}

	// Make sure the walk exercised every path, so a broken generator cannot
	// make this test pass vacuously.
	var kinds []string
	for _, k := range []string{"add", "add refused", "reserve", "reject", "redelivered", "release", "commit"} {
		if counts[k] == 0 {
			t.Errorf("no %q step in %d steps", k, steps)
		}
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	t.Logf("steps: %v", kinds)
}

func sumHeld(open map[string]map[string]int, productID string) int {
	sum := 0
	for _, held := range open {
		sum += held[productID]
	}
	return sum
}

func TestConstants(t *testing.T) {
	if stock.ReasonInsufficientStock != "INSUFFICIENT_STOCK" {
		t.Errorf("ReasonInsufficientStock = %q", stock.ReasonInsufficientStock)
	}
	if got := stock.StreamID("p1"); got != "stock-p1" {
		t.Errorf("StreamID = %q, want stock-p1", got)
	}
	if k := fault.KindOf(stock.ErrBadQuantity); k != fault.Invalid {
		t.Errorf("KindOf(ErrBadQuantity) = %v, want Invalid", k)
	}
	if k := fault.KindOf(fmt.Errorf("add: %w", stock.ErrBadQuantity)); k != fault.Invalid {
		t.Errorf("KindOf(wrapped ErrBadQuantity) = %v, want Invalid", k)
	}
}
