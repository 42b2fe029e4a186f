package fraud_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"orderflow/domain/fraud"
)

var (
	t0   = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	rule = fraud.Rule{LimitCents: fraud.DefaultLimitCents, Window: fraud.DefaultWindow}
)

// seen is an order already checked for customer c1.
type seen struct {
	orderID string
	ago     time.Duration // placed this long before t0 (negative: after t0)
	total   int64
	failed  bool
}

func history(orders ...seen) fraud.History {
	var h fraud.History
	for _, o := range orders {
		at := t0.Add(-o.ago)
		if o.failed {
			h = h.Evolve(fraud.FraudCheckFailed{CustomerID: "c1", OrderID: o.orderID, PlacedAt: at, TotalCents: o.total,
				WindowTotalCents: o.total, LimitCents: rule.LimitCents, Reason: fraud.ReasonLimitExceeded})
		} else {
			h = h.Evolve(fraud.FraudCheckPassed{CustomerID: "c1", OrderID: o.orderID, PlacedAt: at, TotalCents: o.total, WindowTotalCents: o.total})
		}
	}
	return h
}

func passed(orderID string, total, window int64) []fraud.Event {
	return []fraud.Event{fraud.FraudCheckPassed{CustomerID: "c1", OrderID: orderID, PlacedAt: t0, TotalCents: total, WindowTotalCents: window}}
}

func failed(orderID string, total, window, limit int64) []fraud.Event {
	return []fraud.Event{fraud.FraudCheckFailed{CustomerID: "c1", OrderID: orderID, PlacedAt: t0, TotalCents: total,
		WindowTotalCents: window, LimitCents: limit, Reason: "FRAUD_LIMIT_EXCEEDED"}}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		h     fraud.History
		rule  fraud.Rule
		total int64
		want  []fraud.Event
	}{
		{name: "first order within limit", h: history(), rule: rule, total: 1000, want: passed("o9", 1000, 1000)},
		{
			name: "within limit with earlier orders", rule: rule, total: 50000,
			h:    history(seen{"o1", 30 * time.Minute, 100000, false}, seen{"o2", 5 * time.Minute, 20000, false}),
			want: passed("o9", 50000, 170000),
		},
		{
			name: "exactly at the limit passes", rule: rule, total: 50000,
			h:    history(seen{"o1", 30 * time.Minute, 150000, false}),
			want: passed("o9", 50000, 200000),
		},
		{
			name: "one cent over the limit fails", rule: rule, total: 50001,
			h:    history(seen{"o1", 30 * time.Minute, 150000, false}),
			want: failed("o9", 50001, 200001, 200000),
		},
		{name: "single order exactly the limit passes", h: history(), rule: rule, total: 200000, want: passed("o9", 200000, 200000)},
		{name: "single order above the limit fails", h: history(), rule: rule, total: 200001, want: failed("o9", 200001, 200001, 200000)},
		{name: "single huge order fails", h: history(), rule: rule, total: 10_000_000, want: failed("o9", 10_000_000, 10_000_000, 200000)},
		{
			name: "orders placed before the window do not count", rule: rule, total: 50000,
			h:    history(seen{"o1", 2 * time.Hour, 190000, false}, seen{"o2", 61 * time.Minute, 190000, false}),
			want: passed("o9", 50000, 50000),
		},
		{
			name: "an order placed 59 minutes ago counts", rule: rule, total: 50000,
			h:    history(seen{"o1", 59 * time.Minute, 190000, false}),
			want: failed("o9", 50000, 240000, 200000),
		},
		{
			name: "only the orders inside the window are summed", rule: rule, total: 10000,
			h: history(
				seen{"o1", 3 * time.Hour, 150000, false},
				seen{"o2", 90 * time.Minute, 150000, false},
				seen{"o3", 40 * time.Minute, 80000, false},
				seen{"o4", 10 * time.Minute, 60000, false},
			),
			want: passed("o9", 10000, 150000),
		},
		{
			name: "failed attempts count toward later orders", rule: rule, total: 1000,
			h:    history(seen{"o1", 10 * time.Minute, 250000, true}),
			want: failed("o9", 1000, 251000, 200000),
		},
		{
			name: "failed and passed attempts both count", rule: rule, total: 1000,
			h:    history(seen{"o1", 20 * time.Minute, 150000, false}, seen{"o2", 10 * time.Minute, 60000, true}),
			want: failed("o9", 1000, 211000, 200000),
		},
		{
			name: "failed attempts outside the window do not count", rule: rule, total: 1000,
			h:    history(seen{"o1", 2 * time.Hour, 250000, true}),
			want: passed("o9", 1000, 1000),
		},
		{
			// 9e18 cents ordered twice wrapped to this total before totals
			// were bounded; it must not lower the window sum of later orders.
			name: "an old total that wrapped negative counts as the most there is", rule: rule, total: 1000,
			h:    history(seen{"o1", 10 * time.Minute, -446744073709551616, false}),
			want: failed("o9", 1000, math.MaxInt64, 200000),
		},
		{
			name: "an order whose total wrapped negative fails", h: history(), rule: rule, total: -446744073709551616,
			want: failed("o9", -446744073709551616, math.MaxInt64, 200000),
		},
		{
			name: "a window sum beyond int64 saturates instead of wrapping", rule: fraud.Rule{LimitCents: math.MaxInt64 - 1, Window: time.Hour},
			total: 9_000_000_000_000_000_000,
			h:     history(seen{"o1", 10 * time.Minute, 9_000_000_000_000_000_000, false}),
			want:  failed("o9", 9_000_000_000_000_000_000, math.MaxInt64, math.MaxInt64-1),
		},
		{
			name: "configured limit and window", rule: fraud.Rule{LimitCents: 500, Window: 10 * time.Minute}, total: 200,
			h:    history(seen{"o1", 5 * time.Minute, 301, false}, seen{"o2", 11 * time.Minute, 10000, false}),
			want: failed("o9", 200, 501, 500),
		},
		{
			name: "configured limit and window, at the limit", rule: fraud.Rule{LimitCents: 500, Window: 10 * time.Minute}, total: 200,
			h:    history(seen{"o1", 5 * time.Minute, 300, false}, seen{"o2", 11 * time.Minute, 10000, false}),
			want: passed("o9", 200, 500),
		},
		{
			// The trailing window of an order ends at its own placement: an
			// order placed two hours later is outside it, even when it was
			// checked first (checks may arrive out of placement order).
			name: "an order placed well after this one does not count", rule: rule, total: 150000,
			h:    history(seen{"o1", -2 * time.Hour, 100000, false}),
			want: passed("o9", 150000, 150000),
		},
		{name: "same order checked twice after passing", rule: rule, total: 1000, h: history(seen{"o9", 0, 1000, false}), want: nil},
		{name: "same order checked twice after failing", rule: rule, total: 300000, h: history(seen{"o9", 0, 300000, true}), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fraud.Check(tt.h, tt.rule, "c1", "o9", t0, tt.total)
			if !(len(got) == 0 && len(tt.want) == 0) && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// TestCheckSequence folds each decision into the history, as the fraud
// context does, over a customer's orders in placement order.
func TestCheckSequence(t *testing.T) {
	steps := []struct {
		orderID string
		at      time.Duration // after t0
		total   int64
		pass    bool
		window  int64
	}{
		{"o1", 0, 120000, true, 120000},
		{"o2", 10 * time.Minute, 70000, true, 190000},
		{"o3", 20 * time.Minute, 20000, false, 210000}, // over: 210000
		{"o4", 30 * time.Minute, 1, false, 210001},     // the failed attempt still counts
		// o1 has left the window (t0+5m, t0+65m]: o2 + o3 + o4 + o5 = 91001.
		{"o5", 65 * time.Minute, 1000, true, 91001},
	}

	var h fraud.History
	for _, s := range steps {
		at := t0.Add(s.at)
		got := fraud.Check(h, rule, "c1", s.orderID, at, s.total)
		var want []fraud.Event
		if s.pass {
			want = []fraud.Event{fraud.FraudCheckPassed{CustomerID: "c1", OrderID: s.orderID, PlacedAt: at, TotalCents: s.total, WindowTotalCents: s.window}}
		} else {
			want = []fraud.Event{fraud.FraudCheckFailed{CustomerID: "c1", OrderID: s.orderID, PlacedAt: at, TotalCents: s.total,
				WindowTotalCents: s.window, LimitCents: rule.LimitCents, Reason: fraud.ReasonLimitExceeded}}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: events = %#v\nwant %#v", s.orderID, got, want)
		}
		for _, e := range got {
			h = h.Evolve(e)
		}
		if again := fraud.Check(h, rule, "c1", s.orderID, at, s.total); len(again) != 0 {
			t.Fatalf("%s checked again = %#v, want nothing", s.orderID, again)
		}
	}
}

func TestConstants(t *testing.T) {
	if fraud.ReasonLimitExceeded != "FRAUD_LIMIT_EXCEEDED" {
		t.Errorf("ReasonLimitExceeded = %q", fraud.ReasonLimitExceeded)
	}
	if fraud.DefaultLimitCents != 200000 || fraud.DefaultWindow != time.Hour {
		t.Errorf("defaults = %d cents over %v, DOMAIN.md says 200000 over 1h", fraud.DefaultLimitCents, fraud.DefaultWindow)
	}
	if got := fraud.StreamID("c1"); got != "fraud-c1" {
		t.Errorf("StreamID = %q, want fraud-c1", got)
	}
}

func TestForgetAndCovers(t *testing.T) {
	w := rule.Window
	var h fraud.History
	// One order an hour for five hours: o0 at t0 … o4 at t0+4h.
	for i := range 5 {
		h = h.Evolve(fraud.FraudCheckPassed{CustomerID: "c1", OrderID: fmt.Sprint("o", i), PlacedAt: t0.Add(time.Duration(i) * time.Hour), TotalCents: 1})
	}
	if !h.Covers(rule, t0.Add(-10*w)) {
		t.Fatal("a history that forgot nothing must cover everything")
	}
	h = h.Forget(rule.Retention())
	// Kept: placed at or after t0+4h-2h.
	for i, want := range []bool{false, false, true, true, true} {
		if got := h.Checked(fmt.Sprint("o", i)); got != want {
			t.Errorf("after Forget, o%d held = %v, want %v", i, got, want)
		}
	}
	newest := t0.Add(4 * time.Hour)
	tests := []struct {
		name     string
		placedAt time.Time
		want     bool
	}{
		{"a later order", newest.Add(time.Minute), true},
		{"the newest itself", newest, true},
		{"within the margin: its window is all held", newest.Add(-w), true},
		{"beyond the margin: part of its window is forgotten", newest.Add(-w - time.Nanosecond), false},
		{"a forgotten order redelivered", t0, false},
	}
	for _, tt := range tests {
		if got := h.Covers(rule, tt.placedAt); got != tt.want {
			t.Errorf("%s: Covers = %v, want %v", tt.name, got, tt.want)
		}
	}
	// An order placed before the horizon is not taken back in.
	if h = h.Evolve(fraud.FraudCheckPassed{CustomerID: "c1", OrderID: "late", PlacedAt: t0, TotalCents: 1}); h.Checked("late") {
		t.Error("an order placed before the horizon was kept")
	}
}

// TestForgettingChangesNoDecision checks a customer's orders in an order of
// arrival that differs from placement order (by up to three quarters of a
// window, and now and then by two windows), once against a history that
// keeps everything and once against one that forgets beyond the retention,
// falling back to the whole history when it does not cover the order, as
// the fraud context does. Every decision must be the same, and the history
// kept must stay small.
func TestForgettingChangesNoDecision(t *testing.T) {
	r := fraud.Rule{LimitCents: 5000, Window: time.Hour}
	rnd := rand.New(rand.NewPCG(1, 2))
	type placed struct {
		id    string
		at    time.Time
		total int64
	}
	var arrivals []placed
	for i := range 3000 {
		at := t0.Add(time.Duration(i) * 2 * time.Minute)
		switch {
		case i%97 == 0:
			at = at.Add(-2 * r.Window) // far out of order: beyond the margin
		default:
			at = at.Add(-time.Duration(rnd.Int64N(int64(45 * time.Minute))))
		}
		arrivals = append(arrivals, placed{fmt.Sprint("o", i), at, 1 + rnd.Int64N(400)})
	}
	var full, kept fraud.History
	fallbacks, largest := 0, 0
	for _, o := range arrivals {
		want := fraud.Check(full, r, "c1", o.id, o.at, o.total)
		from := kept
		if !kept.Covers(r, o.at) {
			fallbacks++
			from = full // the whole stream, read again
		}
		got := fraud.Check(from, r, "c1", o.id, o.at, o.total)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s placed %v: forgetting history = %#v, want %#v", o.id, o.at, got, want)
		}
		for _, e := range got {
			full = full.Evolve(e)
			kept = kept.Evolve(e).Forget(r.Retention())
		}
		largest = max(largest, kept.Len())
	}
	if fallbacks == 0 || fallbacks > len(arrivals)/50 {
		t.Errorf("%d of %d checks fell back to the whole stream, want a few (only the far out-of-order ones)", fallbacks, len(arrivals))
	}
	// Two windows of one order per 2 minutes, plus the out-of-order slack.
	if largest > 80 {
		t.Errorf("the kept history reached %d orders, want at most 80 (of %d)", largest, len(arrivals))
	}
	// A redelivered order, forgotten or not, records nothing.
	for _, o := range arrivals[:10] {
		from := kept
		if !kept.Covers(r, o.at) {
			from = full
		}
		if again := fraud.Check(from, r, "c1", o.id, o.at, o.total); len(again) != 0 {
			t.Errorf("%s redelivered: %#v, want nothing", o.id, again)
		}
	}
}
