package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ProjectionStatus mirrors the schema's ProjectionStatus.
type ProjectionStatus struct {
	Name            string     `json:"name"`
	State           string     `json:"state"`
	Position        int        `json:"position"`
	HeadPosition    int        `json:"headPosition"`
	Lag             int        `json:"lag"`
	EventsPerSecond *float64   `json:"eventsPerSecond"`
	LastRebuiltAt   *time.Time `json:"lastRebuiltAt"`
}

const projectionFields = `name state position headPosition lag eventsPerSecond lastRebuiltAt`

const (
	projectionsQuery       = `{ projections { ` + projectionFields + ` } }`
	rebuildProjectionQuery = `mutation($name: String!) { rebuildProjection(name: $name) { ` + projectionFields + ` } }`
)

// projectionNames are the read side's projections, in the order the API lists them (by name).
var projectionNames = []string{"cancellations", "customers", "deadlines", "notifications", "orders", "payments", "products", "stock"}

func (c *client) projections(t testing.TB) []ProjectionStatus {
	t.Helper()
	var out struct{ Projections []ProjectionStatus }
	c.do(t, projectionsQuery, nil, &out)
	return out.Projections
}

func (c *client) rebuildProjection(t testing.TB, name string) ProjectionStatus {
	t.Helper()
	var out struct{ RebuildProjection ProjectionStatus }
	c.do(t, rebuildProjectionQuery, map[string]any{"name": name}, &out)
	return out.RebuildProjection
}

func projectionByName(ps []ProjectionStatus, name string) (ProjectionStatus, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return ProjectionStatus{}, false
}

// caughtUp says why a projection is not LIVE at the head, or "" when it is.
func caughtUp(p ProjectionStatus) string {
	switch {
	case p.State != "LIVE":
		return fmt.Sprintf("%s is %s", p.Name, p.State)
	case p.Position != p.HeadPosition || p.Lag != 0:
		return fmt.Sprintf("%s at position %d of %d (lag %d)", p.Name, p.Position, p.HeadPosition, p.Lag)
	}
	return ""
}

// waitProjectionsLive polls until every projection is LIVE at the head of the log, and returns
// their statuses then.
func (c *client) waitProjectionsLive(t testing.TB) []ProjectionStatus {
	t.Helper()
	var ps []ProjectionStatus
	eventually(t, settleTimeout, func() (bool, string) {
		ps = c.projections(t)
		for _, p := range ps {
			if why := caughtUp(p); why != "" {
				return false, why
			}
		}
		return true, ""
	})
	return ps
}

func checkProjectionStatus(t testing.TB, p ProjectionStatus) {
	t.Helper()
	if p.Position < 0 || p.Position > p.HeadPosition {
		t.Errorf("projection %s: position %d outside [0, head %d]", p.Name, p.Position, p.HeadPosition)
	}
	if p.Lag != p.HeadPosition-p.Position {
		t.Errorf("projection %s: lag %d, want head - position = %d", p.Name, p.Lag, p.HeadPosition-p.Position)
	}
	switch p.State {
	case "LIVE":
		if p.EventsPerSecond != nil {
			t.Errorf("projection %s is LIVE with eventsPerSecond %v, want null", p.Name, *p.EventsPerSecond)
		}
	case "REBUILDING":
		if p.EventsPerSecond == nil || *p.EventsPerSecond < 0 {
			t.Errorf("projection %s is REBUILDING with eventsPerSecond %v, want a number ≥ 0", p.Name, p.EventsPerSecond)
		}
	default:
		t.Errorf("projection %s: state %q", p.Name, p.State)
	}
}

// TestProjectionsStatus: the projections query lists the four projections by name; once the
// writes have settled each is LIVE at the head of the log (the last event's position) with lag 0,
// and none of them was ever rebuilt on a new database.
func TestProjectionsStatus(t *testing.T) {
	t.Parallel()
	c := startApp(t)

	// A new database: nothing written, every projection at 0.
	ps := c.projections(t)
	if got := projectionNamesOf(ps); !reflect.DeepEqual(got, projectionNames) {
		t.Fatalf("projections = %v, want %v", got, projectionNames)
	}
	for _, p := range ps {
		checkProjectionStatus(t, p)
		if p.State != "LIVE" || p.Position != 0 || p.HeadPosition != 0 || p.Lag != 0 || p.LastRebuiltAt != nil {
			t.Errorf("projection on a new database = %+v, want LIVE at 0 of 0, never rebuilt", p)
		}
	}

	c.registerCustomer(t, "c-ps", "Katherine Johnson", "kj@example.com", "9 Orbit Rd")
	c.upsertProduct(t, "p-ps", "Slide Rule", 700)
	c.addStock(t, "p-ps", 5)
	c.placeValidated(t, "o-ps-1", "c-ps", []Line{{"p-ps", 2}})
	c.placeOrder(t, "o-ps-2", "c-nobody", []Line{{"p-ps", 1}}, true)
	c.payOrder(t, "o-ps-1", 1400)
	c.shipOrder(t, "o-ps-1")
	c.waitStock(t, "p-ps", 3, 0)
	evs := c.quiesce(t)
	head := evs[len(evs)-1].Position

	ps = c.waitProjectionsLive(t)
	if got := projectionNamesOf(ps); !reflect.DeepEqual(got, projectionNames) {
		t.Fatalf("projections = %v, want %v", got, projectionNames)
	}
	for _, p := range ps {
		checkProjectionStatus(t, p)
		if p.HeadPosition != head || p.Position != head || p.Lag != 0 {
			t.Errorf("projection %s: position %d head %d lag %d, want %d, %d and 0 (the last event's position)",
				p.Name, p.Position, p.HeadPosition, p.Lag, head, head)
		}
		if p.LastRebuiltAt != nil {
			t.Errorf("projection %s: lastRebuiltAt %v, but it was never rebuilt", p.Name, *p.LastRebuiltAt)
		}
	}
}

func projectionNamesOf(ps []ProjectionStatus) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

// rebuildFlow seeds orders that end in every state, for the rebuild tests.
type rebuildFlow struct {
	c         *client
	customers []string
}

func seedRebuildCatalog(t *testing.T, c *client) *rebuildFlow {
	t.Helper()
	f := &rebuildFlow{c: c}
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("c-rb-%d", i)
		c.registerCustomer(t, id, "Customer "+id, id+"@example.com", fmt.Sprintf("%d Rebuild Row", i))
		f.customers = append(f.customers, id)
	}
	c.upsertProduct(t, "p-rb-plenty", "Plenty", 120)
	c.upsertProduct(t, "p-rb-scarce", "Scarce", 990)
	c.addStock(t, "p-rb-plenty", 100000)
	c.addStock(t, "p-rb-scarce", 40)
	return f
}

// orderInput is the i-th order of the flow: mostly valid, some of an unknown customer, some
// asking more of the scarce product than there is.
func (f *rebuildFlow) orderInput(prefix string, i int) map[string]any {
	cust := f.customers[i%len(f.customers)]
	lines := []Line{{"p-rb-plenty", i%4 + 1}}
	switch {
	case i%17 == 0:
		cust = "c-rb-nobody"
	case i%5 == 0:
		lines = append(lines, Line{"p-rb-scarce", i%7 + 1})
	}
	return placeOrderVars(fmt.Sprintf("%s-%03d", prefix, i), cust, lines, false)
}

// placeMany places n orders with a few concurrent clients; it returns the first failure.
func (f *rebuildFlow) placeMany(ctx context.Context, prefix string, n, workers int) error {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				resp, err := f.c.exec(ctx, placeOrderMutation, f.orderInput(prefix, i))
				if err == nil && len(resp.Errors) > 0 {
					err = fmt.Errorf("placeOrder %s-%03d: %s", prefix, i, resp.Body)
				}
				if err != nil {
					errOnce.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// TestRebuildProjection rebuilds each projection online. An unknown name is NOT_FOUND; a known one
// answers REBUILDING (or LIVE when already done) and ends LIVE with lastRebuiltAt set. While the
// orders projection rebuilds, queries keep answering without errors and always show the orders as
// they were (never a half-built table), orders keep being placed, and afterwards every order reads
// exactly as before, plus the new ones.
func TestRebuildProjection(t *testing.T) {
	t.Parallel()
	c := startApp(t, withFraudLimit(1<<40), withWaitTimeout(30*time.Second))
	ctx := context.Background()

	resp := c.expectError(t, "NOT_FOUND", rebuildProjectionQuery, map[string]any{"name": "bogus"})
	if len(resp.Errors) > 0 && resp.Errors[0].Message == "" {
		t.Errorf("rebuildProjection(bogus): empty error message")
	}
	c.expectError(t, "NOT_FOUND", rebuildProjectionQuery, map[string]any{"name": ""})

	const seeded, during = 300, 40
	f := seedRebuildCatalog(t, c)
	if err := f.placeMany(ctx, "o-rb", seeded, 8); err != nil {
		t.Fatal(err)
	}
	// Move some orders on: pay, ship and cancel a share of the validated ones.
	var validated []Order
	eventually(t, settleTimeout, func() (bool, string) {
		validated = c.allOrders(t, "", "VALIDATED", 100)
		pending := c.allOrders(t, "", "PENDING", 100)
		return len(pending) == 0, fmt.Sprintf("%d orders still PENDING", len(pending))
	})
	for i, o := range validated[:min(len(validated), 60)] {
		switch i % 6 {
		case 0:
			c.payOrder(t, o.ID, o.TotalCents)
		case 1:
			c.payOrder(t, o.ID, o.TotalCents)
			c.shipOrder(t, o.ID)
		case 2:
			c.cancelOrder(t, o.ID, "changed my mind")
		}
	}
	c.quiesce(t)
	c.waitProjectionsLive(t)

	before := c.allOrders(t, "", "", 100)
	if len(before) != seeded {
		t.Fatalf("%d orders before the rebuild, want %d", len(before), seeded)
	}
	statuses := map[string]int{}
	beforeByID := map[string]string{}
	for _, o := range before {
		statuses[o.Status]++
		beforeByID[o.ID] = jsonString(o)
	}
	t.Logf("before the rebuild: %d orders %v", len(before), statuses)
	for _, s := range []string{"VALIDATED", "FAILED", "PAID", "SHIPPED", "CANCELLED"} {
		if statuses[s] == 0 {
			t.Errorf("the seeded orders have none in %s: the rebuild would not be compared on every state", s)
		}
	}

	// Readers: every answer must be free of errors, and a seeded order must read exactly as
	// before the rebuild, whichever generation answers.
	var (
		stop           = make(chan struct{})
		readersWG      sync.WaitGroup
		mu             sync.Mutex
		problems       []string
		reads          atomic.Int64
		rebuildingSeen atomic.Int64
	)
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	query := func(q string, vars map[string]any, out any) bool {
		resp, err := c.exec(ctx, q, vars)
		reads.Add(1)
		if err != nil {
			report("%s: %v", q, err)
			return false
		}
		if len(resp.Errors) > 0 {
			report("%s %s: errors %s", q, jsonString(vars), resp.Body)
			return false
		}
		if err := json.Unmarshal(resp.Data, out); err != nil {
			report("%s: decoding %s: %v", q, resp.Data, err)
			return false
		}
		return true
	}
	for r := 0; r < 4; r++ {
		readersWG.Add(1)
		go func(r int) {
			defer readersWG.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				switch (i + r) % 4 {
				case 0:
					o := before[(i*37+r)%len(before)]
					var out struct{ Order *Order }
					if query(`query($id: ID!) { order(id: $id) { `+orderFields+` } }`, map[string]any{"id": o.ID}, &out) {
						if out.Order == nil || jsonString(*out.Order) != beforeByID[o.ID] {
							report("order(%s) during the rebuild = %s, want %s", o.ID, jsonString(out.Order), beforeByID[o.ID])
						}
					}
				case 1:
					var out struct{ Orders OrderConnection }
					if query(`{ orders(first: 100) { edges { cursor node { `+orderFields+` } } pageInfo { hasNextPage endCursor } } }`, nil, &out) {
						if len(out.Orders.Edges) != 100 {
							report("orders(first: 100) during the rebuild: %d edges", len(out.Orders.Edges))
						}
						for k, e := range out.Orders.Edges {
							if k < len(before) && jsonString(e.Node) != jsonString(before[k]) {
								report("orders(first: 100) during the rebuild: edge %d = %s, want %s", k, jsonString(e.Node), jsonString(before[k]))
								break
							}
						}
					}
				case 2:
					var out struct {
						Orders struct {
							Edges []struct{ Node struct{ ID string } }
						}
					}
					query(`{ orders(status: SHIPPED, first: 5) { edges { node { id } } } }`, nil, &out)
					var s struct{ Stock *Stock }
					if query(`{ stock(productId: "p-rb-plenty") { `+stockFields+` } }`, nil, &s) && s.Stock == nil {
						report("stock(p-rb-plenty) is null during the rebuild")
					}
				case 3:
					var out struct{ Projections []ProjectionStatus }
					if query(projectionsQuery, nil, &out) {
						if p, ok := projectionByName(out.Projections, "orders"); ok && p.State == "REBUILDING" {
							rebuildingSeen.Add(1)
						}
						if len(out.Projections) != len(projectionNames) {
							report("projections during the rebuild: %d, want %d", len(out.Projections), len(projectionNames))
						}
					}
				}
			}
		}(r)
	}
	stopReaders := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		readersWG.Wait()
	}
	t.Cleanup(stopReaders)

	// A writer keeps placing orders through the rebuild.
	writerDone := make(chan error, 1)
	go func() { writerDone <- f.placeMany(ctx, "o-rb-during", during, 2) }()

	time.Sleep(20 * time.Millisecond) // let readers and writer get going
	rebuildStarted := time.Now()
	st := c.rebuildProjection(t, "orders")
	if st.Name != "orders" || (st.State != "REBUILDING" && st.State != "LIVE") {
		t.Errorf("rebuildProjection(orders) = %+v, want orders REBUILDING (or LIVE if already done)", st)
	}
	checkProjectionStatus(t, st)
	// Asking again while it runs is not an error either.
	if again := c.rebuildProjection(t, "orders"); again.Name != "orders" || (again.State != "REBUILDING" && again.State != "LIVE") {
		t.Errorf("second rebuildProjection(orders) = %+v, want REBUILDING or LIVE", again)
	}

	var orders ProjectionStatus
	eventually(t, settleTimeout, func() (bool, string) {
		orders, _ = projectionByName(c.projections(t), "orders")
		return orders.State == "LIVE" && orders.LastRebuiltAt != nil,
			fmt.Sprintf("orders projection %s, lastRebuiltAt %v", orders.State, orders.LastRebuiltAt)
	})
	if err := <-writerDone; err != nil {
		t.Errorf("placing orders during the rebuild: %v", err)
	}
	stopReaders()
	t.Logf("rebuild of orders: %d reads concurrently, %d of them saw REBUILDING, lastRebuiltAt %v (%v after asking)",
		reads.Load(), rebuildingSeen.Load(), orders.LastRebuiltAt, orders.LastRebuiltAt.Sub(rebuildStarted))
	for _, p := range problems {
		t.Error("during the rebuild: " + p)
	}
	if reads.Load() == 0 {
		t.Error("no query ran during the rebuild")
	}
	if at := *orders.LastRebuiltAt; at.Before(rebuildStarted.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("orders lastRebuiltAt %v is not between asking (%v) and now", at, rebuildStarted)
	}

	// Afterwards: the seeded orders are identical, in the same order, followed by every order
	// placed during the rebuild, each decided.
	for k := 0; k < during; k++ {
		c.settled(t, fmt.Sprintf("o-rb-during-%03d", k))
	}
	c.quiesce(t)
	for _, p := range c.waitProjectionsLive(t) {
		checkProjectionStatus(t, p)
		if (p.LastRebuiltAt != nil) != (p.Name == "orders") {
			t.Errorf("projection %s: lastRebuiltAt %v after rebuilding only orders", p.Name, p.LastRebuiltAt)
		}
	}
	after := c.allOrders(t, "", "", 100)
	if len(after) != seeded+during {
		t.Errorf("%d orders after the rebuild, want %d seeded + %d placed during it", len(after), seeded, during)
	}
	for k, o := range before {
		if k >= len(after) {
			break
		}
		if got, want := jsonString(after[k]), jsonString(o); got != want {
			t.Errorf("order %d after the rebuild differs\n got: %s\nwant: %s", k, got, want)
		}
	}
	var placedDuring []string
	for _, o := range after {
		if _, old := beforeByID[o.ID]; !old {
			placedDuring = append(placedDuring, o.ID)
			if o.Status == "PENDING" {
				t.Errorf("order %s placed during the rebuild is still PENDING", o.ID)
			}
			if cur := c.mustOrder(t, o.ID); jsonString(cur) != jsonString(o) {
				t.Errorf("order(%s) = %s, but the listing shows %s", o.ID, jsonString(cur), jsonString(o))
			}
		}
	}
	sort.Strings(placedDuring)
	for k := 0; k < during; k++ {
		if id := fmt.Sprintf("o-rb-during-%03d", k); k >= len(placedDuring) || placedDuring[k] != id {
			t.Errorf("order %s placed during the rebuild is missing from orders paging (got %v)", id, placedDuring)
			break
		}
	}
}

// TestRebuildOtherProjections rebuilds the customers, products and stock projections together
// (three online rebuilds at once) and checks that what they serve is unchanged.
func TestRebuildOtherProjections(t *testing.T) {
	t.Parallel()
	c := startApp(t, withFraudLimit(1<<40))
	f := seedRebuildCatalog(t, c)
	if err := f.placeMany(context.Background(), "o-rbo", 60, 4); err != nil {
		t.Fatal(err)
	}
	c.updateCustomerAddress(t, "c-rb-1", "2 Moved Mews")
	c.upsertProduct(t, "p-rb-plenty", "Plenty More", 125)
	c.quiesce(t)
	c.waitProjectionsLive(t)

	snapshot := func() string {
		var out struct {
			Customers []*Customer
			Products  []*Product
		}
		for _, id := range append(append([]string(nil), f.customers...), "c-rb-nobody") {
			out.Customers = append(out.Customers, c.customer(t, id))
		}
		for _, id := range []string{"p-rb-plenty", "p-rb-scarce"} {
			out.Products = append(out.Products, c.product(t, id))
		}
		return jsonString(out)
	}
	before := snapshot()
	names := []string{"customers", "products", "stock"}
	for _, n := range names {
		if st := c.rebuildProjection(t, n); st.Name != n || (st.State != "REBUILDING" && st.State != "LIVE") {
			t.Errorf("rebuildProjection(%s) = %+v, want REBUILDING or LIVE", n, st)
		}
	}
	eventually(t, settleTimeout, func() (bool, string) {
		for _, p := range c.projections(t) {
			if p.Name == "orders" || p.Name == "notifications" || p.Name == "payments" || p.Name == "cancellations" || p.Name == "deadlines" {
				continue // not rebuilt here
			}
			if p.State != "LIVE" || p.LastRebuiltAt == nil {
				return false, fmt.Sprintf("projection %s: %s, lastRebuiltAt %v", p.Name, p.State, p.LastRebuiltAt)
			}
		}
		return true, ""
	})
	for _, p := range c.waitProjectionsLive(t) {
		if p.Name == "orders" && p.LastRebuiltAt != nil {
			t.Errorf("orders projection has lastRebuiltAt %v but was not rebuilt", *p.LastRebuiltAt)
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("customers, products and stock changed by the rebuild\nbefore: %s\nafter:  %s", before, after)
	}
	if s := c.stock(t, "p-rb-plenty"); s.Reserved == 0 {
		t.Errorf("stock(p-rb-plenty) after the rebuild = %+v, want the validated orders' reservations", s)
	} else {
		checkStockInvariants(t, s)
	}
}

func (c *client) updateCustomerAddress(t testing.TB, id, address string) Customer {
	t.Helper()
	var out struct{ UpdateCustomerAddress Customer }
	c.do(t, `mutation($id: ID!, $a: String!) { updateCustomerAddress(customerId: $id, address: $a) { `+customerFields+` } }`,
		map[string]any{"id": id, "a": address}, &out)
	return out.UpdateCustomerAddress
}
