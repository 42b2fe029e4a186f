package e2e

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"orderflow/graph/access"
)

// listPage is one page of products or customers: the node ids only.
type listPage struct {
	Edges []struct {
		Cursor string
		Node   struct{ ID string }
	}
	PageInfo PageInfo
}

// listAll pages through products or customers (field) first at a time and
// checks each page's shape: at most first edges, a full page whenever more
// follow, endCursor the last edge's cursor. It returns the ids in order.
func (c *client) listAll(t testing.TB, field string, first int) []string {
	t.Helper()
	var ids []string
	vars := map[string]any{"first": first}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("%s: paging does not end", field)
		}
		var out map[string]listPage
		c.do(t, `query($first: Int, $after: String) { `+field+`(first: $first, after: $after) {
  edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, vars, &out)
		page := out[field]
		if n := len(page.Edges); n > first || (page.PageInfo.HasNextPage && n < first) {
			t.Fatalf("%s(first: %d, after: %v): %d edges, hasNextPage %v", field, first, vars["after"], n, page.PageInfo.HasNextPage)
		}
		for _, e := range page.Edges {
			ids = append(ids, e.Node.ID)
		}
		if !page.PageInfo.HasNextPage {
			return ids
		}
		if last := page.Edges[len(page.Edges)-1].Cursor; page.PageInfo.EndCursor == nil || *page.PageInfo.EndCursor != last {
			t.Fatalf("%s: endCursor %v is not the last edge's cursor %q", field, page.PageInfo.EndCursor, last)
		}
		vars["after"] = *page.PageInfo.EndCursor
	}
}

// TestListProductsAndCustomers pages through products and customers, with
// access control on: both in id order whatever the order they were made
// in, each once, at any page size. Bad cursors (another list's included)
// and a first out of 0..100 are BAD_USER_INPUT. Every signed-in caller
// lists the catalog, as it reads a product; the customers are the admin's.
func TestListProductsAndCustomers(t *testing.T) {
	t.Parallel()
	anonymous := startApp(t, withAuthSecret(testSecret))
	admin := anonymous.as(token(t, access.RoleAdmin, "root", time.Hour))
	ada := anonymous.as(token(t, access.RoleCustomer, "ada", time.Hour))

	for _, id := range []string{"lamp", "chair", "table", "desk", "bed", "shelf", "sofa"} {
		admin.upsertProduct(t, id, "A "+id, 1000)
	}
	admin.upsertProduct(t, "lamp", "A brighter lamp", 1200) // renamed, listed once
	for _, id := range []string{"zoe", "bob", "mia", "eve"} {
		admin.registerCustomer(t, id, id, id+"@example.com", "1 Main St")
	}
	ada.registerCustomer(t, "ada", "Ada", "ada@example.com", "12 Analytical St")
	products := []string{"bed", "chair", "desk", "lamp", "shelf", "sofa", "table"}
	customers := []string{"ada", "bob", "eve", "mia", "zoe"}

	for _, first := range []int{1, 2, 3, 7, 100} {
		if got := admin.listAll(t, "products", first); !slices.Equal(got, products) {
			t.Errorf("products, %d a page: %v, want %v", first, got, products)
		}
		if got := admin.listAll(t, "customers", first); !slices.Equal(got, customers) {
			t.Errorf("customers, %d a page: %v, want %v", first, got, customers)
		}
	}
	if got := ada.listAll(t, "products", 3); !slices.Equal(got, products) {
		t.Errorf("products as a customer: %v, want %v", got, products)
	}
	var out struct {
		Products struct{ Edges []struct{ Node Product } }
	}
	admin.do(t, `{ products(first: 1, after: "`+cursorAfter(t, admin, "products", "desk")+`") { edges { node { `+productFields+` stock { onHand } } } } }`, nil, &out)
	if e := out.Products.Edges; len(e) != 1 || e[0].Node.Stock == nil ||
		e[0].Node.ID != "lamp" || e[0].Node.Name != "A brighter lamp" || e[0].Node.PriceCents != 1200 {
		t.Errorf("the product after desk: %s, want lamp as it is now, with its stock", jsonString(e))
	}

	// A page of none says whether there is any, and has no endCursor.
	var none map[string]listPage
	admin.do(t, `{ products(first: 0) { edges { cursor } pageInfo { hasNextPage endCursor } } }`, nil, &none)
	if p := none["products"]; len(p.Edges) != 0 || !p.PageInfo.HasNextPage || p.PageInfo.EndCursor != nil {
		t.Errorf("products(first: 0) = %+v, want no edges, hasNextPage, no endCursor", p)
	}

	orderCursor := "b3JkZXI6MQ" // order:1, a cursor of orders
	for _, q := range []string{
		`{ products(after: "not-a-cursor") { edges { cursor } } }`,
		`{ products(after: "` + orderCursor + `") { edges { cursor } } }`,
		`{ customers(after: "` + cursorAfter(t, admin, "products", "bed") + `") { edges { cursor } } }`,
		`{ orders(after: "` + cursorAfter(t, admin, "customers", "ada") + `") { edges { cursor } } }`,
		`{ products(first: -1) { edges { cursor } } }`,
		`{ products(first: 101) { edges { cursor } } }`,
		`{ customers(first: -1) { edges { cursor } } }`,
		`{ customers(first: 101) { edges { cursor } } }`,
	} {
		admin.expectError(t, "BAD_USER_INPUT", q, nil)
	}

	// The customers are every customer's data: refused to a customer, even
	// with a page size or cursor that would be refused anyway.
	for _, q := range []string{`{ customers { edges { node { id } } } }`, `{ customers(first: 101) { edges { cursor } } }`} {
		ada.expectError(t, "FORBIDDEN", q, nil)
		anonymous.expectError(t, "UNAUTHENTICATED", q, nil)
	}
	anonymous.expectError(t, "UNAUTHENTICATED", `{ products { edges { node { id } } } }`, nil)
}

// cursorAfter is the cursor of the edge of id in field (products or
// customers), read from the first page.
func cursorAfter(t testing.TB, c *client, field, id string) string {
	t.Helper()
	var out map[string]json.RawMessage
	c.do(t, `{ `+field+`(first: 100) { edges { cursor node { id } } } }`, nil, &out)
	var page listPage
	if err := json.Unmarshal(out[field], &page); err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Edges {
		if e.Node.ID == id {
			return e.Cursor
		}
	}
	t.Fatalf("%s has no %s", field, id)
	return ""
}
