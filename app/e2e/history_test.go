package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// history returns Order.history, the order's own stream, or nil when the order is unknown.
func (c *client) history(t testing.TB, id string) []Event {
	t.Helper()
	var out struct{ Order *struct{ History []Event } }
	c.do(t, `query($id: ID!) { order(id: $id) { history { `+eventFields+` } } }`, map[string]any{"id": id}, &out)
	if out.Order == nil {
		t.Fatalf("order(%s) is null, want the order with its history", id)
	}
	return out.Order.History
}

// timeline returns Order.timeline: every event sharing the order's correlation id.
func (c *client) timeline(t testing.TB, id string) []Event {
	t.Helper()
	var out struct{ Order *struct{ Timeline []Event } }
	c.do(t, `query($id: ID!) { order(id: $id) { timeline { `+eventFields+` } } }`, map[string]any{"id": id}, &out)
	if out.Order == nil {
		t.Fatalf("order(%s) is null, want the order with its timeline", id)
	}
	return out.Order.Timeline
}

const orderAtQuery = `query($id: ID!, $v: Int!) { orderAt(id: $id, version: $v) { ` + orderFields + ` } }`

// orderAt returns the order as it stood after version v, or nil when the API answers null.
func (c *client) orderAt(t testing.TB, id string, v int) *Order {
	t.Helper()
	var out struct{ OrderAt *Order }
	c.do(t, orderAtQuery, map[string]any{"id": id, "v": v}, &out)
	return out.OrderAt
}

func (c *client) mustOrderAt(t testing.TB, id string, v int) Order {
	t.Helper()
	o := c.orderAt(t, id, v)
	if o == nil {
		t.Fatalf("orderAt(%s, %d): got null, want the order", id, v)
	}
	return *o
}

// eventOrderID is the orderId of an event's payload (every payload caused by an order carries it).
func eventOrderID(t testing.TB, e Event) string {
	t.Helper()
	var p struct {
		OrderID string `json:"orderId"`
	}
	if err := json.Unmarshal([]byte(e.Data), &p); err != nil {
		t.Fatalf("event %d (%s) data is not JSON: %v: %q", e.Position, e.Type, err, e.Data)
	}
	return p.OrderID
}

// eventKey names an event by stream and type, for set comparisons.
func eventKey(e Event) string { return e.StreamID + " " + e.Type }

// shippedOrder sets up a catalog and takes order id (2 × p-h1, 1 × p-h2 of customer cust)
// through validation, payment and shipping, then waits until the shipment committed the stock.
func shippedOrder(t *testing.T, c *client, id, cust string) Order {
	t.Helper()
	o := c.placeValidated(t, id, cust, []Line{{"p-h1", 2}, {"p-h2", 1}})
	if got := c.payOrder(t, id, o.TotalCents); got.Status != "PAID" {
		t.Fatalf("payOrder(%s): status %s, want PAID", id, got.Status)
	}
	if got := c.shipOrder(t, id); got.Status != "SHIPPED" {
		t.Fatalf("shipOrder(%s): status %s, want SHIPPED", id, got.Status)
	}
	return c.mustOrder(t, id)
}

func seedHistoryCatalog(t *testing.T, c *client) {
	t.Helper()
	c.registerCustomer(t, "c-h", "Hedy Lamarr", "hedy@example.com", "5 Frequency Hop")
	c.upsertProduct(t, "p-h1", "Radio", 1500)
	c.upsertProduct(t, "p-h2", "Antenna", 400)
	c.addStock(t, "p-h1", 20)
	c.addStock(t, "p-h2", 20)
}

// TestOrderHistory: Order.history is the order's own stream, oldest first, versions 1..n, the same
// events events(streamId) shows; a failed order's history ends with OrderFailed.
func TestOrderHistory(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	seedHistoryCatalog(t, c)
	shippedOrder(t, c, "o-hist", "c-h")

	hist := c.history(t, "o-hist")
	if got, want := eventTypes(hist), []string{"OrderPlaced", "OrderValidated", "OrderPaid", "OrderShipped"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order(o-hist).history types = %v, want %v", got, want)
	}
	for i, e := range hist {
		if e.StreamID != "order-o-hist" || e.Version != i+1 {
			t.Errorf("history[%d]: stream %q version %d, want order-o-hist version %d", i, e.StreamID, e.Version, i+1)
		}
		if i > 0 && e.Position <= hist[i-1].Position {
			t.Errorf("history[%d]: position %d not after %d", i, e.Position, hist[i-1].Position)
		}
		if id := eventOrderID(t, e); id != "o-hist" {
			t.Errorf("history[%d] %s is about order %q, want o-hist", i, e.Type, id)
		}
	}
	if stream := c.events(t, "order-o-hist"); !reflect.DeepEqual(hist, stream) {
		t.Errorf("order(o-hist).history differs from events(streamId: order-o-hist)\nhistory: %s\nevents:  %s",
			jsonString(hist), jsonString(stream))
	}
	if o := c.mustOrder(t, "o-hist"); o.Version != len(hist) {
		t.Errorf("order(o-hist).version = %d, want the history's length %d", o.Version, len(hist))
	}

	// A failed order: placed, then failed, and nothing else in its own stream.
	o := c.placeOrder(t, "o-hist-ghost", "c-nobody", []Line{{"p-h1", 1}}, true)
	if o.Status != "FAILED" {
		t.Fatalf("o-hist-ghost: status %s, want FAILED", o.Status)
	}
	if got, want := eventTypes(c.history(t, "o-hist-ghost")), []string{"OrderPlaced", "OrderFailed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("order(o-hist-ghost).history types = %v, want %v", got, want)
	}

	// The history field works on list nodes too, each with its own stream.
	var out struct {
		Orders struct {
			Edges []struct {
				Node struct {
					ID      string
					History []Event
				}
			}
		}
	}
	c.do(t, `{ orders(first: 10) { edges { node { id history { `+eventFields+` } } } } }`, nil, &out)
	if len(out.Orders.Edges) != 2 {
		t.Fatalf("orders: %d edges, want 2", len(out.Orders.Edges))
	}
	for _, e := range out.Orders.Edges {
		if len(e.Node.History) == 0 {
			t.Errorf("orders node %s: empty history", e.Node.ID)
		}
		for _, ev := range e.Node.History {
			if ev.StreamID != "order-"+e.Node.ID {
				t.Errorf("orders node %s: history holds an event of stream %s", e.Node.ID, ev.StreamID)
			}
		}
	}
}

// TestOrderTimeline: Order.timeline is every event of any stream that shares the order's
// correlation id, in strictly increasing position: the placement, stock reservation, fraud and
// customer checks, validation, payment, shipping and the stock commit. Another order of the same
// customer and products (same stock and fraud streams) contributes nothing to it.
func TestOrderTimeline(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	seedHistoryCatalog(t, c)
	shippedOrder(t, c, "o-tl", "c-h")
	// Another order sharing the stock and fraud streams, before and after o-tl's shipment.
	other := c.placeValidated(t, "o-tl-other", "c-h", []Line{{"p-h1", 1}, {"p-h2", 2}})
	c.payOrder(t, "o-tl-other", other.TotalCents)

	// StockCommitted is a reaction to OrderShipped: wait for both lines to be committed.
	var tl []Event
	eventually(t, settleTimeout, func() (bool, string) {
		tl = c.timeline(t, "o-tl")
		committed := 0
		for _, e := range tl {
			if e.Type == "StockCommitted" {
				committed++
			}
		}
		return committed == 2, fmt.Sprintf("o-tl timeline has %d StockCommitted events, want 2: %v", committed, eventKeys(tl))
	})
	c.waitStock(t, "p-h1", 18, 1)
	c.waitStock(t, "p-h2", 19, 2)
	tl = c.timeline(t, "o-tl") // settled: nothing more may join it

	if len(tl) == 0 || tl[0].Type != "OrderPlaced" || tl[0].StreamID != "order-o-tl" {
		t.Fatalf("timeline must start with o-tl's OrderPlaced, got %v", eventKeys(tl))
	}
	corr := tl[0].CorrelationID
	if corr == nil || *corr == "" {
		t.Fatalf("o-tl's OrderPlaced has no correlation id")
	}
	for i, e := range tl {
		if i > 0 && e.Position <= tl[i-1].Position {
			t.Errorf("timeline[%d] %s: position %d not after %d", i, eventKey(e), e.Position, tl[i-1].Position)
		}
		if e.CorrelationID == nil || *e.CorrelationID != *corr {
			t.Errorf("timeline[%d] %s: correlation id %v, want %q", i, eventKey(e), e.CorrelationID, *corr)
		}
		if id := eventOrderID(t, e); id != "o-tl" {
			t.Errorf("timeline[%d] %s is about order %q, want only o-tl's events", i, eventKey(e), id)
		}
		if strings.Contains(e.StreamID, "o-tl-other") {
			t.Errorf("timeline[%d] belongs to the other order's stream %s", i, e.StreamID)
		}
	}

	want := map[string]int{
		"order-o-tl OrderPlaced":                 1,
		"stock-p-h1 StockReserved":               1,
		"stock-p-h2 StockReserved":               1,
		"fraud-c-h FraudCheckPassed":             1,
		"customercheck-o-tl CustomerCheckPassed": 1,
		"order-o-tl OrderValidated":              1,
		"payment-o-tl PaymentReceived":           1,
		"order-o-tl OrderPaid":                   1,
		"order-o-tl OrderShipped":                1,
		"stock-p-h1 StockCommitted":              1,
		"stock-p-h2 StockCommitted":              1,
		"notification-o-tl NotificationSent":     1,
	}
	got := map[string]int{}
	for _, e := range tl {
		got[eventKey(e)]++
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("timeline events (stream type → count)\n got: %v\nwant: %v", got, want)
	}

	// Causes come before their effects in the log.
	pos := map[string]int{}
	for _, e := range tl {
		pos[eventKey(e)] = e.Position
	}
	for _, pair := range [][2]string{
		{"stock-p-h1 StockReserved", "order-o-tl OrderValidated"},
		{"fraud-c-h FraudCheckPassed", "order-o-tl OrderValidated"},
		{"customercheck-o-tl CustomerCheckPassed", "order-o-tl OrderValidated"},
		{"payment-o-tl PaymentReceived", "order-o-tl OrderPaid"},
		{"order-o-tl OrderShipped", "stock-p-h1 StockCommitted"},
		{"order-o-tl OrderShipped", "stock-p-h2 StockCommitted"},
	} {
		if pos[pair[0]] >= pos[pair[1]] {
			t.Errorf("timeline: %s (position %d) is not before %s (position %d)", pair[0], pos[pair[0]], pair[1], pos[pair[1]])
		}
	}

	// The timeline is exactly the log's events with that correlation id.
	var fromLog []Event
	for _, e := range c.events(t, "") {
		if e.CorrelationID != nil && *e.CorrelationID == *corr {
			fromLog = append(fromLog, e)
		}
	}
	if !reflect.DeepEqual(tl, fromLog) {
		t.Errorf("timeline differs from the log's events with correlation id %s\ntimeline: %v\nlog:      %v", *corr, eventKeys(tl), eventKeys(fromLog))
	}

	// The other order has its own timeline, disjoint from o-tl's.
	otherTL := c.timeline(t, "o-tl-other")
	seen := map[int]bool{}
	for _, e := range tl {
		seen[e.Position] = true
	}
	for _, e := range otherTL {
		if seen[e.Position] {
			t.Errorf("event %d %s is in both orders' timelines", e.Position, eventKey(e))
		}
		if id := eventOrderID(t, e); id != "o-tl-other" {
			t.Errorf("o-tl-other's timeline holds %s of order %q", eventKey(e), id)
		}
	}
	if len(otherTL) == 0 || otherTL[0].Type != "OrderPlaced" {
		t.Errorf("o-tl-other's timeline = %v, want it to start with OrderPlaced", eventKeys(otherTL))
	}
}

func eventKeys(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%d:%s", e.Position, eventKey(e))
	}
	return out
}

// TestOrderAt: orderAt rebuilds an order from its events at any version of its stream. Version 1
// is the PENDING order as placed, each later version shows its status, and the last version reads
// like order(id). Past the last version is NOT_FOUND, a version below 1 is BAD_USER_INPUT, and an
// unknown order is null.
func TestOrderAt(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	seedHistoryCatalog(t, c)
	placed := c.placeOrder(t, "o-at", "c-h", []Line{{"p-h1", 2}, {"p-h2", 1}}, false)
	wantLines := []OrderLine{{"p-h1", 2, 1500}, {"p-h2", 1, 400}}
	wantTotal := 2*1500 + 400
	c.settled(t, "o-at")
	// A later reprice must not show in any past version.
	c.upsertProduct(t, "p-h1", "Radio", 9999)
	c.payOrder(t, "o-at", wantTotal)
	c.shipOrder(t, "o-at")
	current := c.mustOrder(t, "o-at")
	if current.Status != "SHIPPED" || current.Version != 4 {
		t.Fatalf("order(o-at) = %s version %d, want SHIPPED version 4", current.Status, current.Version)
	}

	v1 := c.mustOrderAt(t, "o-at", 1)
	if v1.ID != "o-at" || v1.CustomerID != "c-h" || v1.Status != "PENDING" || v1.Version != 1 ||
		v1.TotalCents != wantTotal || !reflect.DeepEqual(v1.Lines, wantLines) || len(v1.FailureReasons) != 0 {
		t.Errorf("orderAt(o-at, 1) = %+v\nwant PENDING version 1, customer c-h, lines %+v, total %d, no failure reasons", v1, wantLines, wantTotal)
	}
	if !v1.CreatedAt.Equal(placed.CreatedAt) {
		t.Errorf("orderAt(o-at, 1).createdAt = %v, want the placement's %v", v1.CreatedAt, placed.CreatedAt)
	}

	for v, status := range map[int]string{2: "VALIDATED", 3: "PAID", 4: "SHIPPED"} {
		o := c.mustOrderAt(t, "o-at", v)
		if o.Status != status || o.Version != v || o.TotalCents != wantTotal || !reflect.DeepEqual(o.Lines, wantLines) {
			t.Errorf("orderAt(o-at, %d) = %s version %d total %d lines %+v, want %s version %d total %d lines %+v",
				v, o.Status, o.Version, o.TotalCents, o.Lines, status, v, wantTotal, wantLines)
		}
	}

	last := c.mustOrderAt(t, "o-at", current.Version)
	if !sameOrder(last, current) {
		t.Errorf("orderAt(o-at, %d) differs from order(o-at)\norderAt: %+v\norder:   %+v", current.Version, last, current)
	}

	resp := c.expectError(t, "NOT_FOUND", orderAtQuery, map[string]any{"id": "o-at", "v": current.Version + 1})
	var gone struct{ OrderAt *Order }
	if len(resp.Data) > 0 && string(resp.Data) != "null" {
		if err := json.Unmarshal(resp.Data, &gone); err != nil || gone.OrderAt != nil {
			t.Errorf("orderAt past the last version returned data %s", resp.Data)
		}
	}
	c.expectError(t, "BAD_USER_INPUT", orderAtQuery, map[string]any{"id": "o-at", "v": 0})
	c.expectError(t, "BAD_USER_INPUT", orderAtQuery, map[string]any{"id": "o-at", "v": -1})
	if o := c.orderAt(t, "o-unknown", 1); o != nil {
		t.Errorf("orderAt(o-unknown, 1) = %+v, want null", o)
	}
	if o := c.orderAt(t, "o-unknown", 7); o != nil {
		t.Errorf("orderAt(o-unknown, 7) = %+v, want null", o)
	}
}

// TestOrderAtFailed: for a FAILED order, the version written by OrderFailed shows FAILED with the
// failure reason, the version before it is still PENDING without one, and the last version reads
// like order(id).
func TestOrderAtFailed(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	seedHistoryCatalog(t, c)

	for _, tc := range []struct {
		id, customer string
		lines        []Line
		reason       string
	}{
		{"o-at-ghost", "c-nobody", []Line{{"p-h1", 1}}, "UNKNOWN_CUSTOMER"},
		{"o-at-short", "c-h", []Line{{"p-h2", 50}}, "INSUFFICIENT_STOCK"},
	} {
		o := c.placeOrder(t, tc.id, tc.customer, tc.lines, true)
		if o.Status != "FAILED" || !o.hasReason(tc.reason) {
			t.Fatalf("%s: got %s %v, want FAILED with %s", tc.id, o.Status, o.FailureReasons, tc.reason)
		}
		hist := c.history(t, tc.id)
		failedAt := 0
		for _, e := range hist {
			if e.Type == "OrderFailed" {
				failedAt = e.Version
			}
		}
		if failedAt == 0 {
			t.Fatalf("%s: no OrderFailed in its history %v", tc.id, eventTypes(hist))
		}

		before := c.mustOrderAt(t, tc.id, failedAt-1)
		if before.Status != "PENDING" || before.Version != failedAt-1 || len(before.FailureReasons) != 0 {
			t.Errorf("orderAt(%s, %d) = %s version %d reasons %v, want PENDING version %d without reasons",
				tc.id, failedAt-1, before.Status, before.Version, before.FailureReasons, failedAt-1)
		}
		at := c.mustOrderAt(t, tc.id, failedAt)
		if at.Status != "FAILED" || at.Version != failedAt || !at.hasReason(tc.reason) {
			t.Errorf("orderAt(%s, %d) = %s version %d reasons %v, want FAILED version %d with %s",
				tc.id, failedAt, at.Status, at.Version, at.FailureReasons, failedAt, tc.reason)
		}
		current := c.mustOrder(t, tc.id)
		if last := c.mustOrderAt(t, tc.id, current.Version); !sameOrder(last, current) {
			t.Errorf("orderAt(%s, %d) differs from order(%s)\norderAt: %+v\norder:   %+v", tc.id, current.Version, tc.id, last, current)
		}
		c.expectError(t, "NOT_FOUND", orderAtQuery, map[string]any{"id": tc.id, "v": current.Version + 1})
	}

	// Two validations fail. OrderFailed carries the first reason; the other may be reported before
	// or after it. orderAt lists exactly the reasons reported up to the version's own event (that is
	// its documented meaning), while order(id) eventually lists both.
	c.placeOrder(t, "o-at-double", "c-nobody", []Line{{"p-h1", 50}}, false)
	var current Order
	eventually(t, settleTimeout, func() (bool, string) {
		current = c.mustOrder(t, "o-at-double")
		return current.Status == "FAILED" && current.hasReason("UNKNOWN_CUSTOMER") && current.hasReason("INSUFFICIENT_STOCK"),
			fmt.Sprintf("o-at-double: %s %v, want FAILED with UNKNOWN_CUSTOMER and INSUFFICIENT_STOCK", current.Status, current.FailureReasons)
	})
	tl := c.timeline(t, "o-at-double")
	for _, e := range c.history(t, "o-at-double") {
		want := map[string]bool{}
		for _, r := range tl {
			if r.Position > e.Position {
				break
			}
			var p struct{ Reason string }
			if err := json.Unmarshal([]byte(r.Data), &p); err != nil {
				t.Fatalf("event %d data: %v", r.Position, err)
			}
			if p.Reason != "" {
				want[p.Reason] = true
			}
		}
		at := c.mustOrderAt(t, "o-at-double", e.Version)
		got := map[string]bool{}
		for _, r := range at.FailureReasons {
			got[r] = true
		}
		if !reflect.DeepEqual(got, want) || len(got) != len(at.FailureReasons) {
			t.Errorf("orderAt(o-at-double, %d).failureReasons = %v, want the reasons reported up to position %d: %v (timeline %v)",
				e.Version, at.FailureReasons, e.Position, want, eventKeys(tl))
		}
		if e.Type == "OrderFailed" && (at.Status != "FAILED" || !at.hasReason(failedReason(t, e))) {
			t.Errorf("orderAt(o-at-double, %d) = %s %v, want FAILED with OrderFailed's reason", e.Version, at.Status, at.FailureReasons)
		}
		if e.Version == current.Version {
			at.FailureReasons, current.FailureReasons = nil, nil
			if !sameOrder(at, current) {
				t.Errorf("orderAt(o-at-double, %d) differs from order(o-at-double) beyond failure reasons\norderAt: %+v\norder:   %+v",
					e.Version, at, current)
			}
		}
	}
}

// failedReason is the reason of an OrderFailed event.
func failedReason(t testing.TB, e Event) string {
	t.Helper()
	var p struct{ Reason string }
	if err := json.Unmarshal([]byte(e.Data), &p); err != nil || p.Reason == "" {
		t.Fatalf("OrderFailed %d without a reason: %v %q", e.Position, err, e.Data)
	}
	return p.Reason
}

// sameOrder compares two reads of an order field by field (times by instant).
func sameOrder(a, b Order) bool {
	return a.ID == b.ID && a.CustomerID == b.CustomerID && a.Status == b.Status && a.Version == b.Version &&
		a.TotalCents == b.TotalCents && reflect.DeepEqual(a.Lines, b.Lines) &&
		reflect.DeepEqual(sortedCopy(a.FailureReasons), sortedCopy(b.FailureReasons)) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}
