package e2e

import (
	"context"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orderflow/app"
	"orderflow/commands"
	"orderflow/domain/catalog"
	"orderflow/domain/customer"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/events"
	"orderflow/migrations"
)

// The bounds of DOMAIN.md: every number and id that enters is bounded, arithmetic is checked, and
// amounts beyond 32 bits travel as Int64. Each test below starts from a defect of the hardening
// issue as it was reproduced against the API.

const (
	payOrderIDOnly  = `mutation($id: ID!, $amt: Int64!) { payOrder(orderId: $id, amountCents: $amt) { id } }`
	productByID     = `query($id: ID!) { product(id: $id) { id priceCents } }`
	placeOrderIDs   = `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { id } }`
	orderAtQueryIDs = `query($id: ID!) { orderAt(id: $id, version: 1) { id } }`
	eventsOfStream  = `query($s: ID) { events(streamId: $s) { position } }`
)

// TestPriceOrderedTwiceCannotWrap: a product priced 9,000,000,000,000,000,000 cents ordered twice
// used to give a negative totalCents that validated, was paid with a negative amount and
// confirmed. Prices are now 1..1,000,000,000 cents, and totals beyond 32 bits are Int64.
func TestPriceOrderedTwiceCannotWrap(t *testing.T) {
	t.Parallel()
	c := startApp(t, withFraudLimit(math.MaxInt64-1))
	c.registerCustomer(t, "rich", "Rich", "rich@example.com", "1 Gold St")
	before := c.quiesce(t)

	for _, price := range []int64{9_000_000_000_000_000_000, 1_000_000_001, 0, -1} {
		c.expectError(t, "BAD_USER_INPUT", upsertProductMutation,
			map[string]any{"in": map[string]any{"id": "gold", "name": "Gold", "priceCents": price}})
	}
	// The order of the issue cannot be placed: the product does not exist.
	c.expectError(t, "BAD_USER_INPUT", placeOrderIDs,
		map[string]any{"in": map[string]any{"id": "o-wrap", "customerId": "rich", "lines": []Line{{"gold", 2}}}})
	if after := c.quiesce(t); len(after) != len(before) {
		t.Fatalf("rejected commands wrote %d events", len(after)-len(before))
	}

	// The highest price, in 1,000 units: 10^12 cents, beyond a 32-bit Int, round trip as Int64.
	if p := c.upsertProduct(t, "gold", "Gold", 1_000_000_000); p.PriceCents != 1_000_000_000 {
		t.Fatalf("upsertProduct at the highest price returned %+v", p)
	}
	c.addStock(t, "gold", 1000)
	o := c.placeValidated(t, "o-big", "rich", []Line{{"gold", 1000}})
	if o.TotalCents != 1_000_000_000_000 || o.Lines[0].UnitPriceCents != 1_000_000_000 {
		t.Fatalf("order of 1000 at 1e9: total %d unit %d", o.TotalCents, o.Lines[0].UnitPriceCents)
	}
	// A negative payment, or a fraction, is refused whatever the total.
	c.expectError(t, "BAD_USER_INPUT", payOrderIDOnly, map[string]any{"id": "o-big", "amt": -1_000_000_000_000})
	c.expectError(t, "BAD_USER_INPUT", payOrderIDOnly, map[string]any{"id": "o-big", "amt": 1.5})
	c.expectError(t, "BAD_USER_INPUT", payOrderIDOnly, map[string]any{"id": "o-big", "amt": "9223372036854775808"})
	// Int64 takes a string of digits too.
	var out struct{ PayOrder struct{ ID string } }
	c.do(t, payOrderIDOnly, map[string]any{"id": "o-big", "amt": "1000000000000"}, &out)
	if got := c.mustOrder(t, "o-big"); got.Status != "PAID" {
		t.Fatalf("o-big after paying 10^12: %s, want PAID", got.Status)
	}
	// An Int stays 32-bit: a quantity past it is refused as bad input.
	c.expectError(t, "BAD_USER_INPUT", addStockMutation, map[string]any{"p": "gold", "q": int64(math.MaxInt32) + 1})
}

// TestAddStockMaxInt64Twice: addStock of 9,223,372,036,854,775,807 twice used to be accepted; the
// read model then stored a float and every stock query of the product failed for ever. One call
// now adds 1..1,000,000,000 units.
func TestAddStockMaxInt64Twice(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	c.upsertProduct(t, "bolt", "Bolt", 10)
	c.addStock(t, "bolt", 5)
	before := c.quiesce(t)
	for range 2 {
		c.expectError(t, "BAD_USER_INPUT", addStockMutation, map[string]any{"p": "bolt", "q": int64(math.MaxInt64)})
	}
	c.expectError(t, "BAD_USER_INPUT", addStockMutation, map[string]any{"p": "bolt", "q": 1_000_000_001})
	c.expectError(t, "BAD_USER_INPUT", addStockMutation, map[string]any{"p": "bolt", "q": 0})
	if after := c.quiesce(t); len(after) != len(before) {
		t.Fatalf("rejected addStock wrote %d events", len(after)-len(before))
	}
	if s := c.stock(t, "bolt"); s.OnHand != 5 || s.Available != 5 {
		t.Fatalf("stock after refused adds: %+v", s)
	}
	if s := c.addStock(t, "bolt", 1_000_000_000); s.OnHand != 1_000_000_005 {
		t.Fatalf("addStock of the most one call adds: %+v", s)
	}
	if s := c.stock(t, "bolt"); s.OnHand != 1_000_000_005 || s.Available != 1_000_000_005 {
		t.Fatalf("stock query after the largest add: %+v", s)
	}
}

// TestIDsAreBounded: a 1 MB customer or order id used to be accepted and copied into several
// stream ids. Ids are 1..128 bytes of printable UTF-8 wherever they enter.
func TestIDsAreBounded(t *testing.T) {
	t.Parallel()
	c := startApp(t, withFraudLimit(1_000_000_000))
	id128 := strings.Repeat("i", 128)
	c.registerCustomer(t, id128, "Long", "long@example.com", "1 Long St")
	c.upsertProduct(t, id128, "Long product", 100)
	c.addStock(t, id128, 10)
	o := c.placeValidated(t, id128, id128, []Line{{id128, 1}})
	c.payOrder(t, id128, o.TotalCents)
	before := c.quiesce(t)

	mb := strings.Repeat("m", 1<<20)
	// A body limit in front of GraphQL may refuse a 1 MB request before the rule sees it (413);
	// either way it must be refused and write nothing.
	refusedHuge := func(query string, vars map[string]any) {
		t.Helper()
		resp, err := c.exec(context.Background(), query, vars)
		if resp != nil && resp.Status == http.StatusRequestEntityTooLarge {
			return
		}
		if err != nil {
			t.Fatalf("request failed: %v", err)
		}
		if len(resp.Errors) == 0 || resp.Errors[0].code() != "BAD_USER_INPUT" {
			t.Errorf("1 MB id: want BAD_USER_INPUT, got %v (HTTP %d): %.300s", resp.codes(), resp.Status, resp.Body)
		}
	}
	refusedHuge(registerCustomerMutation, map[string]any{"in": customerInput(mb, "Huge", "huge@example.com", "1 Huge St")})
	refusedHuge(placeOrderIDs, map[string]any{"in": map[string]any{"id": mb, "customerId": id128, "lines": []Line{{id128, 1}}}})
	refusedHuge(placeOrderIDs, map[string]any{"in": map[string]any{"customerId": mb, "lines": []Line{{id128, 1}}}})

	id129 := strings.Repeat("i", 129)
	for name, id := range map[string]string{"129 bytes": id129, "a line break": "a\nb", "blank": " "} {
		t.Run(name, func(t *testing.T) {
			c.expectError(t, "BAD_USER_INPUT", registerCustomerMutation,
				map[string]any{"in": customerInput(id, "X", "x@example.com", "1 X St")})
			c.expectError(t, "BAD_USER_INPUT", updateAddressMutation, map[string]any{"c": id, "a": "2 X St"})
			c.expectError(t, "BAD_USER_INPUT", upsertProductMutation, map[string]any{"in": productInput(id, "X", 100)})
			c.expectError(t, "BAD_USER_INPUT", addStockMutation, map[string]any{"p": id, "q": 1})
			c.expectError(t, "BAD_USER_INPUT", placeOrderIDs,
				map[string]any{"in": map[string]any{"id": id, "customerId": id128, "lines": []Line{{id128, 1}}}})
			c.expectError(t, "BAD_USER_INPUT", placeOrderIDs,
				map[string]any{"in": map[string]any{"customerId": id, "lines": []Line{{id128, 1}}}})
			c.expectError(t, "BAD_USER_INPUT", placeOrderIDs,
				map[string]any{"in": map[string]any{"customerId": id128, "lines": []Line{{id, 1}}}})
			c.expectError(t, "BAD_USER_INPUT", payOrderIDOnly, map[string]any{"id": id, "amt": 100})
			c.expectError(t, "BAD_USER_INPUT", shipOrderMutation, map[string]any{"id": id})
			c.expectError(t, "BAD_USER_INPUT", cancelOrderMutation, map[string]any{"id": id})
			c.expectError(t, "BAD_USER_INPUT", orderAtQueryIDs, map[string]any{"id": id})
			c.expectError(t, "BAD_USER_INPUT", eventsOfStream, map[string]any{"s": "order-" + id})
		})
	}
	if after := c.quiesce(t); len(after) != len(before) {
		t.Fatalf("rejected commands wrote %d events", len(after)-len(before))
	}
	// The stream of a 128-byte id is still readable by its stream id.
	var evs struct{ Events []Event }
	c.do(t, eventsOfStream, map[string]any{"s": "customer-" + id128}, &evs)
	if len(evs.Events) != 1 {
		t.Fatalf("events(customer-<128 bytes>) = %d events, want 1", len(evs.Events))
	}
}

// TestHugeValuesAlreadyInTheLog starts the app on a log written before the bounds: a product
// priced 9e18 cents, two StockAdded of MaxInt64 and an order whose total wrapped negative. Events
// are never rewritten, so the folds must neither wrap nor fail: stock stays queryable (saturated)
// and takes no more, the wrapped order fails the fraud check instead of validating and cannot be
// paid, the customer's later orders fail the fraud check within the window, and the 9e18 price
// cannot be ordered again.
func TestHugeValuesAlreadyInTheLog(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "orderflow.db")
	const hugePrice int64 = 9_000_000_000_000_000_000
	wrapped := hugePrice
	wrapped *= 2 // what the total used to be: it wraps at run time
	writeOldLog(t, dbPath, []oldEvent{
		{"product-gold", catalog.ProductDefined{ProductID: "gold", Name: "Gold", PriceCents: hugePrice}},
		{"product-pen", catalog.ProductDefined{ProductID: "pen", Name: "Pen", PriceCents: 100}},
		{"stock-gold", inventory.StockAdded{ProductID: "gold", Quantity: math.MaxInt64}},
		{"stock-gold", inventory.StockAdded{ProductID: "gold", Quantity: math.MaxInt64}},
		{"stock-pen", inventory.StockAdded{ProductID: "pen", Quantity: 100}},
		{"customer-old", customer.CustomerRegistered{CustomerID: "old", Name: "Old", Email: "old@example.com", Address: "1 Old St"}},
		{"order-o-wrapped", order.OrderPlaced{OrderID: "o-wrapped", CustomerID: "old",
			Lines:      []order.Line{{ProductID: "gold", Quantity: 2, UnitPriceCents: hugePrice}},
			TotalCents: wrapped, PlacedAt: time.Now().UTC()}},
	})
	c := startApp(t, func(cfg *app.Config) { cfg.DBPath = dbPath })

	o := c.settled(t, "o-wrapped")
	if o.Status != "FAILED" || !o.hasReason("FRAUD_LIMIT_EXCEEDED") {
		t.Fatalf("order with a wrapped total: %s %v, want FAILED with FRAUD_LIMIT_EXCEEDED", o.Status, o.FailureReasons)
	}
	c.expectError(t, "CONFLICT", payOrderIDOnly, map[string]any{"id": "o-wrapped", "amt": wrapped})

	// The customer's window holds an order of more than an int64: later orders fail.
	if later := c.placeOrder(t, "o-later", "old", []Line{{"pen", 1}}, true); later.Status != "FAILED" || !later.hasReason("FRAUD_LIMIT_EXCEEDED") {
		t.Fatalf("later order of the same customer: %s %v, want FAILED with FRAUD_LIMIT_EXCEEDED", later.Status, later.FailureReasons)
	}

	// Stock folded from MaxInt64 twice saturates, stays queryable, and takes no more.
	s := c.waitStock(t, "gold", math.MaxInt64, 0) // the wrapped order's reservation was released
	if s.Available != math.MaxInt64 {
		t.Fatalf("stock(gold) = %+v", s)
	}
	c.expectError(t, "CONFLICT", addStockMutation, map[string]any{"p": "gold", "q": 1})
	if p := c.product(t, "gold"); p == nil || p.Stock == nil || p.Stock.OnHand != math.MaxInt64 {
		t.Fatalf("product(gold) with stock = %+v", p)
	}

	// The old price is served as it was recorded, but ordering it is refused, not wrapped.
	var prod struct{ Product struct{ PriceCents int64 } }
	c.do(t, productByID, map[string]any{"id": "gold"}, &prod)
	if prod.Product.PriceCents != hugePrice {
		t.Fatalf("priceCents of gold = %d, want %d", prod.Product.PriceCents, hugePrice)
	}
	c.expectError(t, "BAD_USER_INPUT", placeOrderIDs,
		map[string]any{"in": map[string]any{"id": "o-again", "customerId": "old", "lines": []Line{{"gold", 2}}}})
	if got := c.order(t, "o-again"); got != nil {
		t.Fatalf("refused order recorded: %+v", got)
	}
}

type oldEvent struct {
	stream  string
	payload events.Payload
}

// writeOldLog writes events straight into a new database, as an older version would have left
// them, before the app is started on it.
func writeOldLog(t *testing.T, path string, evs []oldEvent) {
	t.Helper()
	ctx := context.Background()
	db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, reg := events.NewStore(db), commands.Registry()
	reg.UseKeys(events.NewKeyring(db)) // customers' personal fields are sealed, as the server does
	for _, e := range evs {
		encoded, err := reg.Encode(events.Metadata{CorrelationID: events.NewID()}, e.payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(ctx, events.StreamAppend{StreamID: e.stream, ExpectedVersion: events.AnyVersion, Events: encoded}); err != nil {
			t.Fatal(err)
		}
	}
}
