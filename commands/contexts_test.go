package commands_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"orderflow/commands"
	"orderflow/domain/fault"
	"orderflow/domain/inventory"
	"orderflow/domain/order"
	"orderflow/events"
	"orderflow/projections"
)

func TestStreamsBelongToTheirContext(t *testing.T) {
	tests := []struct {
		stream, context, key string
	}{
		{"order-o-1", commands.ContextOrders, "o-1"},
		{"product-kettle", commands.ContextCatalog, "kettle"},
		{"customer-ada", commands.ContextCustomers, "ada"},
		{"stock-kettle", commands.ContextInventory, "kettle"},
		{"fraud-ada", commands.ContextFraud, "ada"},
		{"customercheck-o-1", commands.ContextCustomerCheck, "o-1"},
		{"payment-o-1", commands.ContextPayments, "o-1"},
		{"notification-o-1", commands.ContextNotifications, "o-1"},
		{"unknown-1", "", "1"},
		{"nohyphen", "", ""},
	}
	for _, tt := range tests {
		if got := commands.StreamContext(tt.stream); got != tt.context {
			t.Errorf("StreamContext(%q) = %q, want %q", tt.stream, got, tt.context)
		}
		if got := commands.StreamKey(tt.stream); got != tt.key {
			t.Errorf("StreamKey(%q) = %q, want %q", tt.stream, got, tt.key)
		}
	}
	// Every registered event type belongs to a context.
	for _, typ := range commands.Registry().Types() {
		if commands.TypeContext(typ.Name) == "" {
			t.Errorf("event type %s belongs to no context", typ.Name)
		}
	}
}

func TestCheckContexts(t *testing.T) {
	tests := []struct {
		list    string
		problem string // "" when valid
	}{
		{strings.Join(commands.Contexts(), ","), ""},
		{"api,orders,catalog,customers,payments", ""},
		{"inventory", ""},
		{"fraud,customercheck,notifications", ""},
		{"", "no contexts"},
		{"inventory,warehouse", `unknown context "warehouse"`},
		{"inventory,inventory", "given twice"},
		{"api,orders", ""},
		{"payments", ""},
	}
	for _, tt := range tests {
		var list []string
		if tt.list != "" {
			list = strings.Split(tt.list, ",")
		}
		err := commands.CheckContexts(list)
		switch {
		case tt.problem == "" && err != nil:
			t.Errorf("CheckContexts(%s) = %v, want nil", tt.list, err)
		case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
			t.Errorf("CheckContexts(%s) = %v, want an error saying %q", tt.list, err, tt.problem)
		}
	}
}

func TestInventoryRekeysOrderEventsByProduct(t *testing.T) {
	lines := []order.Line{{ProductID: "a", Quantity: 1}, {ProductID: "b", Quantity: 2}, {ProductID: "a", Quantity: 3}}
	tests := []struct {
		p    events.Payload
		want []string
	}{
		{order.OrderPlaced{OrderID: "o", Lines: lines}, []string{"a", "b"}},
		{order.OrderCancelled{OrderID: "o", Lines: lines[1:2]}, []string{"b"}},
		{order.OrderValidated{OrderID: "o"}, nil},
		{inventory.StockAdded{ProductID: "a"}, nil},
	}
	for _, tt := range tests {
		if got := commands.Lookup(commands.ContextInventory).Reaction.Keys(tt.p); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("inventory's Keys(%T) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

// TestRouterSendsEveryCommand runs commands through a Router whose Send
// carries each command out with Execute on handlers of their own log, as
// the member that owns its key would.
func TestRouterSendsEveryCommand(t *testing.T) {
	ctx := context.Background()
	db, store, reg := commands.OpenTestStore(t)
	h := commands.New(store, reg, projections.NewViews(db.Reader()), commands.Config{})
	var sent []commands.Command
	r := &commands.Router{
		Send: func(ctx context.Context, cmd commands.Command) (commands.Result, error) {
			sent = append(sent, cmd)
			return h.Execute(ctx, cmd)
		},
	}
	if _, err := r.UpsertProduct(ctx, commands.UpsertProduct{ID: "kettle", Name: "Kettle", PriceCents: 2500}, events.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].Name != "UpsertProduct" || sent[0].Context != commands.ContextCatalog || sent[0].Key != "kettle" {
		t.Fatalf("sent %+v", sent)
	}
	sent = nil
	waitCatalog(t, db, store, reg)
	res, err := r.AddStock(ctx, "kettle", 5, events.Metadata{CorrelationID: "corr-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].Name != "AddStock" || sent[0].Context != commands.ContextInventory || sent[0].Key != "kettle" ||
		sent[0].CorrelationID != "corr-1" || !strings.HasPrefix(sent[0].ID, commands.CommandIDPrefix) {
		t.Fatalf("sent %+v", sent)
	}
	if res.ID != "kettle" || res.Position == 0 {
		t.Fatalf("result %+v", res)
	}
	// Delivered again: carried out once, the same result.
	again, err := h.Execute(ctx, sent[0])
	if err != nil || again.Position != res.Position {
		t.Fatalf("redelivery = %+v, %v; want position %d", again, err, res.Position)
	}
	evs, err := store.ReadStream(ctx, inventory.StreamID("kettle"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].CausationID != sent[0].ID {
		t.Fatalf("stock stream = %+v, want one StockAdded caused by the command", evs)
	}
	// A refusal decided there keeps its kind.
	_, err = r.AddStock(ctx, "unknown", 5, events.Metadata{})
	if fault.KindOf(err) != fault.NotFound {
		t.Fatalf("addStock of an unknown product = %v, want NOT_FOUND", err)
	}
	if _, err := h.Execute(ctx, commands.Command{ID: "cmd-x", Name: "Teleport"}); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("unknown command = %v", err)
	}
	if _, err := h.Execute(ctx, commands.Command{ID: "cmd-y", Name: "AddStock", Args: []byte(`{"quantity":"many"}`)}); err == nil ||
		!strings.Contains(err.Error(), "bad arguments") {
		t.Fatalf("bad arguments = %v", err)
	}
}

// waitCatalog runs the projections until the catalog read model holds the
// log, so a product just defined is known to the handlers.
func waitCatalog(t *testing.T, db *events.DB, store *events.Store, reg *events.Registry) {
	t.Helper()
	runner := projections.NewRunner(store, reg, nil, projections.All()...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wg, err := runner.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.WaitFor(ctx, db.Head()); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
}

// TestDeclarationsAreComplete says what a context's declaration lacks, so
// that a new context is complete when this passes.
func TestDeclarationsAreComplete(t *testing.T) {
	owner := map[string]string{}
	commandOwner := map[commands.CommandName]string{}
	var checks []order.Check
	for _, c := range commands.Declared() {
		if c.Name == "" {
			t.Fatalf("a context without a name: %+v", c)
		}
		if (c.Streams == "") != (len(c.Events) == 0) {
			t.Errorf("%s: a context writes streams (Streams %q) exactly when it owns event types (%d)", c.Name, c.Streams, len(c.Events))
		}
		if c.Streams != "" && (!strings.HasSuffix(c.Streams, "-") || strings.Count(c.Streams, "-") != 1) {
			t.Errorf("%s: stream prefix %q must be one word and a hyphen", c.Name, c.Streams)
		}
		for _, r := range c.Events {
			typ := r.Payload.EventType()
			if other, ok := owner[typ]; ok {
				t.Errorf("event type %s is declared by %s and %s", typ, other, c.Name)
			}
			owner[typ] = c.Name
		}
		for _, n := range c.Commands {
			if other, ok := commandOwner[n]; ok {
				t.Errorf("command %s is declared by %s and %s", n, other, c.Name)
			}
			commandOwner[n] = c.Name
		}
		for _, f := range c.Copies {
			if commands.Lookup(f) == nil || commands.Lookup(f).Streams == "" {
				t.Errorf("%s copies %q, which is no context that writes streams", c.Name, f)
			}
		}
		if c.Check != "" {
			checks = append(checks, c.Check)
			if c.Reaction == nil || !c.Reaction.Validates {
				t.Errorf("%s reports the %s check: its reaction must be one an order waits for (Validates)", c.Name, c.Check)
			}
		}
		r := c.Reaction
		if c.ScalesOut && c.Streams == "" {
			t.Errorf("%s scales out, but writes no streams to share among members", c.Name)
		}
		if r == nil {
			continue
		}
		if r.Name == "" || len(r.Input) == 0 || r.Route == nil || r.Lane == nil {
			t.Errorf("%s: its reaction needs a name, input, a route and a lane: %+v", c.Name, r)
		}
		if commands.ReactionContext(string(r.Name)) != c.Name {
			t.Errorf("reaction %s is declared twice", r.Name)
		}
		if r.Rekey != nil {
			for _, f := range r.Rekey.Families {
				if f == c.Name || commands.Lookup(f) == nil {
					t.Errorf("%s: a re-keyed input carries the events of other contexts, not %q", c.Name, f)
				}
			}
		}
	}
	for _, typ := range commands.Registry().Types() {
		if owner[typ.Name] == "" {
			t.Errorf("event type %s is registered but declared by no context", typ.Name)
		}
	}
	for _, n := range []commands.CommandName{commands.CmdRegisterCustomer, commands.CmdUpdateCustomerAddress,
		commands.CmdUpsertProduct, commands.CmdAddStock, commands.CmdPlaceOrder, commands.CmdPayOrder,
		commands.CmdShipOrder, commands.CmdCancelOrder} {
		if commandOwner[n] == "" {
			t.Errorf("command %s is carried out by no context", n)
		}
	}
	slices.Sort(checks)
	want := slices.Clone(order.AllChecks)
	slices.Sort(want)
	if !slices.Equal(checks, want) {
		t.Errorf("the contexts report the checks %v; an order needs %v", checks, want)
	}
}

// TestEveryContextScalesOut: split into services, every context decides in
// its consumer group's Kafka transactions, fenced, which is what lets it run
// as several members; there is no other way to run a context that writes
// streams over Kafka. A new context must be keyed by the streams it writes
// (its commands and its reaction's input) and scale out too.
func TestEveryContextScalesOut(t *testing.T) {
	for _, c := range commands.Declared() {
		if c.Streams != "" && !c.ScalesOut {
			t.Errorf("context %s writes streams (%s) and does not scale out", c.Name, c.Streams)
		}
	}
}
