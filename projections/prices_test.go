package projections_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"

	"orderflow/commands"
	"orderflow/domain/catalog"
	"orderflow/events"
	"orderflow/migrations"
	"orderflow/projections"
)

// TestPricesFollowTheCatalog checks the orders context's price copy: an
// unknown product is absent until defined, a cached price is replaced as
// soon as a repricing is applied (read-your-writes), and other events leave
// it alone.
func TestPricesFollowTheCatalog(t *testing.T) {
	ctx := context.Background()
	db, err := events.Open(ctx, filepath.Join(t.TempDir(), "p.db"), events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, reg := events.NewStore(db), commands.Registry()
	runner := projections.NewRunner(store, reg, slog.New(slog.DiscardHandler), projections.All()...)
	runCtx, stop := context.WithCancel(ctx)
	wg, err := runner.Start(runCtx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { stop(); wg.Wait() }()
	prices := projections.NewPrices(projections.NewViews(db.Reader()), runner)

	write := func(stream string, p events.Payload) {
		t.Helper()
		evs, err := reg.Encode(events.Metadata{}, p)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := store.Append(ctx, events.StreamAppend{StreamID: stream, ExpectedVersion: events.AnyVersion, Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		if err := runner.WaitFor(ctx, stored[0].Position); err != nil {
			t.Fatal(err)
		}
	}
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
	write("product-kettle", catalog.ProductDefined{ProductID: "kettle", Name: "Kettle", PriceCents: 2500})
	expect(map[string]int64{"kettle": 2500})
	write("product-toaster", catalog.ProductDefined{ProductID: "toaster", Name: "Toaster", PriceCents: 900})
	expect(map[string]int64{"kettle": 2500, "toaster": 900})
	write("product-kettle", catalog.ProductRepriced{ProductID: "kettle", PriceCents: 2700})
	expect(map[string]int64{"kettle": 2700, "toaster": 900})
	write("product-kettle", catalog.ProductRenamed{ProductID: "kettle", Name: "Electric kettle"})
	expect(map[string]int64{"kettle": 2700, "toaster": 900})
}
