package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"orderflow/commands"
	"orderflow/domain/catalog"
	"orderflow/domain/customer"
	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/domain/payment"
	"orderflow/events"
	"orderflow/migrations"
	"orderflow/projections"
)

// seedLog writes a realistic log of about n events straight into a new store:
// customers, products and stock, then orders going through the whole flow
// (placed, reserved, checked, validated, paid, shipped, committed: 9 events
// each), in transactions of 1000 events.
func seedLog(tb testing.TB, n int) (*events.DB, *events.Store, *events.Registry) {
	tb.Helper()
	ctx := context.Background()
	db, err := events.Open(ctx, filepath.Join(tb.TempDir(), "bench.db"),
		events.Options{Durability: events.DurabilityNormal, Migrate: migrations.Apply})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	store, reg := events.NewStore(db), commands.Registry()
	reg.UseKeys(events.NewKeyring(db))

	const customers, products = 1000, 100
	var batch []events.StreamAppend
	total := 0
	add := func(stream string, ps ...events.Payload) {
		evs, err := reg.Encode(events.Metadata{CorrelationID: stream}, ps...)
		if err != nil {
			tb.Fatal(err)
		}
		batch = append(batch, events.StreamAppend{StreamID: stream, ExpectedVersion: events.AnyVersion, Events: evs})
		total += len(evs)
		if len(batch) >= 200 {
			flush(tb, store, &batch)
		}
	}
	for c := range customers {
		id := fmt.Sprintf("c%d", c)
		add(customer.StreamID(id), customer.CustomerRegistered{CustomerID: id, Name: "N", Email: id + "@example.com", Address: "A"})
	}
	for p := range products {
		id := fmt.Sprintf("p%d", p)
		add(catalog.StreamID(id), catalog.ProductDefined{ProductID: id, Name: "P", PriceCents: 100})
		add(inventory.StreamID(id), inventory.StockAdded{ProductID: id, Quantity: 1 << 30})
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for o := 0; total < n; o++ {
		id, c, p := fmt.Sprintf("o%d", o), fmt.Sprintf("c%d", o%customers), fmt.Sprintf("p%d", o%products)
		lines := []order.Line{{ProductID: p, Quantity: 1, UnitPriceCents: 100}}
		at := t0.Add(time.Duration(o) * time.Second)
		add(order.StreamID(id), order.OrderPlaced{OrderID: id, CustomerID: c, Lines: lines, TotalCents: 100, PlacedAt: at})
		add(inventory.StreamID(p), inventory.StockReserved{ProductID: p, OrderID: id, Quantity: 1})
		add(fraud.StreamID(c), fraud.FraudCheckPassed{CustomerID: c, OrderID: id, PlacedAt: at, TotalCents: 100, WindowTotalCents: 100})
		add(customercheck.StreamID(id), customercheck.CustomerCheckPassed{OrderID: id, CustomerID: c})
		add(order.StreamID(id), order.OrderValidated{OrderID: id})
		add(payment.StreamID(id), payment.PaymentReceived{PaymentID: id, OrderID: id, AmountCents: 100})
		add(order.StreamID(id), order.OrderPaid{OrderID: id, PaymentID: id, AmountCents: 100}, order.OrderShipped{OrderID: id, Lines: lines})
		add(inventory.StreamID(p), inventory.StockCommitted{ProductID: p, OrderID: id, Quantity: 1})
	}
	flush(tb, store, &batch)
	return db, store, reg
}

func flush(tb testing.TB, store *events.Store, batch *[]events.StreamAppend) {
	// One stream may appear only once per append; split where it repeats.
	var part []events.StreamAppend
	seen := map[string]bool{}
	for _, a := range *batch {
		if seen[a.StreamID] {
			if _, err := store.Append(context.Background(), part...); err != nil {
				tb.Fatal(err)
			}
			part, seen = nil, map[string]bool{}
		}
		part, seen[a.StreamID] = append(part, a), true
	}
	if len(part) > 0 {
		if _, err := store.Append(context.Background(), part...); err != nil {
			tb.Fatal(err)
		}
	}
	*batch = (*batch)[:0]
}

// BenchmarkReplay rebuilds every projection from a log of events
// (ORDERFLOW_BENCH_EVENTS, default 200000; the README's figure uses
// 1000000) and reports events/s and how much the heap grew while it ran.
func BenchmarkReplay(b *testing.B) {
	n := envInt("ORDERFLOW_BENCH_EVENTS", 200_000)
	db, store, reg := seedLog(b, n)
	runner := projections.NewRunner(store, reg, slog.New(slog.DiscardHandler), projections.All()...)
	ctx := context.Background()
	if err := runner.Init(ctx); err != nil {
		b.Fatal(err)
	}
	total := db.Head()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak uint64
	b.ResetTimer()
	for range b.N {
		err := runner.Rebuild(ctx, nil, func(projections.Progress) {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(peak-min(peak, base.HeapInuse))/(1<<20), "MB-heap-growth")
	b.ReportMetric(float64(total), "events")
}

// BenchmarkProjectionApply applies one projection (orders) to the whole log
// in batches: the cost of one projection's apply per event.
func BenchmarkProjectionApply(b *testing.B) {
	n := envInt("ORDERFLOW_BENCH_EVENTS", 200_000)
	db, store, reg := seedLog(b, n)
	ctx := context.Background()
	runner := projections.NewRunner(store, reg, slog.New(slog.DiscardHandler), projections.All()...)
	if err := runner.Init(ctx); err != nil {
		b.Fatal(err)
	}
	total := db.Head()
	b.ResetTimer()
	for range b.N {
		if err := runner.Rebuild(ctx, []string{"orders"}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
