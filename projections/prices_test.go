package projections_test

import (
	"context"
	"reflect"
	"testing"

	"orderflow/domain/catalog"
	"orderflow/projections"
)

// TestPricesFollowTheCatalog checks the orders context's price copy: an
// unknown product is absent until defined, a cached price is replaced as
// soon as a repricing is applied (read-your-writes), and other events leave
// it alone.
func TestPricesFollowTheCatalog(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, projections.All()...)
	prices := projections.NewPrices(projections.NewViews(f.db.Reader()), f.runner)
	expect := func(want map[string]int64) {
		t.Helper()
		got, err := prices.Prices(ctx, []string{"kettle", "toaster"})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("prices = %v, want %v", got, want)
		}
	}
	expect(map[string]int64{})
	f.write(t, "product-kettle", catalog.ProductDefined{ProductID: "kettle", Name: "Kettle", PriceCents: 2500})
	expect(map[string]int64{"kettle": 2500})
	f.write(t, "product-toaster", catalog.ProductDefined{ProductID: "toaster", Name: "Toaster", PriceCents: 900})
	expect(map[string]int64{"kettle": 2500, "toaster": 900})
	f.write(t, "product-kettle", catalog.ProductRepriced{ProductID: "kettle", PriceCents: 2700})
	expect(map[string]int64{"kettle": 2700, "toaster": 900})
	f.write(t, "product-kettle", catalog.ProductRenamed{ProductID: "kettle", Name: "Electric kettle"})
	expect(map[string]int64{"kettle": 2700, "toaster": 900})
}
