package inventory_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"orderflow/domain/fault"
	"orderflow/domain/inventory"
)

// build folds events into a fresh Stock. Evolve updates the reservation map
// in place, so every test case builds its own state.
func build(t *testing.T, events ...inventory.Event) inventory.Stock {
	t.Helper()
	var s inventory.Stock
	for _, e := range events {
		s = s.Evolve(e)
	}
	if err := s.CheckInvariants(); err != nil {
		t.Fatalf("given state breaks the invariants: %v", err)
	}
	return s
}

// apply folds a decision into s, checking that every event belongs to the
// product whose stream decided it and that the invariants hold afterwards.
func apply(t *testing.T, s inventory.Stock, productID string, events []inventory.Event) inventory.Stock {
	t.Helper()
	for _, e := range events {
		if pid := productOf(e); pid != productID {
			t.Fatalf("event %#v decided for the stream of %s", e, productID)
		}
		s = s.Evolve(e)
	}
	if err := s.CheckInvariants(); err != nil {
		t.Fatalf("after %#v: %v", events, err)
	}
	return s
}

func productOf(e inventory.Event) string {
	switch e := e.(type) {
	case inventory.StockAdded:
		return e.ProductID
	case inventory.StockReserved:
		return e.ProductID
	case inventory.StockReservationRejected:
		return e.ProductID
	case inventory.StockReleased:
		return e.ProductID
	case inventory.StockCommitted:
		return e.ProductID
	}
	panic(fmt.Sprintf("unknown event %T", e))
}

// sameDecision treats nil and empty as the same "nothing recorded".
func sameDecision(got, want []inventory.Event) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return reflect.DeepEqual(got, want)
}

// level is the expected onHand and reserved of one product.
type level struct{ onHand, reserved int64 }

func checkLevel(t *testing.T, s inventory.Stock, want level) {
	t.Helper()
	if s.OnHand != want.onHand || s.Reserved != want.reserved || s.Available() != want.onHand-want.reserved {
		t.Errorf("onHand %d reserved %d available %d, want onHand %d reserved %d",
			s.OnHand, s.Reserved, s.Available(), want.onHand, want.reserved)
	}
}

func added(id string, q int) inventory.Event { return inventory.StockAdded{ProductID: id, Quantity: q} }
func reserved(id, order string, q int) inventory.Event {
	return inventory.StockReserved{ProductID: id, OrderID: order, Quantity: q}
}
func released(id, order string, q int) inventory.Event {
	return inventory.StockReleased{ProductID: id, OrderID: order, Quantity: q}
}
func committed(id, order string, q int) inventory.Event {
	return inventory.StockCommitted{ProductID: id, OrderID: order, Quantity: q}
}
func rejected(id, order string, requested, available int) inventory.Event {
	return inventory.StockReservationRejected{ProductID: id, OrderID: order, Requested: requested, Available: available, Shortfall: requested - available, Reason: "INSUFFICIENT_STOCK"}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		name     string
		quantity int
		want     []inventory.Event
		wantKind fault.Kind
	}{
		{"one", 1, []inventory.Event{added("p1", 1)}, fault.Unknown},
		{"many", 5000, []inventory.Event{added("p1", 5000)}, fault.Unknown},
		{"zero", 0, nil, fault.Invalid},
		{"negative", -3, nil, fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := inventory.Add(inventory.Stock{}, "p1", tt.quantity)
			if kind := fault.KindOf(err); kind != tt.wantKind {
				t.Fatalf("error kind = %v (err %v), want %v", kind, err, tt.wantKind)
			}
			if tt.wantKind != fault.Unknown && !errors.Is(err, inventory.ErrBadQuantity) {
				t.Errorf("error = %v, want ErrBadQuantity", err)
			}
			if !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("events = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestAddBounds(t *testing.T) {
	atLimit := inventory.Stock{}
	for range inventory.MaxOnHand / inventory.MaxAddQuantity {
		atLimit = atLimit.Evolve(added("p1", inventory.MaxAddQuantity))
	}
	// Two StockAdded of MaxInt64 were accepted before stock was bounded;
	// the fold saturates instead of wrapping.
	huge := build(t, added("p1", math.MaxInt64), added("p1", math.MaxInt64))
	tests := []struct {
		name     string
		state    inventory.Stock
		id       string
		quantity int
		want     []inventory.Event
		wantErr  error
	}{
		{name: "the most one call adds", id: "p1", quantity: 1_000_000_000, want: []inventory.Event{added("p1", 1_000_000_000)}},
		{name: "one past the most one call adds", id: "p1", quantity: 1_000_000_001, wantErr: inventory.ErrBadQuantity},
		{name: "MaxInt64 at once", id: "p1", quantity: math.MaxInt64, wantErr: inventory.ErrBadQuantity},
		{name: "up to the most on hand", state: build(t, added("p1", 999_999_999_999)), id: "p1", quantity: 1, want: []inventory.Event{added("p1", 1)}},
		{name: "one past the most on hand", state: atLimit, id: "p1", quantity: 1, wantErr: inventory.ErrOnHandLimit},
		{name: "a large call past the most on hand", state: build(t, added("p1", 999_999_999_999)), id: "p1", quantity: 2, wantErr: inventory.ErrOnHandLimit},
		{name: "onto a stock that saturated", state: huge, id: "p1", quantity: 1, wantErr: inventory.ErrOnHandLimit},
		{name: "product id of 128 bytes", id: strings.Repeat("p", 128), quantity: 1, want: []inventory.Event{added(strings.Repeat("p", 128), 1)}},
		{name: "product id of 129 bytes", id: strings.Repeat("p", 129), quantity: 1},
		{name: "blank product id", id: " ", quantity: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := inventory.Add(tt.state, tt.id, tt.quantity)
			switch {
			case tt.want != nil:
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("Add = %#v, %v; want %#v", got, err, tt.want)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) || len(got) != 0 {
					t.Fatalf("Add = %#v, %v; want %v", got, err, tt.wantErr)
				}
			default:
				if fault.KindOf(err) != fault.Invalid || len(got) != 0 {
					t.Fatalf("Add = %#v, %v; want an Invalid refusal", got, err)
				}
			}
		})
	}
	if atLimit.OnHand != inventory.MaxOnHand {
		t.Fatalf("setup: onHand %d, want %d", atLimit.OnHand, inventory.MaxOnHand)
	}
	if k := fault.KindOf(inventory.ErrOnHandLimit); k != fault.Conflict {
		t.Errorf("ErrOnHandLimit kind %v, want Conflict", k)
	}
}

func TestEvolveSaturates(t *testing.T) {
	s := build(t, added("p1", math.MaxInt64), added("p1", math.MaxInt64))
	if s.OnHand != math.MaxInt64 || s.Available() != math.MaxInt64 {
		t.Fatalf("onHand %d available %d, want both MaxInt64", s.OnHand, s.Available())
	}
	// Orders can still reserve and ship from it without wrapping.
	s = apply(t, s, "p1", inventory.ReserveLine(s, "p1", "o1", 5))
	checkLevel(t, s, level{math.MaxInt64, 5})
	s = apply(t, s, "p1", inventory.CommitLine(s, "p1", "o1"))
	checkLevel(t, s, level{math.MaxInt64 - 5, 0})
}

func TestAddAccumulates(t *testing.T) {
	var s inventory.Stock
	for _, q := range []int{3, 4, 10} {
		events, err := inventory.Add(s, "p1", q)
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

func TestReserveLine(t *testing.T) {
	tests := []struct {
		name     string
		given    []inventory.Event
		quantity int
		want     []inventory.Event
		after    level
		holds    int // what p1 holds for o1 afterwards
	}{
		{
			name: "within availability", given: []inventory.Event{added("p1", 10)}, quantity: 4,
			want: []inventory.Event{reserved("p1", "o1", 4)}, after: level{10, 4}, holds: 4,
		},
		{
			name: "exactly the available quantity", given: []inventory.Event{added("p1", 10)}, quantity: 10,
			want: []inventory.Event{reserved("p1", "o1", 10)}, after: level{10, 10}, holds: 10,
		},
		{
			name:  "exactly what other orders left available",
			given: []inventory.Event{added("p1", 3), reserved("p1", "other", 2)}, quantity: 1,
			want: []inventory.Event{reserved("p1", "o1", 1)}, after: level{3, 3}, holds: 1,
		},
		{
			name: "short: rejected with the shortfall, nothing reserved", given: []inventory.Event{added("p1", 10)}, quantity: 11,
			want: []inventory.Event{rejected("p1", "o1", 11, 10)}, after: level{10, 0},
		},
		{
			name:  "short because other orders hold the rest",
			given: []inventory.Event{added("p1", 3), reserved("p1", "other", 2)}, quantity: 2,
			want: []inventory.Event{rejected("p1", "o1", 2, 1)}, after: level{3, 2},
		},
		{
			name: "product with no stock at all", quantity: 1,
			want: []inventory.Event{rejected("p1", "o1", 1, 0)}, after: level{0, 0},
		},
		{
			name:  "the order already holds a reservation here: nothing recorded",
			given: []inventory.Event{added("p1", 10), reserved("p1", "o1", 4)}, quantity: 4,
			after: level{10, 4}, holds: 4,
		},
		{
			name:  "the order already holds a reservation, a different quantity asked: nothing recorded",
			given: []inventory.Event{added("p1", 10), reserved("p1", "o1", 4)}, quantity: 20,
			after: level{10, 4}, holds: 4,
		},
		{
			name:  "a rejection of another order does not block this one",
			given: []inventory.Event{added("p1", 5), rejected("p1", "o0", 9, 5)}, quantity: 5,
			want: []inventory.Event{reserved("p1", "o1", 5)}, after: level{5, 5}, holds: 5,
		},
		{
			// The stock does not remember answers; the stream's single
			// writer drops redelivered requests before they get here.
			name:  "after a rejection, with stock arrived since, the line is decided afresh",
			given: []inventory.Event{added("p1", 1), rejected("p1", "o1", 2, 1), added("p1", 100)}, quantity: 2,
			want: []inventory.Event{reserved("p1", "o1", 2)}, after: level{101, 2}, holds: 2,
		},
		{
			name:  "after a release the line is decided afresh",
			given: []inventory.Event{added("p1", 10), reserved("p1", "o1", 4), released("p1", "o1", 4)}, quantity: 4,
			want: []inventory.Event{reserved("p1", "o1", 4)}, after: level{10, 4}, holds: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := build(t, tt.given...)
			got := inventory.ReserveLine(s, "p1", "o1", tt.quantity)
			if !sameDecision(got, tt.want) {
				t.Fatalf("decision = %#v\nwant %#v", got, tt.want)
			}
			s = apply(t, s, "p1", got)
			checkLevel(t, s, tt.after)
			if q := s.OpenReservation("o1"); q != tt.holds {
				t.Errorf("holds %d for o1, want %d", q, tt.holds)
			}
		})
	}
}

func TestReleaseLineAndCommitLine(t *testing.T) {
	// o1 holds 3 and o2 holds 1 of p1's 10; o3 was rejected.
	base := []inventory.Event{added("p1", 10), reserved("p1", "o1", 3), reserved("p1", "o2", 1), rejected("p1", "o3", 20, 6)}
	with := func(extra ...inventory.Event) []inventory.Event {
		return append(append([]inventory.Event{}, base...), extra...)
	}
	type decide func(s inventory.Stock, productID, orderID string) []inventory.Event
	tests := []struct {
		name   string
		given  []inventory.Event
		decide decide
		order  string
		want   []inventory.Event
		after  level
	}{
		{
			name: "release an open reservation", given: base, decide: inventory.ReleaseLine, order: "o1",
			want: []inventory.Event{released("p1", "o1", 3)}, after: level{10, 1},
		},
		{
			name: "release leaves other orders' reservations", given: base, decide: inventory.ReleaseLine, order: "o2",
			want: []inventory.Event{released("p1", "o2", 1)}, after: level{10, 3},
		},
		{
			name: "release an order with no reservation", given: base, decide: inventory.ReleaseLine, order: "o9",
			after: level{10, 4},
		},
		{
			name: "release a rejected order", given: base, decide: inventory.ReleaseLine, order: "o3",
			after: level{10, 4},
		},
		{
			name: "release after release", given: with(released("p1", "o1", 3)), decide: inventory.ReleaseLine, order: "o1",
			after: level{10, 1},
		},
		{
			name: "release after commit", given: with(committed("p1", "o1", 3)), decide: inventory.ReleaseLine, order: "o1",
			after: level{7, 1},
		},
		{
			name: "commit reduces on hand and reserved", given: base, decide: inventory.CommitLine, order: "o1",
			want: []inventory.Event{committed("p1", "o1", 3)}, after: level{7, 1},
		},
		{
			name: "commit leaves other orders' reservations", given: base, decide: inventory.CommitLine, order: "o2",
			want: []inventory.Event{committed("p1", "o2", 1)}, after: level{9, 3},
		},
		{
			name: "commit an order with no reservation", given: base, decide: inventory.CommitLine, order: "o9",
			after: level{10, 4},
		},
		{
			name: "commit a rejected order", given: base, decide: inventory.CommitLine, order: "o3",
			after: level{10, 4},
		},
		{
			name: "commit after commit", given: with(committed("p1", "o1", 3)), decide: inventory.CommitLine, order: "o1",
			after: level{7, 1},
		},
		{
			name: "commit after release", given: with(released("p1", "o1", 3)), decide: inventory.CommitLine, order: "o1",
			after: level{10, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := build(t, tt.given...)
			got := tt.decide(s, "p1", tt.order)
			if !sameDecision(got, tt.want) {
				t.Fatalf("decision = %#v\nwant %#v", got, tt.want)
			}
			s = apply(t, s, "p1", got)
			checkLevel(t, s, tt.after)
			if q := s.OpenReservation(tt.order); q != 0 {
				t.Errorf("still holds %d for %s", q, tt.order)
			}
		})
	}
}

// TestOrderLinesAnsweredPerProduct follows a two-line order as inventory
// decides it: each product answers its own line, so a short product rejects
// its line while the other reserves; failing the order then releases what
// was reserved, and the rejected product has nothing to give back.
func TestOrderLinesAnsweredPerProduct(t *testing.T) {
	p1 := build(t, added("p1", 5))
	p2 := build(t, added("p2", 1))

	got1 := inventory.ReserveLine(p1, "p1", "o1", 2)
	got2 := inventory.ReserveLine(p2, "p2", "o1", 2)
	if want := []inventory.Event{reserved("p1", "o1", 2)}; !sameDecision(got1, want) {
		t.Fatalf("p1 decision = %#v, want %#v", got1, want)
	}
	if want := []inventory.Event{rejected("p2", "o1", 2, 1)}; !sameDecision(got2, want) {
		t.Fatalf("p2 decision = %#v, want %#v", got2, want)
	}
	p1, p2 = apply(t, p1, "p1", got1), apply(t, p2, "p2", got2)

	rel1 := inventory.ReleaseLine(p1, "p1", "o1")
	rel2 := inventory.ReleaseLine(p2, "p2", "o1")
	if want := []inventory.Event{released("p1", "o1", 2)}; !sameDecision(rel1, want) {
		t.Fatalf("p1 release = %#v, want %#v", rel1, want)
	}
	if len(rel2) != 0 {
		t.Fatalf("p2 release = %#v, want nothing", rel2)
	}
	p1, p2 = apply(t, p1, "p1", rel1), apply(t, p2, "p2", rel2)
	checkLevel(t, p1, level{5, 0})
	checkLevel(t, p2, level{1, 0})
}

// TestCheckInvariants shows the check can fail: states no decision would
// produce are reported.
func TestCheckInvariants(t *testing.T) {
	tests := []struct {
		name   string
		events []inventory.Event
		ok     bool
	}{
		{"empty", nil, true},
		{"stock only", []inventory.Event{added("p1", 4)}, true},
		{"reserved all", []inventory.Event{added("p1", 4), reserved("p1", "o1", 4)}, true},
		{"committed all", []inventory.Event{added("p1", 4), reserved("p1", "o1", 4), committed("p1", "o1", 4)}, true},
		{"reserved more than on hand", []inventory.Event{added("p1", 4), reserved("p1", "o1", 5)}, false},
		{"reserved with nothing on hand", []inventory.Event{reserved("p1", "o1", 1)}, false},
		{"released more than held", []inventory.Event{added("p1", 4), reserved("p1", "o1", 2), released("p1", "o1", 3)}, false},
		{"released less than held", []inventory.Event{added("p1", 4), reserved("p1", "o1", 3), released("p1", "o1", 1)}, false},
		{"committed less than held", []inventory.Event{added("p1", 4), reserved("p1", "o1", 3), committed("p1", "o1", 1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s inventory.Stock
			for _, e := range tt.events {
				s = s.Evolve(e)
			}
			if err := s.CheckInvariants(); (err == nil) != tt.ok {
				t.Errorf("CheckInvariants() = %v, want ok %v (state %+v)", err, tt.ok, s)
			}
		})
	}
}

// TestRandomOperations runs thousands of random Add / ReserveLine /
// ReleaseLine / CommitLine decisions over a few products and orders, folds
// what each decides into that product's stock, and checks after every step
// the invariants and an independent simple model of what the stock should
// be.
func TestRandomOperations(t *testing.T) {
	for _, seed := range []int64{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) { randomOperations(t, seed, 5000) })
	}
}

func randomOperations(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	products := []string{"p1", "p2", "p3"}
	orders := []string{"o1", "o2", "o3", "o4", "o5"}
	stocks := map[string]inventory.Stock{}

	// The model: goods on hand per product, and what each order holds of
	// each product.
	onHand := map[string]int{}
	held := map[string]map[string]int{} // product → order → quantity
	for _, id := range products {
		held[id] = map[string]int{}
	}
	counts := map[string]int{}

	for step := 0; step < steps; step++ {
		id := products[rng.Intn(len(products))]
		orderID := orders[rng.Intn(len(orders))]
		s := stocks[id]
		var got, want []inventory.Event
		// Commits outweigh adds, so stock keeps running short and both
		// answers of ReserveLine stay common over the whole walk.
		switch op := rng.Intn(20); {
		case op < 4: // Add, sometimes with a bad quantity
			q := rng.Intn(6) - 1
			events, err := inventory.Add(s, id, q)
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
			got, want = events, []inventory.Event{added(id, q)}
			onHand[id] += q
			counts["add"]++

		case op < 12: // ReserveLine
			q := 1 + rng.Intn(8)
			got = inventory.ReserveLine(s, id, orderID, q)
			available := onHand[id] - sumHeld(held[id])
			switch {
			case held[id][orderID] > 0:
				counts["reserve while holding"]++
			case available < q:
				want = []inventory.Event{rejected(id, orderID, q, available)}
				counts["reject"]++
			default:
				want = []inventory.Event{reserved(id, orderID, q)}
				held[id][orderID] = q
				counts["reserve"]++
			}

		case op < 15: // ReleaseLine
			got = inventory.ReleaseLine(s, id, orderID)
			if q := held[id][orderID]; q > 0 {
				want = []inventory.Event{released(id, orderID, q)}
				delete(held[id], orderID)
				counts["release"]++
			} else {
				counts["release nothing"]++
			}

		default: // CommitLine
			got = inventory.CommitLine(s, id, orderID)
			if q := held[id][orderID]; q > 0 {
				want = []inventory.Event{committed(id, orderID, q)}
				onHand[id] -= q
				delete(held[id], orderID)
				counts["commit"]++
			} else {
				counts["commit nothing"]++
			}
		}
		if !sameDecision(got, want) {
			t.Fatalf("step %d on %s for %s: decision = %#v\nwant %#v", step, id, orderID, got, want)
		}
		stocks[id] = apply(t, s, id, got)

		for _, id := range products {
			s := stocks[id]
			if err := s.CheckInvariants(); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if s.OnHand != int64(onHand[id]) || s.Reserved != int64(sumHeld(held[id])) {
				t.Fatalf("step %d: %s onHand %d reserved %d, model says %d and %d",
					step, id, s.OnHand, s.Reserved, onHand[id], sumHeld(held[id]))
			}
			for _, orderID := range orders {
				if got := s.OpenReservation(orderID); got != held[id][orderID] {
					t.Fatalf("step %d: %s holds %d for %s, model says %d", step, id, got, orderID, held[id][orderID])
				}
			}
		}
	}

	// Make sure the walk exercised every path, so a broken generator cannot
	// make this test pass vacuously.
	var kinds []string
	for _, k := range []string{"add", "add refused", "reserve", "reject", "reserve while holding",
		"release", "release nothing", "commit", "commit nothing"} {
		if counts[k] == 0 {
			t.Errorf("no %q step in %d steps", k, steps)
		}
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	t.Logf("steps: %v", kinds)
}

func sumHeld(byOrder map[string]int) int {
	sum := 0
	for _, q := range byOrder {
		sum += q
	}
	return sum
}

func TestUpcastStockReservationRejectedV1(t *testing.T) {
	tests := []struct {
		name    string
		v1      map[string]any
		want    map[string]any
		wantErr bool
	}{
		{
			name: "adds the shortfall",
			v1:   map[string]any{"productId": "p1", "orderId": "o1", "requested": 5.0, "available": 2.0, "reason": "INSUFFICIENT_STOCK"},
			want: map[string]any{"productId": "p1", "orderId": "o1", "requested": 5.0, "available": 2.0, "shortfall": 3.0, "reason": "INSUFFICIENT_STOCK"},
		},
		{
			name: "nothing available",
			v1:   map[string]any{"requested": 4.0, "available": 0.0},
			want: map[string]any{"requested": 4.0, "available": 0.0, "shortfall": 4.0},
		},
		{name: "available missing", v1: map[string]any{"requested": 4.0}, wantErr: true},
		{name: "requested not a number", v1: map[string]any{"requested": "4", "available": 0.0}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := inventory.UpcastStockReservationRejectedV1(tt.v1)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("upcast = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestConstants(t *testing.T) {
	if inventory.ReasonInsufficientStock != "INSUFFICIENT_STOCK" {
		t.Errorf("ReasonInsufficientStock = %q", inventory.ReasonInsufficientStock)
	}
	if got := inventory.StreamID("p1"); got != "stock-p1" {
		t.Errorf("StreamID = %q, want stock-p1", got)
	}
	if k := fault.KindOf(inventory.ErrBadQuantity); k != fault.Invalid {
		t.Errorf("KindOf(ErrBadQuantity) = %v, want Invalid", k)
	}
	if k := fault.KindOf(fmt.Errorf("add: %w", inventory.ErrBadQuantity)); k != fault.Invalid {
		t.Errorf("KindOf(wrapped ErrBadQuantity) = %v, want Invalid", k)
	}
}
