package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"orderflow/app/verify"
	"orderflow/commands"
	"orderflow/domain/fraud"
	"orderflow/domain/order"
	"orderflow/events"
	"orderflow/migrations"
)

// prices is the catalog copy the handlers price orders from.
type prices map[string]int64

func (p prices) Prices(_ context.Context, ids []string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, id := range ids {
		if v, ok := p[id]; ok {
			out[id] = v
		}
	}
	return out, nil
}

// runToHead runs every reaction until each has handled the log up to its
// head (which they move) and stops them.
func runToHead(t *testing.T, store *events.Store, reg *events.Registry, h *commands.Handlers) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var cs []*events.Consumer
	var wg sync.WaitGroup
	for _, spec := range h.Consumers() {
		c := events.NewConsumer(store, reg, spec, events.ConsumerOptions{Lanes: 2})
		cs = append(cs, c)
		wg.Go(func() {
			if err := c.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		head := store.DB().Head()
		done := true
		for _, c := range cs {
			done = done && c.Stats().Position >= head
		}
		if done && store.DB().Head() == head {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reactions did not reach the head %d in 30s", head)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestVerifyDB drives `orderflow verify --db` on a real SQLite log written
// by the command handlers and the reactions, every outcome of an order in
// it: it holds, and verify leaves the file as it was; verify refuses a log
// a server holds; an event planted in an order's stream breaks invariant 2
// and is named.
func TestVerifyDB(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shop.db")
	db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	store, reg := events.NewStore(db), commands.Registry()
	reg.UseKeys(events.NewKeyring(db))
	h := commands.New(store, reg, prices{"p1": 1000, "p2": 500},
		commands.Config{Fraud: fraud.Rule{LimitCents: fraud.DefaultLimitCents, Window: fraud.DefaultWindow}})
	md := events.Metadata{}
	must := func(_ commands.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.UpsertProduct(ctx, commands.UpsertProduct{ID: "p1", Name: "Widget", PriceCents: 1000}, md))
	must(h.UpsertProduct(ctx, commands.UpsertProduct{ID: "p2", Name: "Gadget", PriceCents: 500}, md))
	must(h.AddStock(ctx, "p1", 20, md))
	must(h.AddStock(ctx, "p2", 5, md))
	must(h.RegisterCustomer(ctx, commands.RegisterCustomer{ID: "ada", Name: "Ada", Email: "ada@example.com", Address: "12 Analytical St"}, md))
	place := func(id, customer string, lines ...order.RequestedLine) {
		must(h.PlaceOrder(ctx, commands.PlaceOrder{ID: id, CustomerID: customer, Lines: lines}, md))
	}
	place("shipped", "ada", order.RequestedLine{ProductID: "p1", Quantity: 2})
	place("paid", "ada", order.RequestedLine{ProductID: "p1", Quantity: 1}, order.RequestedLine{ProductID: "p2", Quantity: 1})
	place("short", "ada", order.RequestedLine{ProductID: "p2", Quantity: 10})
	place("stranger", "nobody", order.RequestedLine{ProductID: "p1", Quantity: 1})
	place("cancelled", "ada", order.RequestedLine{ProductID: "p1", Quantity: 1})
	place("refunded", "ada", order.RequestedLine{ProductID: "p1", Quantity: 3})
	runToHead(t, store, reg, h)
	must(h.PayOrder(ctx, "shipped", 2000, md))
	must(h.PayOrder(ctx, "paid", 1500, md))
	must(h.PayOrder(ctx, "refunded", 3000, md))
	runToHead(t, store, reg, h)
	must(h.ShipOrder(ctx, "shipped", md))
	must(h.CancelOrder(ctx, "cancelled", "", md))
	must(h.CancelOrder(ctx, "refunded", "", md))
	runToHead(t, store, reg, h)
	for id, want := range map[string]string{"shipped": "OrderShipped", "paid": "OrderPaid", "short": "OrderFailed",
		"stranger": "OrderFailed", "cancelled": "OrderCancelled", "refunded": "OrderCancelled"} {
		evs, err := store.ReadStream(ctx, order.StreamID(id), 0)
		if err != nil || len(evs) == 0 || evs[len(evs)-1].Type != want {
			t.Fatalf("order %s: %d events (%v), want the last %s", id, len(evs), err, want)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	before := fileSum(t, path)
	var out, errb bytes.Buffer
	if code := verify.Main(ctx, []string{"--db", path}, noEnv, &out, &errb); code != verify.ExitHolds ||
		!strings.Contains(out.String(), "5 invariants hold") {
		t.Fatalf("exit %d, want 0; stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if fileSum(t, path) != before {
		t.Errorf("verify changed %s", path)
	}

	// A server holds the log: verify says so and checks nothing.
	db, err = events.Open(ctx, path, events.Options{Migrate: migrations.Apply})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := verify.Main(ctx, []string{"--db", path}, noEnv, &out, &errb); code != verify.ExitUsage ||
		!strings.Contains(errb.String(), "stop the server first") {
		t.Errorf("with the log held: exit %d, want 2 saying to stop the server; stderr: %s", code, errb.String())
	}

	// A second outcome for an order already PAID.
	store = events.NewStore(db)
	paid, err := store.ReadStream(ctx, order.StreamID("paid"), 0)
	if err != nil {
		t.Fatal(err)
	}
	again, err := reg.Encode(md, order.OrderValidated{OrderID: "paid"})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.Append(ctx, events.StreamAppend{StreamID: order.StreamID("paid"), ExpectedVersion: int64(len(paid)), Events: again})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	code := verify.Main(ctx, []string{"--db", path}, noEnv, &out, &errb)
	if code != verify.ExitBroken {
		t.Fatalf("exit %d, want 1; stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"BROKEN 2.", "order paid has 2 validation outcomes", "order-paid", stored[0].ID, "came while the order was PAID",
		"1 of 5 invariants broken"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout does not say %q:\n%s", want, out.String())
		}
	}
}

// TestVerifyUsage: the source is chosen by the command line, else by the
// environment; anything unclear is a usage error (exit 2).
func TestVerifyUsage(t *testing.T) {
	ctx := context.Background()
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	both := env(map[string]string{"ORDERFLOW_DB": "/nonexistent/a.db", "ORDERFLOW_KAFKA_BROKERS": "127.0.0.1:1"})
	for _, c := range []struct {
		name   string
		args   []string
		getenv func(string) string
		stderr string
	}{
		{"nothing to read", nil, noEnv, "say which history to read"},
		{"both flags", []string{"--db", "x.db", "--kafka-brokers", "b:9092"}, noEnv, "not both"},
		{"both in the environment", nil, both, "both ORDERFLOW_KAFKA_BROKERS and ORDERFLOW_DB are set"},
		{"the flag chooses over the environment", []string{"--db", "/nonexistent/b.db"}, both, "/nonexistent/b.db"},
		{"an argument", []string{"--db", "x.db", "extra"}, noEnv, `unexpected argument "extra"`},
		{"a negative limit", []string{"--db", "x.db", "--limit", "-1"}, noEnv, "--limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := verify.Main(ctx, c.args, c.getenv, &out, &errb); code != verify.ExitUsage || !strings.Contains(errb.String(), c.stderr) {
				t.Errorf("exit %d, want 2 with %q; stderr: %s", code, c.stderr, errb.String())
			}
		})
	}
}
