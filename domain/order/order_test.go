package order_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"orderflow/domain/catalog"
	"orderflow/domain/fault"
	"orderflow/domain/order"
)

var (
	now = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

	prices = map[string]int64{"p1": 250, "p2": 1999, "p3": 1}

	// The lines of the order every status helper starts from.
	placedLines = []order.Line{
		{ProductID: "p1", Quantity: 2, UnitPriceCents: 250},
		{ProductID: "p2", Quantity: 1, UnitPriceCents: 1999},
	}
	placedRequest = []order.RequestedLine{{ProductID: "p1", Quantity: 2}, {ProductID: "p2", Quantity: 1}}
	placedEvent   = order.OrderPlaced{OrderID: "o1", CustomerID: "c1", Lines: placedLines, TotalCents: 2499, PlacedAt: now}

	allStatuses = []order.Status{order.Pending, order.Validated, order.Paid, order.Shipped, order.Failed, order.Cancelled}
)

// in returns order o1 in the given status, built by folding the events that
// lead there; the empty status is an order that was never placed.
func in(status order.Status) order.Order {
	var events []order.Event
	switch status {
	case "":
	case order.Pending:
		events = []order.Event{placedEvent}
	case order.Validated:
		events = []order.Event{placedEvent, order.OrderValidated{OrderID: "o1"}}
	case order.Paid:
		events = []order.Event{placedEvent, order.OrderValidated{OrderID: "o1"}, order.OrderPaid{OrderID: "o1", PaymentID: "pay1", AmountCents: 2499}}
	case order.Shipped:
		events = []order.Event{placedEvent, order.OrderValidated{OrderID: "o1"}, order.OrderPaid{OrderID: "o1", PaymentID: "pay1", AmountCents: 2499}, order.OrderShipped{OrderID: "o1", Lines: placedLines}}
	case order.Failed:
		events = []order.Event{placedEvent, order.OrderFailed{OrderID: "o1", Reason: "INSUFFICIENT_STOCK", Lines: placedLines}}
	case order.Cancelled:
		events = []order.Event{placedEvent, order.OrderCancelled{OrderID: "o1", Reason: "changed my mind", Lines: placedLines}}
	default:
		panic("unknown status " + status)
	}
	var o order.Order
	for _, e := range events {
		o = o.Evolve(e)
	}
	if o.Status != status {
		panic(fmt.Sprintf("built status %q, want %q", o.Status, status))
	}
	return o
}

func sameEvents(got, want []order.Event) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return reflect.DeepEqual(got, want)
}

// bulk returns n distinct requested lines of quantity 1 and the catalog
// that prices each at 10 cents.
func bulk(n int) ([]order.RequestedLine, map[string]int64) {
	lines := make([]order.RequestedLine, n)
	catalog := make(map[string]int64, n)
	for i := range lines {
		id := fmt.Sprintf("bulk-%03d", i)
		lines[i] = order.RequestedLine{ProductID: id, Quantity: 1}
		catalog[id] = 10
	}
	return lines, catalog
}

func TestPlace(t *testing.T) {
	hundred, hundredPrices := bulk(order.MaxLines)
	long128, long129 := strings.Repeat("x", 128), strings.Repeat("x", 129)
	// MaxLines lines of MaxQuantity units at the catalog's highest price,
	// and the same with one line a cent dearer.
	maxLines := make([]order.RequestedLine, len(hundred))
	maxPriced := make([]order.Line, len(hundred))
	maxPrices, overPrices := map[string]int64{}, map[string]int64{}
	for i, l := range hundred {
		maxLines[i] = order.RequestedLine{ProductID: l.ProductID, Quantity: order.MaxQuantity}
		maxPriced[i] = order.Line{ProductID: l.ProductID, Quantity: order.MaxQuantity, UnitPriceCents: catalog.MaxPriceCents}
		maxPrices[l.ProductID], overPrices[l.ProductID] = catalog.MaxPriceCents, catalog.MaxPriceCents
	}
	overPrices[hundred[0].ProductID]++
	hundredOne, hundredOnePrices := bulk(order.MaxLines + 1)
	hundredPriced := make([]order.Line, len(hundred))
	for i, l := range hundred {
		hundredPriced[i] = order.Line{ProductID: l.ProductID, Quantity: 1, UnitPriceCents: 10}
	}

	tests := []struct {
		name     string
		state    order.Order
		id       string
		customer string
		lines    []order.RequestedLine
		prices   map[string]int64
		want     []order.Event
		wantErr  error
		wantKind fault.Kind
	}{
		{
			name: "prices copied and total summed", id: "o1", customer: "c1", lines: placedRequest, prices: prices,
			want: []order.Event{placedEvent},
		},
		{
			name: "single line", id: "o2", customer: "c9",
			lines: []order.RequestedLine{{ProductID: "p3", Quantity: 7}}, prices: prices,
			want: []order.Event{order.OrderPlaced{OrderID: "o2", CustomerID: "c9",
				Lines: []order.Line{{ProductID: "p3", Quantity: 7, UnitPriceCents: 1}}, TotalCents: 7, PlacedAt: now}},
		},
		{
			name: "three lines keep the requested order", id: "o3", customer: "c1",
			lines:  []order.RequestedLine{{ProductID: "p3", Quantity: 3}, {ProductID: "p2", Quantity: 2}, {ProductID: "p1", Quantity: 1}},
			prices: prices,
			want: []order.Event{order.OrderPlaced{OrderID: "o3", CustomerID: "c1", Lines: []order.Line{
				{ProductID: "p3", Quantity: 3, UnitPriceCents: 1},
				{ProductID: "p2", Quantity: 2, UnitPriceCents: 1999},
				{ProductID: "p1", Quantity: 1, UnitPriceCents: 250},
			}, TotalCents: 3 + 3998 + 250, PlacedAt: now}},
		},
		{
			name: "quantity 1 is the minimum", id: "o1", customer: "c1",
			lines: []order.RequestedLine{{ProductID: "p2", Quantity: 1}}, prices: prices,
			want: []order.Event{order.OrderPlaced{OrderID: "o1", CustomerID: "c1",
				Lines: []order.Line{{ProductID: "p2", Quantity: 1, UnitPriceCents: 1999}}, TotalCents: 1999, PlacedAt: now}},
		},
		{
			name: "quantity 1000 is the maximum", id: "o1", customer: "c1",
			lines: []order.RequestedLine{{ProductID: "p2", Quantity: 1000}}, prices: prices,
			want: []order.Event{order.OrderPlaced{OrderID: "o1", CustomerID: "c1",
				Lines: []order.Line{{ProductID: "p2", Quantity: 1000, UnitPriceCents: 1999}}, TotalCents: 1999000, PlacedAt: now}},
		},
		{
			name: "exactly 100 lines", id: "o1", customer: "c1", lines: hundred, prices: hundredPrices,
			want: []order.Event{order.OrderPlaced{OrderID: "o1", CustomerID: "c1", Lines: hundredPriced, TotalCents: 1000, PlacedAt: now}},
		},
		{
			name: "the highest total: 100 lines of 1000 at the highest price", id: "o1", customer: "c1",
			lines: maxLines, prices: maxPrices,
			want: []order.Event{order.OrderPlaced{OrderID: "o1", CustomerID: "c1", Lines: maxPriced, TotalCents: order.MaxTotalCents, PlacedAt: now}},
		},
		{
			name: "one cent past the highest total", id: "o1", customer: "c1",
			lines: maxLines, prices: overPrices, wantErr: order.ErrTotalTooLarge, wantKind: fault.Invalid,
		},
		{
			name: "an old price of 9e18 ordered twice does not wrap", id: "o1", customer: "c1",
			lines: []order.RequestedLine{{ProductID: "gold", Quantity: 2}}, prices: map[string]int64{"gold": 9_000_000_000_000_000_000},
			wantErr: order.ErrTotalTooLarge, wantKind: fault.Invalid,
		},
		{
			name: "old prices that wrap only when summed", id: "o1", customer: "c1",
			lines:   []order.RequestedLine{{ProductID: "a", Quantity: 1}, {ProductID: "b", Quantity: 1}},
			prices:  map[string]int64{"a": math.MaxInt64, "b": math.MaxInt64},
			wantErr: order.ErrTotalTooLarge, wantKind: fault.Invalid,
		},
		{
			name: "an old price above the bound ordered once", id: "o1", customer: "c1",
			lines: []order.RequestedLine{{ProductID: "gold", Quantity: 1}}, prices: map[string]int64{"gold": order.MaxTotalCents + 1},
			wantErr: order.ErrTotalTooLarge, wantKind: fault.Invalid,
		},
		{name: "no lines", id: "o1", customer: "c1", lines: nil, prices: prices, wantErr: order.ErrNoLines, wantKind: fault.Invalid},
		{name: "empty lines", id: "o1", customer: "c1", lines: []order.RequestedLine{}, prices: prices, wantErr: order.ErrNoLines, wantKind: fault.Invalid},
		{name: "101 lines", id: "o1", customer: "c1", lines: hundredOne, prices: hundredOnePrices, wantErr: order.ErrTooManyLines, wantKind: fault.Invalid},
		{name: "quantity 0", id: "o1", customer: "c1", lines: []order.RequestedLine{{ProductID: "p1", Quantity: 0}}, prices: prices, wantKind: fault.Invalid},
		{name: "quantity -1", id: "o1", customer: "c1", lines: []order.RequestedLine{{ProductID: "p1", Quantity: -1}}, prices: prices, wantKind: fault.Invalid},
		{name: "quantity 1001", id: "o1", customer: "c1", lines: []order.RequestedLine{{ProductID: "p1", Quantity: 1001}}, prices: prices, wantKind: fault.Invalid},
		{
			name: "bad quantity on a later line", id: "o1", customer: "c1",
			lines: []order.RequestedLine{{ProductID: "p1", Quantity: 1}, {ProductID: "p2", Quantity: 1001}}, prices: prices, wantKind: fault.Invalid,
		},
		{
			name: "duplicate product", id: "o1", customer: "c1",
			lines: []order.RequestedLine{{ProductID: "p1", Quantity: 1}, {ProductID: "p2", Quantity: 1}, {ProductID: "p1", Quantity: 3}}, prices: prices, wantKind: fault.Invalid,
		},
		{
			name: "unknown product", id: "o1", customer: "c1",
			lines: []order.RequestedLine{{ProductID: "p1", Quantity: 1}, {ProductID: "nope", Quantity: 1}}, prices: prices, wantKind: fault.Invalid,
		},
		{
			name: "empty catalog", id: "o1", customer: "c1",
			lines: []order.RequestedLine{{ProductID: "p1", Quantity: 1}}, prices: nil, wantKind: fault.Invalid,
		},
		{name: "blank customer", id: "o1", customer: "", lines: placedRequest, prices: prices, wantErr: order.ErrBlankCustomer, wantKind: fault.Invalid},
		{name: "whitespace customer", id: "o1", customer: " \t", lines: placedRequest, prices: prices, wantErr: order.ErrBlankCustomer, wantKind: fault.Invalid},
		{name: "blank id", id: "", customer: "c1", lines: placedRequest, prices: prices, wantErr: order.ErrBlankID, wantKind: fault.Invalid},
		{name: "whitespace id", id: "  ", customer: "c1", lines: placedRequest, prices: prices, wantErr: order.ErrBlankID, wantKind: fault.Invalid},
		{
			name: "ids of 128 bytes", id: long128, customer: long128,
			lines: []order.RequestedLine{{ProductID: long128, Quantity: 1}}, prices: map[string]int64{long128: 5},
			want: []order.Event{order.OrderPlaced{OrderID: long128, CustomerID: long128,
				Lines: []order.Line{{ProductID: long128, Quantity: 1, UnitPriceCents: 5}}, TotalCents: 5, PlacedAt: now}},
		},
		{name: "order id of 129 bytes", id: long129, customer: "c1", lines: placedRequest, prices: prices, wantKind: fault.Invalid},
		{name: "order id of 1 MB", id: strings.Repeat("o", 1<<20), customer: "c1", lines: placedRequest, prices: prices, wantKind: fault.Invalid},
		{name: "customer id of 129 bytes", id: "o1", customer: long129, lines: placedRequest, prices: prices, wantKind: fault.Invalid},
		{name: "customer id with a control character", id: "o1", customer: "c\x1b1", lines: placedRequest, prices: prices, wantKind: fault.Invalid},
		{
			name: "product id of 129 bytes", id: "o1", customer: "c1",
			lines: []order.RequestedLine{{ProductID: long129, Quantity: 1}}, prices: map[string]int64{long129: 5}, wantKind: fault.Invalid,
		},
		{
			name: "product id not UTF-8", id: "o1", customer: "c1",
			lines: []order.RequestedLine{{ProductID: "p\xff", Quantity: 1}}, prices: map[string]int64{"p\xff": 5}, wantKind: fault.Invalid,
		},

		// Placing an id that exists.
		{name: "identical retry records nothing", state: in(order.Pending), id: "o1", customer: "c1", lines: placedRequest, prices: prices},
		{
			name: "identical retry after a reprice records nothing", state: in(order.Pending), id: "o1", customer: "c1", lines: placedRequest,
			prices: map[string]int64{"p1": 1, "p2": 1},
		},
		{name: "identical retry of a validated order records nothing", state: in(order.Validated), id: "o1", customer: "c1", lines: placedRequest, prices: prices},
		{name: "identical retry of a failed order records nothing", state: in(order.Failed), id: "o1", customer: "c1", lines: placedRequest, prices: prices},
		{name: "retry by another customer", state: in(order.Pending), id: "o1", customer: "c2", lines: placedRequest, prices: prices, wantErr: order.ErrAlreadyPlaced, wantKind: fault.Conflict},
		{
			name: "retry with another quantity", state: in(order.Pending), id: "o1", customer: "c1",
			lines:  []order.RequestedLine{{ProductID: "p1", Quantity: 3}, {ProductID: "p2", Quantity: 1}},
			prices: prices, wantErr: order.ErrAlreadyPlaced, wantKind: fault.Conflict,
		},
		{
			name: "retry with another product", state: in(order.Pending), id: "o1", customer: "c1",
			lines:  []order.RequestedLine{{ProductID: "p1", Quantity: 2}, {ProductID: "p3", Quantity: 1}},
			prices: prices, wantErr: order.ErrAlreadyPlaced, wantKind: fault.Conflict,
		},
		{
			name: "retry with a line less", state: in(order.Pending), id: "o1", customer: "c1",
			lines:  []order.RequestedLine{{ProductID: "p1", Quantity: 2}},
			prices: prices, wantErr: order.ErrAlreadyPlaced, wantKind: fault.Conflict,
		},
		{
			name: "retry with a line more", state: in(order.Pending), id: "o1", customer: "c1",
			lines:  append(append([]order.RequestedLine{}, placedRequest...), order.RequestedLine{ProductID: "p3", Quantity: 1}),
			prices: prices, wantErr: order.ErrAlreadyPlaced, wantKind: fault.Conflict,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := order.Place(tt.state, tt.id, tt.customer, tt.lines, tt.prices, now)
			if kind := fault.KindOf(err); kind != tt.wantKind {
				t.Fatalf("error kind = %v (err %v), want %v", kind, err, tt.wantKind)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if !sameEvents(got, tt.want) {
				t.Errorf("events = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestPlaceThenEvolve(t *testing.T) {
	placedAt := time.Date(2025, 3, 14, 16, 9, 26, 0, time.FixedZone("CET", 3600))
	events, err := order.Place(order.Order{}, "o1", "c1", placedRequest, prices, placedAt)
	if err != nil || len(events) != 1 {
		t.Fatalf("Place = %#v, %v", events, err)
	}
	var o order.Order
	for _, e := range events {
		o = o.Evolve(e)
	}
	if o.Status != order.Pending || !o.Exists() {
		t.Errorf("status = %q (exists %v), want PENDING", o.Status, o.Exists())
	}
	if o.ID != "o1" || o.CustomerID != "c1" || o.TotalCents != 2*250+1999 || !reflect.DeepEqual(o.Lines, placedLines) {
		t.Errorf("state = %+v", o)
	}
	if o.PlacedAt.IsZero() || !o.PlacedAt.Equal(placedAt) {
		t.Errorf("PlacedAt = %v, want the instant %v", o.PlacedAt, placedAt)
	}

	// The order keeps the price it was placed at when the catalog changes.
	repriced := map[string]int64{"p1": 9999, "p2": 9999}
	again, err := order.Place(o, "o1", "c1", placedRequest, repriced, placedAt.Add(time.Minute))
	if err != nil || len(again) != 0 {
		t.Errorf("retry after reprice = %#v, %v; want nothing", again, err)
	}
	if o.TotalCents != 2499 {
		t.Errorf("total changed to %d", o.TotalCents)
	}
}

func TestEvaluate(t *testing.T) {
	pass := func(c order.Check) order.CheckResult { return order.CheckResult{Check: c, Passed: true} }
	fail := func(c order.Check, reason string) order.CheckResult {
		return order.CheckResult{Check: c, Passed: false, Reason: reason}
	}
	validated := []order.Event{order.OrderValidated{OrderID: "o1", ValidatedAt: now}}
	failed := func(reason string) []order.Event {
		return []order.Event{order.OrderFailed{OrderID: "o1", Reason: reason, Lines: placedLines}}
	}
	inv, fr, cu := order.CheckInventory, order.CheckFraud, order.CheckCustomer
	// Inventory answers per line: the order has lines of p1 and p2.
	line := func(productID string) order.CheckResult {
		return order.CheckResult{Check: inv, ProductID: productID, Passed: true}
	}

	type evalCase struct {
		name    string
		state   order.Order
		results []order.CheckResult
		want    []order.Event
	}
	tests := []evalCase{
		{"all three pass", in(order.Pending), []order.CheckResult{line("p1"), line("p2"), pass(fr), pass(cu)}, validated},
		{"all three pass in another order", in(order.Pending), []order.CheckResult{pass(cu), line("p1"), line("p2"), pass(fr)}, validated},
		{"all three pass with a repeat", in(order.Pending), []order.CheckResult{pass(fr), pass(fr), pass(cu), line("p1"), line("p2")}, validated},
		{"no results yet", in(order.Pending), nil, nil},
		{"one pass", in(order.Pending), []order.CheckResult{line("p1"), line("p2")}, nil},
		{"two passes", in(order.Pending), []order.CheckResult{line("p1"), line("p2"), pass(cu)}, nil},
		{"three results but one check missing", in(order.Pending), []order.CheckResult{line("p1"), line("p2"), line("p1"), line("p2"), pass(fr)}, nil},
		{"inventory fails", in(order.Pending), []order.CheckResult{fail(inv, "INSUFFICIENT_STOCK")}, failed("INSUFFICIENT_STOCK")},
		{"fraud fails", in(order.Pending), []order.CheckResult{fail(fr, "FRAUD_LIMIT_EXCEEDED")}, failed("FRAUD_LIMIT_EXCEEDED")},
		{"customer fails", in(order.Pending), []order.CheckResult{fail(cu, "UNKNOWN_CUSTOMER")}, failed("UNKNOWN_CUSTOMER")},
		{"failure after two passes", in(order.Pending), []order.CheckResult{line("p1"), line("p2"), pass(fr), fail(cu, "UNKNOWN_CUSTOMER")}, failed("UNKNOWN_CUSTOMER")},
		{
			"first failure reason wins", in(order.Pending),
			[]order.CheckResult{pass(cu), fail(fr, "FRAUD_LIMIT_EXCEEDED"), fail(inv, "INSUFFICIENT_STOCK")},
			failed("FRAUD_LIMIT_EXCEEDED"),
		},
		{
			"first failure reason wins, other way round", in(order.Pending),
			[]order.CheckResult{fail(inv, "INSUFFICIENT_STOCK"), fail(fr, "FRAUD_LIMIT_EXCEEDED"), pass(cu)},
			failed("INSUFFICIENT_STOCK"),
		},
		{"one of two lines reserved", in(order.Pending), []order.CheckResult{line("p1"), pass(fr), pass(cu)}, nil},
		{"a line of another product does not count", in(order.Pending), []order.CheckResult{line("p1"), line("p9"), pass(fr), pass(cu)}, nil},
		{
			"second line short after the first was reserved", in(order.Pending),
			[]order.CheckResult{line("p1"), pass(fr), {Check: inv, ProductID: "p2", Reason: "INSUFFICIENT_STOCK"}},
			failed("INSUFFICIENT_STOCK"),
		},
		{"never placed", in(""), []order.CheckResult{line("p1"), line("p2"), pass(fr), pass(cu)}, nil},
	}
	for _, s := range []order.Status{order.Validated, order.Paid, order.Shipped, order.Failed, order.Cancelled} {
		tests = append(tests,
			evalCase{"late failure on " + string(s), in(s), []order.CheckResult{line("p1"), line("p2"), pass(fr), pass(cu), fail(inv, "INSUFFICIENT_STOCK")}, nil},
			evalCase{"all passing on " + string(s), in(s), []order.CheckResult{line("p1"), line("p2"), pass(fr), pass(cu)}, nil},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := order.Evaluate(tt.state, tt.results, now)
			if !sameEvents(got, tt.want) {
				t.Errorf("events = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestEvaluateFolds(t *testing.T) {
	o := in(order.Pending)
	for _, e := range order.Evaluate(o, []order.CheckResult{
		{Check: order.CheckInventory, ProductID: "p1", Passed: true},
		{Check: order.CheckInventory, ProductID: "p2", Passed: true}, {Check: order.CheckFraud, Passed: true}, {Check: order.CheckCustomer, Passed: true},
	}, now) {
		o = o.Evolve(e)
	}
	if o.Status != order.Validated {
		t.Errorf("after all passes status = %q, want VALIDATED", o.Status)
	}

	o = in(order.Pending)
	for _, e := range order.Evaluate(o, []order.CheckResult{{Check: order.CheckCustomer, Reason: "UNKNOWN_CUSTOMER"}}, now) {
		o = o.Evolve(e)
	}
	if o.Status != order.Failed {
		t.Errorf("after a failure status = %q, want FAILED", o.Status)
	}
}

func TestApplyPayment(t *testing.T) {
	tests := []struct {
		state order.Status
		want  []order.Event
	}{
		{"", nil},
		{order.Pending, nil}, // held until the order validates
		{order.Validated, []order.Event{order.OrderPaid{OrderID: "o1", PaymentID: "pay9", AmountCents: 2499}}},
		{order.Paid, nil},
		{order.Shipped, nil},
		{order.Failed, nil},
		{order.Cancelled, nil},
	}
	for _, tt := range tests {
		t.Run("status "+string(tt.state), func(t *testing.T) {
			got := order.ApplyPayment(in(tt.state), "pay9", 2499)
			if !sameEvents(got, tt.want) {
				t.Errorf("events = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestHeldPayment follows a payment that arrives while the order is PENDING:
// nothing happens until the order validates, then it is applied once.
func TestHeldPayment(t *testing.T) {
	o := in(order.Pending)
	if got := order.ApplyPayment(o, "pay1", 2499); len(got) != 0 {
		t.Fatalf("payment on PENDING = %#v, want nothing", got)
	}
	o = o.Evolve(order.OrderValidated{OrderID: "o1"})
	got := order.ApplyPayment(o, "pay1", 2499)
	want := []order.Event{order.OrderPaid{OrderID: "o1", PaymentID: "pay1", AmountCents: 2499}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("payment on VALIDATED = %#v, want %#v", got, want)
	}
	for _, e := range got {
		o = o.Evolve(e)
	}
	if o.Status != order.Paid || o.PaymentID != "pay1" {
		t.Fatalf("state = %+v, want PAID with pay1", o)
	}
	if again := order.ApplyPayment(o, "pay1", 2499); len(again) != 0 {
		t.Errorf("redelivered payment = %#v, want nothing", again)
	}
}

func TestShip(t *testing.T) {
	tests := []struct {
		state    order.Status
		want     []order.Event
		wantErr  error
		wantKind fault.Kind
	}{
		{state: "", wantErr: order.ErrNotFound, wantKind: fault.NotFound},
		{state: order.Pending, wantKind: fault.Conflict},
		{state: order.Validated, wantKind: fault.Conflict},
		{state: order.Paid, want: []order.Event{order.OrderShipped{OrderID: "o1", Lines: placedLines}}},
		{state: order.Shipped, wantKind: fault.Conflict},
		{state: order.Failed, wantKind: fault.Conflict},
		{state: order.Cancelled, wantKind: fault.Conflict},
	}
	for _, tt := range tests {
		t.Run("status "+string(tt.state), func(t *testing.T) {
			got, err := order.Ship(in(tt.state))
			if kind := fault.KindOf(err); kind != tt.wantKind {
				t.Fatalf("error kind = %v (err %v), want %v", kind, err, tt.wantKind)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if !sameEvents(got, tt.want) {
				t.Errorf("events = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	cancelled := func(reason string) []order.Event {
		return []order.Event{order.OrderCancelled{OrderID: "o1", Reason: reason, Lines: placedLines}}
	}
	tests := []struct {
		state    order.Status
		reason   string
		want     []order.Event
		wantErr  error
		wantKind fault.Kind
	}{
		{state: "", reason: "x", wantErr: order.ErrNotFound, wantKind: fault.NotFound},
		{state: order.Pending, reason: "too slow", want: cancelled("too slow")},
		{state: order.Validated, reason: "  found it cheaper ", want: cancelled("found it cheaper")},
		{state: order.Paid, reason: "", want: cancelled("")},
		{state: order.Shipped, reason: "x", wantKind: fault.Conflict},
		{state: order.Failed, reason: "x", wantKind: fault.Conflict},
		{state: order.Cancelled, reason: "x", wantKind: fault.Conflict},
	}
	for _, tt := range tests {
		t.Run("status "+string(tt.state), func(t *testing.T) {
			got, err := order.Cancel(in(tt.state), tt.reason)
			if kind := fault.KindOf(err); kind != tt.wantKind {
				t.Fatalf("error kind = %v (err %v), want %v", kind, err, tt.wantKind)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if !sameEvents(got, tt.want) {
				t.Errorf("events = %#v, want %#v", got, tt.want)
			}
			o := in(tt.state)
			for _, e := range got {
				o = o.Evolve(e)
			}
			if err == nil && o.Status != order.Cancelled {
				t.Errorf("status after cancel = %q, want CANCELLED", o.Status)
			}
		})
	}
}

func TestCanBePaid(t *testing.T) {
	tests := []struct {
		state    order.Status
		wantErr  error
		wantKind fault.Kind
	}{
		{state: "", wantErr: order.ErrNotFound, wantKind: fault.NotFound},
		{state: order.Pending},
		{state: order.Validated},
		{state: order.Paid, wantKind: fault.Conflict},
		{state: order.Shipped, wantKind: fault.Conflict},
		{state: order.Failed, wantKind: fault.Conflict},
		{state: order.Cancelled, wantKind: fault.Conflict},
	}
	for _, tt := range tests {
		t.Run("status "+string(tt.state), func(t *testing.T) {
			err := order.CanBePaid(in(tt.state))
			if kind := fault.KindOf(err); kind != tt.wantKind {
				t.Fatalf("error kind = %v (err %v), want %v", kind, err, tt.wantKind)
			}
			if tt.wantKind == fault.Unknown && err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestEvolve(t *testing.T) {
	var o order.Order
	if o.Exists() {
		t.Fatal("zero order reports Exists")
	}
	steps := []struct {
		event order.Event
		want  order.Status
	}{
		{placedEvent, order.Pending},
		{order.OrderValidated{OrderID: "o1"}, order.Validated},
		{order.OrderPaid{OrderID: "o1", PaymentID: "pay1", AmountCents: 2499}, order.Paid},
		{order.OrderShipped{OrderID: "o1", Lines: placedLines}, order.Shipped},
	}
	for _, s := range steps {
		o = o.Evolve(s.event)
		if o.Status != s.want {
			t.Fatalf("after %s status = %q, want %q", s.event.EventType(), o.Status, s.want)
		}
	}
	want := order.Order{ID: "o1", CustomerID: "c1", Status: order.Shipped, Lines: placedLines, TotalCents: 2499, PlacedAt: now, PaymentID: "pay1"}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("state = %+v\nwant %+v", o, want)
	}
}

func TestEveryStatusIsReachable(t *testing.T) {
	for _, s := range allStatuses {
		if got := in(s); got.Status != s || !got.Exists() {
			t.Errorf("in(%q) = %+v", s, got)
		}
	}
}

func TestSentinelKinds(t *testing.T) {
	tests := []struct {
		err  error
		want fault.Kind
	}{
		{order.ErrBlankID, fault.Invalid},
		{order.ErrBlankCustomer, fault.Invalid},
		{order.ErrNoLines, fault.Invalid},
		{order.ErrTooManyLines, fault.Invalid},
		{order.ErrAlreadyPlaced, fault.Conflict},
		{order.ErrNotFound, fault.NotFound},
	}
	for _, tt := range tests {
		if k := fault.KindOf(tt.err); k != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, k, tt.want)
		}
		if k := fault.KindOf(fmt.Errorf("ctx: %w", tt.err)); k != tt.want {
			t.Errorf("KindOf(wrapped %v) = %v, want %v", tt.err, k, tt.want)
		}
	}
}

func TestStreamIDAndLimits(t *testing.T) {
	if got := order.StreamID("o1"); got != "order-o1" {
		t.Errorf("StreamID = %q, want order-o1", got)
	}
	if order.MaxLines != 100 || order.MinQuantity != 1 || order.MaxQuantity != 1000 {
		t.Errorf("limits = %d lines, quantity %d..%d; DOMAIN.md says 100 lines, 1..1000",
			order.MaxLines, order.MinQuantity, order.MaxQuantity)
	}
	// The highest total is what the order bounds allow at the catalog's
	// highest price; the two packages do not import each other.
	if want := int64(order.MaxLines) * order.MaxQuantity * catalog.MaxPriceCents; order.MaxTotalCents != want {
		t.Errorf("MaxTotalCents = %d, want %d", order.MaxTotalCents, want)
	}
	if !reflect.DeepEqual(order.AllChecks, []order.Check{"INVENTORY", "FRAUD", "CUSTOMER"}) {
		t.Errorf("AllChecks = %v", order.AllChecks)
	}
}
