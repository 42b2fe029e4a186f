package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
)

const (
	registerCustomerMutation = `mutation($in: RegisterCustomerInput!) { registerCustomer(input: $in) { ` + customerFields + ` } }`
	upsertProductMutation    = `mutation($in: ProductInput!) { upsertProduct(input: $in) { ` + productFields + ` } }`
	addStockMutation         = `mutation($p: ID!, $q: Int!) { addStock(productId: $p, quantity: $q) { ` + stockFields + ` } }`
	updateAddressMutation    = `mutation($c: ID!, $a: String!) { updateCustomerAddress(customerId: $c, address: $a) { ` + customerFields + ` } }`
)

// TestErrorCodes sends every kind of rejected command and checks its extensions.code, that the
// rejection wrote nothing (the event store does not grow), and that the API never answers 500.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	// The fraud check is not under test here; a huge limit keeps it out of the way.
	c := startApp(t, withFraudLimit(1_000_000_000))

	c.registerCustomer(t, "c1", "Carol", "carol@example.com", "1 First St")
	if got := c.updateAddress(t, "c1", "2 Second St"); got.Address != "2 Second St" {
		t.Fatalf("updateCustomerAddress returned %+v", got)
	}
	if got := c.customer(t, "c1"); got == nil || got.Address != "2 Second St" {
		t.Fatalf("customer(c1) after address change = %+v", got)
	}
	c.upsertProduct(t, "p", "Pen", 500)
	c.addStock(t, "p", 100)
	var many []Line
	for i := 0; i <= 100; i++ {
		id := fmt.Sprintf("p-%03d", i)
		c.upsertProduct(t, id, "Part "+id, 1)
		many = append(many, Line{id, 1})
	}

	// Boundaries that are accepted: 100 lines and a quantity of 1000 (both fail later for stock).
	if o := c.placeOrder(t, "o-100-lines", "c1", many[:100], false); o.ID != "o-100-lines" || len(o.Lines) != 100 {
		t.Fatalf("100-line order: got id %q with %d lines", o.ID, len(o.Lines))
	}
	oFailed := c.placeOrder(t, "o-failed", "c1", []Line{{"p", 1000}}, true)
	if oFailed.Status != "FAILED" {
		t.Fatalf("o-failed (1000 of 100 in stock): %s, want FAILED", oFailed.Status)
	}
	oValidated := c.placeValidated(t, "o-validated", "c1", []Line{{"p", 2}})
	oPaid := c.placeValidated(t, "o-paid", "c1", []Line{{"p", 1}})
	c.payOrder(t, "o-paid", oPaid.TotalCents)
	oShipped := c.placeValidated(t, "o-shipped", "c1", []Line{{"p", 3}})
	c.payOrder(t, "o-shipped", oShipped.TotalCents)
	c.shipOrder(t, "o-shipped")
	oCancelled := c.placeValidated(t, "o-cancelled", "c1", []Line{{"p", 4}})
	if got := c.cancelOrder(t, "o-cancelled", "changed my mind"); got.Status != "CANCELLED" {
		t.Fatalf("cancelOrder returned %s, want CANCELLED", got.Status)
	}
	c.settled(t, "o-100-lines")
	c.waitStock(t, "p", 97, 2+1) // shipped 3 committed; validated 2 and paid 1 reserved
	before := c.quiesce(t)

	orderVars := func(id, cust string, lines ...Line) map[string]any {
		return placeOrderVars(id, cust, lines, false)
	}
	type rejection struct {
		name  string
		code  string
		query string
		vars  map[string]any
		field string // the mutation's field, which must come back null
		after func(t *testing.T)
	}
	orderAbsent := func(id string) func(t *testing.T) {
		return func(t *testing.T) {
			if o := c.order(t, id); o != nil {
				t.Errorf("rejected placeOrder left order %s behind: %+v", id, o)
			}
		}
	}
	productAbsent := func(id string) func(t *testing.T) {
		return func(t *testing.T) {
			if p := c.product(t, id); p != nil {
				t.Errorf("rejected upsertProduct left product %s behind: %+v", id, p)
			}
		}
	}
	customerAbsent := func(id string) func(t *testing.T) {
		return func(t *testing.T) {
			if cu := c.customer(t, id); cu != nil {
				t.Errorf("rejected registerCustomer left customer %s behind: %+v", id, cu)
			}
		}
	}
	orderStatus := func(id, want string) func(t *testing.T) {
		return func(t *testing.T) {
			if got := c.mustOrder(t, id); got.Status != want {
				t.Errorf("order %s is %s after a rejected command, want %s", id, got.Status, want)
			}
		}
	}
	penUnchanged := func(t *testing.T) {
		if p := c.product(t, "p"); p == nil || p.Name != "Pen" || p.PriceCents != 500 {
			t.Errorf("product p changed by a rejected upsert: %+v", p)
		}
	}
	dup := []Line{{"p", 1}, {"p-000", 1}, {"p", 2}}

	cases := []rejection{
		// BAD_USER_INPUT: shape and values, checked at once.
		{"place/no lines", "BAD_USER_INPUT", placeOrderMutation, orderVars("o-bad-1", "c1"), "placeOrder", orderAbsent("o-bad-1")},
		{"place/101 lines", "BAD_USER_INPUT", placeOrderMutation, orderVars("o-bad-2", "c1", many...), "placeOrder", orderAbsent("o-bad-2")},
		{"place/quantity 0", "BAD_USER_INPUT", placeOrderMutation, orderVars("o-bad-3", "c1", Line{"p", 0}), "placeOrder", orderAbsent("o-bad-3")},
		{"place/quantity 1001", "BAD_USER_INPUT", placeOrderMutation, orderVars("o-bad-4", "c1", Line{"p", 1001}), "placeOrder", orderAbsent("o-bad-4")},
		{"place/quantity negative", "BAD_USER_INPUT", placeOrderMutation, orderVars("o-bad-5", "c1", Line{"p", -1}), "placeOrder", orderAbsent("o-bad-5")},
		{"place/duplicate product", "BAD_USER_INPUT", placeOrderMutation, orderVars("o-bad-6", "c1", dup...), "placeOrder", orderAbsent("o-bad-6")},
		{"place/unknown product", "BAD_USER_INPUT", placeOrderMutation, orderVars("o-bad-7", "c1", Line{"p", 1}, Line{"p-nope", 1}), "placeOrder", orderAbsent("o-bad-7")},
		{"place/bad line without id", "BAD_USER_INPUT", placeOrderMutation, orderVars("", "c1", Line{"p", 0}), "placeOrder", nil},
		{"upsertProduct/empty name", "BAD_USER_INPUT", upsertProductMutation, map[string]any{"in": productInput("p-bad", "", 100)}, "upsertProduct", productAbsent("p-bad")},
		{"upsertProduct/blank name", "BAD_USER_INPUT", upsertProductMutation, map[string]any{"in": productInput("p-bad", "   ", 100)}, "upsertProduct", productAbsent("p-bad")},
		{"upsertProduct/price 0", "BAD_USER_INPUT", upsertProductMutation, map[string]any{"in": productInput("p-bad", "Bad", 0)}, "upsertProduct", productAbsent("p-bad")},
		{"upsertProduct/price negative", "BAD_USER_INPUT", upsertProductMutation, map[string]any{"in": productInput("p-bad", "Bad", -5)}, "upsertProduct", productAbsent("p-bad")},
		{"upsertProduct/existing, blank name", "BAD_USER_INPUT", upsertProductMutation, map[string]any{"in": productInput("p", " ", 500)}, "upsertProduct", penUnchanged},
		{"upsertProduct/existing, price 0", "BAD_USER_INPUT", upsertProductMutation, map[string]any{"in": productInput("p", "Pen", 0)}, "upsertProduct", penUnchanged},
		{"registerCustomer/bad email", "BAD_USER_INPUT", registerCustomerMutation, map[string]any{"in": customerInput("c-bad", "Bad", "not-an-email", "Addr 1")}, "registerCustomer", customerAbsent("c-bad")},
		{"registerCustomer/email without domain", "BAD_USER_INPUT", registerCustomerMutation, map[string]any{"in": customerInput("c-bad", "Bad", "user@", "Addr 1")}, "registerCustomer", customerAbsent("c-bad")},
		{"registerCustomer/email without user", "BAD_USER_INPUT", registerCustomerMutation, map[string]any{"in": customerInput("c-bad", "Bad", "@example.com", "Addr 1")}, "registerCustomer", customerAbsent("c-bad")},
		{"registerCustomer/empty email", "BAD_USER_INPUT", registerCustomerMutation, map[string]any{"in": customerInput("c-bad", "Bad", "", "Addr 1")}, "registerCustomer", customerAbsent("c-bad")},
		{"registerCustomer/blank name", "BAD_USER_INPUT", registerCustomerMutation, map[string]any{"in": customerInput("c-bad", "  ", "bad@example.com", "Addr 1")}, "registerCustomer", customerAbsent("c-bad")},
		{"registerCustomer/blank address", "BAD_USER_INPUT", registerCustomerMutation, map[string]any{"in": customerInput("c-bad", "Bad", "bad@example.com", "")}, "registerCustomer", customerAbsent("c-bad")},
		{"payOrder/amount too small", "BAD_USER_INPUT", payOrderMutation, map[string]any{"id": "o-validated", "amt": oValidated.TotalCents - 1}, "payOrder", orderStatus("o-validated", "VALIDATED")},
		{"payOrder/amount too big", "BAD_USER_INPUT", payOrderMutation, map[string]any{"id": "o-validated", "amt": oValidated.TotalCents + 1}, "payOrder", orderStatus("o-validated", "VALIDATED")},
		{"payOrder/amount 0", "BAD_USER_INPUT", payOrderMutation, map[string]any{"id": "o-validated", "amt": 0}, "payOrder", orderStatus("o-validated", "VALIDATED")},
		{"addStock/quantity 0", "BAD_USER_INPUT", addStockMutation, map[string]any{"p": "p", "q": 0}, "addStock", nil},
		{"addStock/quantity negative", "BAD_USER_INPUT", addStockMutation, map[string]any{"p": "p", "q": -5}, "addStock", nil},

		// NOT_FOUND.
		{"payOrder/unknown order", "NOT_FOUND", payOrderMutation, map[string]any{"id": "o-nope", "amt": 500}, "payOrder", orderAbsent("o-nope")},
		{"shipOrder/unknown order", "NOT_FOUND", shipOrderMutation, map[string]any{"id": "o-nope"}, "shipOrder", orderAbsent("o-nope")},
		{"cancelOrder/unknown order", "NOT_FOUND", cancelOrderMutation, map[string]any{"id": "o-nope", "reason": "x"}, "cancelOrder", orderAbsent("o-nope")},
		{"updateCustomerAddress/unknown customer", "NOT_FOUND", updateAddressMutation, map[string]any{"c": "c-nope", "a": "Nowhere 1"}, "updateCustomerAddress", customerAbsent("c-nope")},
		{"addStock/unknown product", "NOT_FOUND", addStockMutation, map[string]any{"p": "p-nope", "q": 5}, "addStock", productAbsent("p-nope")},

		// CONFLICT: the state does not allow it.
		{"shipOrder/validated but unpaid", "CONFLICT", shipOrderMutation, map[string]any{"id": "o-validated"}, "shipOrder", orderStatus("o-validated", "VALIDATED")},
		{"shipOrder/already shipped", "CONFLICT", shipOrderMutation, map[string]any{"id": "o-shipped"}, "shipOrder", orderStatus("o-shipped", "SHIPPED")},
		{"shipOrder/cancelled", "CONFLICT", shipOrderMutation, map[string]any{"id": "o-cancelled"}, "shipOrder", orderStatus("o-cancelled", "CANCELLED")},
		{"shipOrder/failed", "CONFLICT", shipOrderMutation, map[string]any{"id": "o-failed"}, "shipOrder", orderStatus("o-failed", "FAILED")},
		{"cancelOrder/shipped", "CONFLICT", cancelOrderMutation, map[string]any{"id": "o-shipped", "reason": "too late"}, "cancelOrder", orderStatus("o-shipped", "SHIPPED")},
		{"cancelOrder/already cancelled", "CONFLICT", cancelOrderMutation, map[string]any{"id": "o-cancelled", "reason": "again"}, "cancelOrder", orderStatus("o-cancelled", "CANCELLED")},
		{"cancelOrder/failed", "CONFLICT", cancelOrderMutation, map[string]any{"id": "o-failed", "reason": "x"}, "cancelOrder", orderStatus("o-failed", "FAILED")},
		{"payOrder/cancelled", "CONFLICT", payOrderMutation, map[string]any{"id": "o-cancelled", "amt": oCancelled.TotalCents}, "payOrder", orderStatus("o-cancelled", "CANCELLED")},
		{"payOrder/failed", "CONFLICT", payOrderMutation, map[string]any{"id": "o-failed", "amt": oFailed.TotalCents}, "payOrder", orderStatus("o-failed", "FAILED")},
		{"payOrder/paid twice", "CONFLICT", payOrderMutation, map[string]any{"id": "o-paid", "amt": oPaid.TotalCents}, "payOrder", orderStatus("o-paid", "PAID")},
		{"payOrder/shipped", "CONFLICT", payOrderMutation, map[string]any{"id": "o-shipped", "amt": oShipped.TotalCents}, "payOrder", orderStatus("o-shipped", "SHIPPED")},
		{"registerCustomer/same id, other name", "CONFLICT", registerCustomerMutation, map[string]any{"in": customerInput("c1", "Caroline", "carol@example.com", "1 First St")}, "registerCustomer", nil},
		{"registerCustomer/same id, other email", "CONFLICT", registerCustomerMutation, map[string]any{"in": customerInput("c1", "Carol", "carol2@example.com", "1 First St")}, "registerCustomer", nil},
		{"placeOrder/same id, other quantity", "CONFLICT", placeOrderMutation, orderVars("o-validated", "c1", Line{"p", 3}), "placeOrder", orderStatus("o-validated", "VALIDATED")},
		{"placeOrder/same id, other product", "CONFLICT", placeOrderMutation, orderVars("o-validated", "c1", Line{"p-000", 2}), "placeOrder", orderStatus("o-validated", "VALIDATED")},
		{"placeOrder/same id, other customer", "CONFLICT", placeOrderMutation, orderVars("o-validated", "c-other", Line{"p", 2}), "placeOrder", orderStatus("o-validated", "VALIDATED")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.expectError(t, tc.code, tc.query, tc.vars)
			checkNullField(t, resp, tc.field)
			if tc.after != nil {
				tc.after(t)
			}
			checkNothingWritten(t, c, before)
		})
	}

	t.Run("registerCustomer/identical retry", func(t *testing.T) {
		// The original registration, not the changed address, is what a retry repeats.
		resp, err := c.exec(context.Background(), registerCustomerMutation,
			map[string]any{"in": customerInput("c1", "Carol", "carol@example.com", "1 First St")})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Errors) > 0 {
			t.Logf("note: retrying the original registration after an address change is rejected with %v", resp.codes())
		}
		checkNothingWritten(t, c, before)

		c.registerCustomer(t, "c-retry", "Dan", "dan@example.com", "4 Fourth St")
		n := len(c.events(t, "customer-c-retry"))
		again := c.registerCustomer(t, "c-retry", "Dan", "dan@example.com", "4 Fourth St")
		if again.ID != "c-retry" || again.Name != "Dan" {
			t.Errorf("identical registerCustomer returned %+v", again)
		}
		if got := len(c.events(t, "customer-c-retry")); got != n {
			t.Errorf("identical registerCustomer appended: customer stream has %d events, had %d", got, n)
		}
		before = c.quiesce(t)
	})

	t.Run("placeOrder/identical retry", func(t *testing.T) {
		n := len(c.events(t, "order-o-validated"))
		for _, wait := range []bool{false, true} {
			again := c.placeOrder(t, "o-validated", "c1", []Line{{"p", 2}}, wait)
			if again.ID != "o-validated" || again.TotalCents != oValidated.TotalCents || !again.CreatedAt.Equal(oValidated.CreatedAt) {
				t.Errorf("identical placeOrder (wait %v) returned %+v, want the original %+v", wait, again, oValidated)
			}
		}
		if got := len(c.events(t, "order-o-validated")); got != n {
			t.Errorf("identical placeOrder appended: order stream has %d events, had %d", got, n)
		}
		if got := len(c.allOrders(t, "c1", "", 50)); got != 6 {
			t.Errorf("orders(customerId: c1) = %d orders after retries, want 6", got)
		}
		checkNothingWritten(t, c, before)
	})

	t.Run("missing order is null", func(t *testing.T) {
		resp, err := c.exec(context.Background(), `query { order(id: "o-missing") { id status } }`, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Errors) > 0 {
			t.Errorf("order(missing): errors %s", resp.Body)
		}
		var data map[string]json.RawMessage
		if err := json.Unmarshal(resp.Data, &data); err != nil {
			t.Fatalf("order(missing): data %s: %v", resp.Data, err)
		}
		if v, ok := data["order"]; !ok || string(v) != "null" {
			t.Errorf("order(missing) = %s, want null", resp.Data)
		}
	})

	t.Run("malformed requests are not 500", func(t *testing.T) {
		for _, body := range []string{
			`{not json`,
			`{"query": "{ nosuchfield }"}`,
			`{"query": "mutation { placeOrder(input: {customerId: \"c1\"}) { id } }"}`,
			`{"query": "query { order(id: \"o-validated\") { id status"}`,
			`{"query": "query($n: Int) { orders(first: $n) { edges { cursor } } }", "variables": {"n": "many"}}`,
			`{"query": "query { orders(after: \"not-a-cursor\") { edges { cursor } } }"}`,
			`{"query": "query { orders(first: -1) { edges { cursor } } }"}`,
			`{"query": "query { events(afterPosition: -5, first: -1) { position } }"}`,
		} {
			resp, err := http.Post(c.base+"/graphql", "application/json", bytes.NewReader([]byte(body)))
			if err != nil {
				t.Fatalf("POST %s: %v", body, err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("POST %s: HTTP %d: %s", body, resp.StatusCode, raw)
			}
		}
		checkNothingWritten(t, c, before)
	})
}

func (c *client) updateAddress(t testing.TB, customerID, address string) Customer {
	t.Helper()
	var out struct{ UpdateCustomerAddress Customer }
	c.do(t, updateAddressMutation, map[string]any{"c": customerID, "a": address}, &out)
	return out.UpdateCustomerAddress
}

// checkNullField: a rejected mutation's non-null field nulls it (or the whole data).
func checkNullField(t *testing.T, resp *gqlResponse, field string) {
	t.Helper()
	if field == "" || len(resp.Data) == 0 || string(resp.Data) == "null" {
		return
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(resp.Data, &data); err != nil {
		t.Errorf("data is not an object: %s", resp.Data)
		return
	}
	if v, ok := data[field]; ok && string(v) != "null" {
		t.Errorf("rejected %s still returned data: %s", field, v)
	}
}

// checkNothingWritten compares the whole store with the snapshot taken when it was quiet.
func checkNothingWritten(t *testing.T, c *client, before []Event) {
	t.Helper()
	after := c.events(t, "")
	if len(after) == len(before) {
		return
	}
	var extra []string
	for _, e := range after[min(len(before), len(after)):] {
		extra = append(extra, fmt.Sprintf("%s v%d %s %s", e.StreamID, e.Version, e.Type, e.Data))
	}
	t.Errorf("the store has %d events, had %d: a rejected command wrote %v", len(after), len(before), extra)
}
