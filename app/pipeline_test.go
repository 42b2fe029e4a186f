package app

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"orderflow/commands"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/events"
)

// startTestApp starts the real app on a temporary database.
func startTestApp(t *testing.T, db string, log *slog.Logger, tune func(*Config)) *App {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DBPath = db
	cfg.Durability = events.DurabilityNormal
	cfg.Logger = log
	if tune != nil {
		tune(&cfg)
	}
	a, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// openShop registers customer "c" and a product with its price and stock
// in the app, the product's price in the read models before the stock.
func openShop(t *testing.T, a *App, productID string, priceCents int64, stock int) {
	t.Helper()
	ctx := context.Background()
	h := a.handlers
	if _, err := h.RegisterCustomer(ctx, commands.RegisterCustomer{ID: "c", Name: "C", Email: "c@example.com", Address: "1 St"}, events.Metadata{}); err != nil {
		t.Fatal(err)
	}
	res, err := h.UpsertProduct(ctx, commands.UpsertProduct{ID: productID, Name: "P", PriceCents: priceCents}, events.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.runner.WaitFor(ctx, res.Position); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddStock(ctx, productID, stock, events.Metadata{}); err != nil {
		t.Fatal(err)
	}
}

// TestMultiLineOrdersNeverOversell has 40 clients place 3-line orders over
// 4 products with little stock, so that reservations of one order contend
// with others on every product, and then checks the whole log: stock never
// went below zero or above what is on hand at any position, every validated
// order holds all its lines, every failed order holds none, and every
// order was answered exactly once per line.
func TestMultiLineOrdersNeverOversell(t *testing.T) {
	ctx := context.Background()
	a := startTestApp(t, filepath.Join(t.TempDir(), "o.db"), nil, nil)
	defer a.Shutdown(ctx)
	h := a.handlers
	_, err := h.RegisterCustomer(ctx, commands.RegisterCustomer{ID: "c", Name: "C", Email: "c@example.com", Address: "1 St"}, events.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	const products = 4
	for i := range products {
		res, err := h.UpsertProduct(ctx, commands.UpsertProduct{ID: fmt.Sprintf("p%d", i), Name: "P", PriceCents: 1}, events.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.runner.WaitFor(ctx, res.Position); err != nil {
			t.Fatal(err)
		}
		if _, err := h.AddStock(ctx, fmt.Sprintf("p%d", i), 60, events.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	const clients, perClient = 40, 15
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewSource(int64(c)))
			for n := range perClient {
				var lines []order.RequestedLine
				for _, p := range rng.Perm(products)[:3] {
					lines = append(lines, order.RequestedLine{ProductID: fmt.Sprintf("p%d", p), Quantity: 1 + rng.Intn(3)})
				}
				id := fmt.Sprintf("o-%d-%d", c, n)
				if _, err := h.PlaceOrder(ctx, commands.PlaceOrder{ID: id, CustomerID: "c", Lines: lines}, events.Metadata{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	a.settle(t)

	// Replay the log and check every position.
	all, err := readLog(ctx, a.store)
	if err != nil {
		t.Fatal(err)
	}
	reg := commands.Registry()
	stocks := map[string]inventory.Stock{}
	type answer struct{ reserved, rejected, released int }
	answers := map[string]map[string]*answer{} // order → product → answers
	lines := map[string][]order.Line{}
	status := map[string]string{}
	for _, e := range all {
		p, err := reg.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		ans := func(orderID, productID string) *answer {
			if answers[orderID] == nil {
				answers[orderID] = map[string]*answer{}
			}
			if answers[orderID][productID] == nil {
				answers[orderID][productID] = &answer{}
			}
			return answers[orderID][productID]
		}
		switch p := p.(type) {
		case order.OrderPlaced:
			lines[p.OrderID] = p.Lines
			status[p.OrderID] = "PENDING"
		case order.OrderValidated:
			status[p.OrderID] = "VALIDATED"
		case order.OrderFailed:
			status[p.OrderID] = "FAILED"
		case inventory.StockReserved:
			ans(p.OrderID, p.ProductID).reserved++
		case inventory.StockReservationRejected:
			ans(p.OrderID, p.ProductID).rejected++
		case inventory.StockReleased:
			ans(p.OrderID, p.ProductID).released++
		}
		if se, ok := p.(inventory.Event); ok && strings.HasPrefix(e.StreamID, "stock-") {
			s := stocks[e.StreamID].Evolve(se)
			if err := s.CheckInvariants(); err != nil {
				t.Fatalf("at position %d: %v", e.Position, err)
			}
			stocks[e.StreamID] = s
		}
	}
	counts := map[string]int{}
	for id, ls := range lines {
		counts[status[id]]++
		for _, l := range ls {
			a := answers[id][l.ProductID]
			if a == nil || a.reserved+a.rejected != 1 {
				t.Fatalf("order %s, product %s: answered %+v, want exactly one reservation or rejection", id, l.ProductID, a)
			}
			switch status[id] {
			case "VALIDATED":
				if a.reserved != 1 || a.released != 0 {
					t.Fatalf("validated order %s does not hold its line of %s: %+v", id, l.ProductID, a)
				}
			case "FAILED":
				if a.reserved != a.released {
					t.Fatalf("failed order %s still holds its line of %s: %+v", id, l.ProductID, a)
				}
			default:
				t.Fatalf("order %s is %s after the flow settled", id, status[id])
			}
		}
	}
	if counts["VALIDATED"] == 0 || counts["FAILED"] == 0 {
		t.Fatalf("the flow should both validate and fail orders: %v", counts)
	}
	t.Logf("orders: %v", counts)
}

// readLog reads the whole log in position order.
func readLog(ctx context.Context, store *events.Store) ([]events.Event, error) {
	var all []events.Event
	var pos int64
	for {
		evs, err := store.ReadAll(ctx, pos, 1000)
		if err != nil || len(evs) == 0 {
			return all, err
		}
		all = append(all, evs...)
		pos = evs[len(evs)-1].Position
	}
}

// TestRedeliveringEverythingChangesNothing runs the mixed flow (every
// outcome, payments, shipping, cancellations), then restarts the app with
// every reaction's cursor back at the start of the log, as if no batch had
// ever been acknowledged: every reaction sees everything again and appends
// nothing.
func TestRedeliveringEverythingChangesNothing(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "o.db")
	a := startTestApp(t, db, nil, func(c *Config) { c.FraudLimitCents = 40000 })
	flow := newMixedFlow(t, a, 2)
	flow.seed(ctx)
	flow.placeOrders(ctx, 300)
	a.settle(t)
	flow.payShipCancel(ctx)
	a.settle(t)
	flow.mustHaveEveryOutcome(ctx)
	head := a.db.Head()
	consumers := a.handlers.Consumers()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// Back to the start: delete every reaction's checkpoint.
	raw, err := events.Open(ctx, db, events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consumers {
		if err := raw.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM checkpoints WHERE name = ?`, events.CheckpointName(c.Name))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	a = startTestApp(t, db, nil, func(c *Config) { c.FraudLimitCents = 40000 })
	defer a.Shutdown(ctx)
	a.settle(t)
	if got := a.db.Head(); got != head {
		t.Fatalf("redelivering the log appended %d events", got-head)
	}
	for _, s := range a.pipeline.stats() {
		if s.Handled == 0 || s.Redeliveries == 0 {
			t.Errorf("reaction %s handled %d and recognised %d redeliveries; want both above 0", s.Name, s.Handled, s.Redeliveries)
		}
		if s.Conflicts != 0 {
			t.Errorf("reaction %s met %d version conflicts", s.Name, s.Conflicts)
		}
	}
}

// TestHotProductHasNoConflicts places orders of one product from many
// clients at once, the flash sale that stalled the old pipeline, and fails
// if any reaction met a version conflict or logged one.
func TestHotProductHasNoConflicts(t *testing.T) {
	ctx := context.Background()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := startTestApp(t, filepath.Join(t.TempDir(), "o.db"), log, nil)
	defer a.Shutdown(ctx)
	h := a.handlers
	const customers = 32
	for i := range customers {
		if _, err := h.RegisterCustomer(ctx, commands.RegisterCustomer{ID: fmt.Sprintf("c%d", i), Name: "C",
			Email: fmt.Sprintf("c%d@example.com", i), Address: "1 St"}, events.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := h.UpsertProduct(ctx, commands.UpsertProduct{ID: "hot", Name: "Hot", PriceCents: 1}, events.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.runner.WaitFor(ctx, res.Position); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddStock(ctx, "hot", 1000, events.Metadata{}); err != nil {
		t.Fatal(err)
	}
	const perClient = 60 // 1920 orders for 1000 units: many validate, many fail
	var wg sync.WaitGroup
	for c := range customers {
		wg.Go(func() {
			for n := range perClient {
				_, err := h.PlaceOrder(ctx, commands.PlaceOrder{ID: fmt.Sprintf("o-%d-%d", c, n), CustomerID: fmt.Sprintf("c%d", c),
					Lines: []order.RequestedLine{{ProductID: "hot", Quantity: 1}}}, events.Metadata{})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	a.settle(t)
	for _, s := range a.pipeline.stats() {
		if s.Conflicts != 0 || s.Retries != 0 {
			t.Errorf("reaction %s: %d version conflicts, %d retries; want none", s.Name, s.Conflicts, s.Retries)
		}
	}
	if l := strings.ToLower(logs.String()); strings.Contains(l, "version conflict") || strings.Contains(l, "conflicting") {
		t.Errorf("a reaction logged a conflict:\n%s", logs.String())
	}
	var validated int
	if err := a.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE status = 'VALIDATED'`).Scan(&validated); err != nil {
		t.Fatal(err)
	}
	if validated != 1000 {
		t.Errorf("%d orders validated, want exactly the 1000 units in stock", validated)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
