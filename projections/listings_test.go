package projections_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"orderflow/domain/catalog"
	"orderflow/domain/customer"
	"orderflow/projections"
)

// TestListingsPageByID pages through the products and customers read
// models at several page sizes: every row once, in id order, hasNext false
// only on the last page, and a withdrawn product not listed (as Product
// answers nil for it) while a cursor at it still pages on. After a rebuild
// swaps the read models' tables the listings answer the same.
func TestListingsPageByID(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, projections.All()...)
	views := projections.NewViews(f.db.Reader())

	// Defined out of id order, so that id order is not log order.
	for _, id := range []string{"p07", "p03", "p10", "p01", "p05", "p02", "p09", "p04", "p08", "p06"} {
		f.write(t, catalog.StreamID(id), catalog.ProductDefined{ProductID: id, Name: "Product " + id, PriceCents: 100})
	}
	for _, id := range []string{"zoe", "ada", "mia", "bob", "eve"} {
		f.write(t, customer.StreamID(id), customer.CustomerRegistered{CustomerID: id, Name: id, Email: id + "@example.com", Address: "1 Main St"})
	}
	f.write(t, catalog.StreamID("p04"), catalog.ProductWithdrawn{ProductID: "p04"})
	f.write(t, catalog.StreamID("p10"), catalog.ProductWithdrawn{ProductID: "p10"})
	if p, err := views.Product(ctx, "p04"); err != nil || p != nil {
		t.Fatalf("Product(p04) after its withdrawal = %+v, %v; want nil", p, err)
	}

	products := func(first int, after string) ([]string, bool, error) {
		return ids(views.Products(ctx, first, after))
	}
	customers := func(first int, after string) ([]string, bool, error) {
		return ids(views.Customers(ctx, first, after))
	}
	wantProducts := []string{"p01", "p02", "p03", "p05", "p06", "p07", "p08", "p09"}
	wantCustomers := []string{"ada", "bob", "eve", "mia", "zoe"}

	check := func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			list  func(first int, after string) ([]string, bool, error)
			first int
			want  []string
		}{
			{"products one at a time", products, 1, wantProducts},
			{"products three at a time", products, 3, wantProducts},
			{"products in a page that just fits", products, 8, wantProducts},
			{"products in one large page", products, 100, wantProducts},
			{"customers two at a time", customers, 2, wantCustomers},
			{"customers in a page that just fits", customers, 5, wantCustomers},
		} {
			t.Run(tt.name, func(t *testing.T) {
				var got []string
				after := ""
				for pages := 0; ; pages++ {
					if pages > len(tt.want) {
						t.Fatalf("paging does not end: %v", got)
					}
					ids, hasNext, err := tt.list(tt.first, after)
					if err != nil {
						t.Fatal(err)
					}
					if len(ids) > tt.first || (hasNext && len(ids) < tt.first) {
						t.Fatalf("page after %q: %d rows, hasNext %v (first %d)", after, len(ids), hasNext, tt.first)
					}
					got = append(got, ids...)
					if !hasNext {
						break
					}
					after = ids[len(ids)-1]
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
		// A page of none says whether there is any; the page after the last
		// row is empty; a cursor at a withdrawn product goes on after it.
		for _, tt := range []struct {
			name      string
			first     int
			after     string
			want      []string
			wantNext  bool
			customers bool
		}{
			{"first 0", 0, "", nil, true, false},
			{"after the last", 10, "p09", nil, false, false},
			{"after a withdrawn product", 2, "p04", []string{"p05", "p06"}, true, false},
			{"after the withdrawn last product", 2, "p10", nil, false, false},
			{"customers after a cursor between ids", 2, "b", []string{"bob", "eve"}, true, true},
		} {
			t.Run(tt.name, func(t *testing.T) {
				list := products
				if tt.customers {
					list = customers
				}
				ids, hasNext, err := list(tt.first, tt.after)
				if err != nil || !slices.Equal(ids, tt.want) || hasNext != tt.wantNext {
					t.Errorf("got %v, hasNext %v, %v; want %v, hasNext %v", ids, hasNext, err, tt.want, tt.wantNext)
				}
			})
		}
	}
	t.Run("live", check)
	if err := f.runner.Rebuild(ctx, []string{"products", "customers"}, nil); err != nil {
		t.Fatal(err)
	}
	t.Run("rebuilt", check)
}

// TestListingsUseThePrimaryKey: a page of products or customers is a range
// scan of the id index, never a sort of the whole table, however large the
// catalog grows.
func TestListingsUseThePrimaryKey(t *testing.T) {
	f := newFixture(t, projections.All()...)
	for name, q := range projections.ListingQueries {
		rows, err := f.db.Reader().QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, "", 21)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		if !strings.Contains(all, "USING INDEX") || strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("%s: query plan %q, want a search of the primary key's index and no sort", name, all)
		}
		t.Logf("%s: %s", name, all)
	}
}

// ids are the ids of a page of products or customers.
func ids[R projections.Product | projections.Customer](page []R, hasNext bool, err error) ([]string, bool, error) {
	var out []string
	for _, r := range page {
		switch r := any(r).(type) {
		case projections.Product:
			out = append(out, r.ID)
		case projections.Customer:
			out = append(out, r.ID)
		}
	}
	return out, hasNext, err
}
