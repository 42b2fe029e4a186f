package app

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"orderflow/commands"
	"orderflow/domain/order"
	"orderflow/events"
)

// TestRebuiltReadModelsEqualIncrementalOnes drives a mixed flow of thousands
// of orders (validated, failed for each reason, paid, shipped, cancelled)
// through the real app, rebuilds the read models from the log, and
// compares every row. A second round rebuilds online while orders keep
// arriving, and compares the result with yet another rebuild.
func TestRebuiltReadModelsEqualIncrementalOnes(t *testing.T) {
	orders := 2000
	if testing.Short() {
		orders = 400
	}
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DBPath = filepath.Join(t.TempDir(), "o.db")
	cfg.FraudLimitCents = 40000
	cfg.Durability = events.DurabilityNormal
	a, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(ctx)

	flow := newMixedFlow(t, a, 1)
	flow.seed(ctx)
	flow.placeOrders(ctx, orders)
	a.settle(t)
	flow.payShipCancel(ctx)
	a.settle(t)
	flow.mustHaveEveryOutcome(ctx)

	incremental := a.dumpReadModels(t)
	if err := a.runner.Rebuild(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	rebuilt := a.dumpReadModels(t)
	compareDumps(t, "incremental vs rebuilt", incremental, rebuilt)

	// Online: rebuild the orders projection while orders keep coming, for
	// real: orders are placed until the rebuild has swapped, and some must
	// have been placed while it ran.
	if err := a.runner.RebuildInBackground("orders"); err != nil {
		t.Fatal(err)
	}
	during := 0
	for {
		s, _ := a.runner.Status("orders")
		if s.State != "REBUILDING" {
			break
		}
		flow.placeOrders(ctx, 8)
		if s, _ := a.runner.Status("orders"); s.State == "REBUILDING" {
			during += 8
		}
	}
	if during == 0 {
		t.Fatal("no order was placed while the rebuild ran")
	}
	t.Logf("%d orders placed while the online rebuild ran", during)
	flow.placeOrders(ctx, orders/8) // and after the swap
	a.settle(t)
	waitLive(t, a, "orders")
	online := a.dumpReadModels(t)
	if err := a.runner.Rebuild(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	compareDumps(t, "rebuilt online vs rebuilt again", online, a.dumpReadModels(t))
}

// mixedFlow places orders that end in every state.
type mixedFlow struct {
	t   *testing.T
	a   *App
	rng *rand.Rand
	mu  sync.Mutex
	ids []string
}

func newMixedFlow(t *testing.T, a *App, seed int64) *mixedFlow {
	return &mixedFlow{t: t, a: a, rng: rand.New(rand.NewSource(seed))}
}

const (
	flowCustomers        = 40 // c0..c39 registered; c40..c44 never are
	flowUnknownCustomers = 5
	flowProducts         = 20 // p0..p14 well stocked, p15..p19 scarce
)

func (f *mixedFlow) seed(ctx context.Context) {
	h := f.a.handlers
	for i := range flowCustomers {
		_, err := h.RegisterCustomer(ctx, commands.RegisterCustomer{ID: fmt.Sprintf("c%d", i), Name: "Customer", Email: fmt.Sprintf("c%d@example.com", i), Address: "Street 1"}, events.Metadata{})
		f.check(err)
	}
	var last commands.Result
	for i := range flowProducts {
		var err error
		last, err = h.UpsertProduct(ctx, commands.UpsertProduct{ID: fmt.Sprintf("p%d", i), Name: fmt.Sprintf("Product %d", i), PriceCents: int64(100 + 97*i)}, events.Metadata{})
		f.check(err)
	}
	f.check(f.a.runner.WaitFor(ctx, last.Position))
	for i := range flowProducts {
		qty := 100000
		if i >= 15 {
			qty = 20
		}
		_, err := h.AddStock(ctx, fmt.Sprintf("p%d", i), qty, events.Metadata{})
		f.check(err)
	}
}

func (f *mixedFlow) placeOrders(ctx context.Context, n int) {
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				f.mu.Lock()
				customer := fmt.Sprintf("c%d", f.rng.Intn(flowCustomers+flowUnknownCustomers))
				var lines []order.RequestedLine
				for _, p := range f.rng.Perm(flowProducts)[:1+f.rng.Intn(3)] {
					lines = append(lines, order.RequestedLine{ProductID: fmt.Sprintf("p%d", p), Quantity: 1 + f.rng.Intn(5)})
				}
				f.mu.Unlock()
				res, err := f.a.handlers.PlaceOrder(ctx, commands.PlaceOrder{CustomerID: customer, Lines: lines}, events.Metadata{})
				f.check(err)
				f.mu.Lock()
				f.ids = append(f.ids, res.ID)
				f.mu.Unlock()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

// payShipCancel moves validated orders on: some paid, some of those
// shipped, some cancelled at each stage.
func (f *mixedFlow) payShipCancel(ctx context.Context) {
	h := f.a.handlers
	for i, id := range f.ids {
		o, err := f.a.viewsOrder(ctx, id)
		f.check(err)
		if o.Status != string(order.Validated) {
			continue
		}
		switch i % 10 {
		case 0:
			_, err = h.CancelOrder(ctx, id, "changed my mind", events.Metadata{})
		case 1, 2, 3, 4, 5, 6:
			_, err = h.PayOrder(ctx, id, o.TotalCents, events.Metadata{})
		}
		f.check(err)
	}
	f.a.settle(f.t)
	for i, id := range f.ids {
		o, err := f.a.viewsOrder(ctx, id)
		f.check(err)
		if o.Status != string(order.Paid) {
			continue
		}
		switch i % 4 { // 3: stays PAID
		case 0, 1:
			_, err = h.ShipOrder(ctx, id, events.Metadata{})
		case 2:
			_, err = h.CancelOrder(ctx, id, "", events.Metadata{})
		}
		f.check(err)
	}
}

func (f *mixedFlow) mustHaveEveryOutcome(ctx context.Context) {
	var statuses, reasons []string
	rows, err := f.a.db.Reader().QueryContext(ctx, `SELECT DISTINCT status FROM orders`)
	f.check(err)
	statuses = scanStrings(f.t, rows)
	rows, err = f.a.db.Reader().QueryContext(ctx, `SELECT DISTINCT value FROM orders, json_each(orders.failure_reasons)`)
	f.check(err)
	reasons = scanStrings(f.t, rows)
	all := strings.Join(statuses, ",") + " / " + strings.Join(reasons, ",")
	for _, want := range []string{"VALIDATED", "FAILED", "PAID", "SHIPPED", "CANCELLED", "INSUFFICIENT_STOCK", "FRAUD_LIMIT_EXCEEDED", "UNKNOWN_CUSTOMER"} {
		if !strings.Contains(all, want) {
			f.t.Fatalf("the flow produced no %s (statuses / reasons: %s)", want, all)
		}
	}
}

func (f *mixedFlow) check(err error) {
	if err != nil {
		f.t.Helper()
		f.t.Fatal(err)
	}
}

func (a *App) viewsOrder(ctx context.Context, id string) (struct {
	Status     string
	TotalCents int64
}, error) {
	var out struct {
		Status     string
		TotalCents int64
	}
	err := a.db.Reader().QueryRowContext(ctx, `SELECT status, total_cents FROM orders WHERE id = ?`, id).Scan(&out.Status, &out.TotalCents)
	return out, err
}

// settle waits until the whole flow is quiet: every reaction has handled
// the log up to the head, and every projection is at the head, for a while.
func (a *App) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	quiet := 0
	for quiet < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("the flow did not settle: head %d", a.db.Head())
		}
		time.Sleep(50 * time.Millisecond)
		head := a.db.Head()
		settled := true
		for _, s := range a.pipeline.stats() {
			settled = settled && s.Position == head
		}
		for _, s := range a.runner.Statuses() {
			settled = settled && s.Position == head
		}
		if settled && a.db.Head() == head {
			quiet++
		} else {
			quiet = 0
		}
	}
}

func waitLive(t *testing.T, a *App, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s, _ := a.runner.Status(name)
		if s.State == "LIVE" && s.LastRebuiltAt != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %s", name, s.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dumpReadModels reads every row of every read model, in key order.
func (a *App) dumpReadModels(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for table, key := range map[string]string{"orders": "id", "products": "id", "stock": "product_id", "customers": "id", "notifications": "seq", "payments": "order_id"} {
		rows, err := a.db.Reader().Query(`SELECT * FROM ` + table + ` ORDER BY ` + key)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], fmt.Sprint(vals...))
		}
		rows.Close()
		if len(out[table]) == 0 {
			t.Fatalf("read model %s is empty", table)
		}
	}
	return out
}

func compareDumps(t *testing.T, what string, want, got map[string][]string) {
	t.Helper()
	for table, rows := range want {
		if len(got[table]) != len(rows) {
			t.Fatalf("%s: %s has %d rows, want %d", what, table, len(got[table]), len(rows))
		}
		for i := range rows {
			if got[table][i] != rows[i] {
				t.Fatalf("%s: %s row %d differs:\n got %s\nwant %s", what, table, i, got[table][i], rows[i])
			}
		}
	}
}

func scanStrings(t *testing.T, rows *sql.Rows) []string {
	t.Helper()
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}
