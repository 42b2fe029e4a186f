package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"orderflow/commands/kafkabus"
	"orderflow/events"
	"orderflow/migrations"
)

// The tests of the split deployment, with real binaries: one `orderflow devbroker` and
// services started with --transport kafka --contexts …, each with its own database. The README's
// three processes are apiContexts, "inventory" and checkContexts.
const (
	apiContexts   = "api,orders,catalog,customers,payments"
	checkContexts = "fraud,customercheck,notifications"
	// splitSettleTimeout bounds the wait for every order to settle after a load: a killed inventory
	// member's partitions move only after its group session (6 s) times out, and the race detector
	// on two shared cores makes every process slower.
	splitSettleTimeout = 60 * time.Second
)

// devbroker is a running `orderflow devbroker` on a fixed address and data directory, so that it
// can be stopped and started again where the services expect it.
type devbroker struct {
	bin, addr, data string
	p               *process
}

// startDevbroker runs a devbroker on a free local port with a data directory of the test's.
func startDevbroker(t *testing.T, bin string) *devbroker {
	t.Helper()
	d := &devbroker{bin: bin, addr: freeLocalAddr(t), data: t.TempDir()}
	d.start(t)
	return d
}

// start runs the broker (again) on its address and data directory and waits for its ready line.
func (d *devbroker) start(t *testing.T) {
	t.Helper()
	ready := regexp.MustCompile(`^orderflow devbroker: Kafka protocol on ` + regexp.QuoteMeta(d.addr) + ` `)
	d.p, _ = spawn(t, d.bin, []string{"devbroker", "--addr", d.addr, "--data", d.data}, ready)
}

// freeLocalAddr is a loopback address with a port nobody listened on a moment ago. The devbroker
// advertises the address it is given, so it cannot be told port 0.
func freeLocalAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// splitDeployment is a devbroker and the services started on it, by name for the logs.
type splitDeployment struct {
	t      *testing.T
	bin    string
	broker *devbroker
	mu     sync.Mutex
	names  []string
	procs  map[string]*process
	starts map[string][]string // by service name: its database, then its arguments
	// env is added to the environment of the services started after it is set.
	env []string
}

// newSplitDeployment starts a devbroker; the services are started with service. When the test
// fails, every process's log is written to the test log.
func newSplitDeployment(t *testing.T) *splitDeployment {
	bin := needBinary(t)
	s := &splitDeployment{t: t, bin: bin, procs: map[string]*process{}, starts: map[string][]string{}}
	s.broker = startDevbroker(t, bin)
	s.add("devbroker", s.broker.p)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, name := range s.names {
			t.Logf("---- log of %s ----\n%s", name, s.procs[name].stderr.String())
		}
	})
	return s
}

func (s *splitDeployment) add(name string, p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.procs[name]; !ok {
		s.names = append(s.names, name)
	}
	s.procs[name] = p
}

// service starts one service of the split with its own database, running contexts.
func (s *splitDeployment) service(name, contexts string, extraArgs ...string) *process {
	s.t.Helper()
	db := filepath.Join(s.t.TempDir(), name+".db")
	args := append([]string{
		"--transport", "kafka", "--kafka-brokers", s.broker.addr, "--contexts", contexts,
		"--wait-timeout", "20s",
	}, extraArgs...)
	p := startBinaryEnv(s.t, s.bin, s.env, db, args...)
	s.add(name, p)
	s.mu.Lock()
	s.starts[name] = append([]string{db}, args...)
	s.mu.Unlock()
	return p
}

// newThreeServices starts the README's three services on one devbroker: the API service (the
// API with orders, catalog, customers and payments), inventory, and the checks with a fraud limit
// no test load reaches.
func newThreeServices(t *testing.T) (*splitDeployment, *process) {
	t.Helper()
	s := newSplitDeployment(t)
	api := s.service("api", apiContexts)
	s.service("inventory", "inventory")
	s.service("checks", checkContexts, "--fraud-limit-cents", "1000000000")
	return s, api
}

// dbPath is the database of the service name.
func (s *splitDeployment) dbPath(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts[name][0]
}

// restart starts the service name again on its database, with the same arguments, and returns
// how many events the database held that it had written and not published (a crash leaves some).
func (s *splitDeployment) restart(name string) (*process, int64) {
	s.t.Helper()
	s.mu.Lock()
	start := s.starts[name]
	s.mu.Unlock()
	db, err := events.Open(context.Background(), start[0], events.Options{Migrate: migrations.Apply})
	if err != nil {
		s.t.Fatal(err)
	}
	unpublished, err := kafkabus.Unpublished(context.Background(), db)
	if cerr := db.Close(); err != nil || cerr != nil {
		s.t.Fatal(err, cerr)
	}
	p := startBinary(s.t, s.bin, start[0], start[1:]...)
	s.add(name+" (restarted)", p)
	return p, unpublished
}

// verify runs `orderflow verify` against the deployment's topics, as an operator would after a
// load: every stream linear, every order settled once, the stock adding up, every check answered
// once, every payment matched. It fails the test with verify's report when anything is broken.
func (s *splitDeployment) verify() {
	s.t.Helper()
	res := runBinary(s.t, s.bin, 2*time.Minute, "verify", "--kafka-brokers", s.broker.addr)
	if res.code != 0 {
		s.t.Errorf("orderflow verify exited with %d:\n%s%s", res.code, res.stdout, res.stderr)
		return
	}
	s.t.Logf("orderflow verify: %s", strings.TrimSpace(res.stdout))
}

// errorLines are the lines a service logged at level ERROR: none is expected, whatever the
// test did to the processes and the broker.
func (s *splitDeployment) checkNoErrorsLogged() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range s.names {
		if name == "devbroker" {
			continue
		}
		for _, line := range strings.Split(s.procs[name].stderr.String(), "\n") {
			if strings.Contains(line, "level=ERROR") {
				s.t.Errorf("%s logged an error: %s", name, line)
			}
		}
	}
}

// TestSplitProcessWalkthrough is the README walkthrough against the three services of the README
// on one devbroker, then the three ways an order fails, each decided in another process than the
// API's, and the confirmation sent by the notifications service.
func TestSplitProcessWalkthrough(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	c := s.service("api", apiContexts).client
	s.service("inventory", "inventory")
	s.service("checks", checkContexts, "--fraud-limit-cents", "10000")

	walkthrough(t, c)

	// The paid order was confirmed by the notifications service, to the customer's details it
	// copied from the customers topic.
	n := c.waitNotification(t, "o-walk")
	if n.Kind != "ORDER_CONFIRMED" || n.CustomerID != "c-walk" || n.Email != "ada@example.com" || n.Address != "1 Analytical Way" {
		t.Errorf("notification of o-walk = %+v, want ORDER_CONFIRMED to ada@example.com at 1 Analytical Way", n)
	}

	// After the walkthrough p-gadget has 117 on hand, 7 reserved by the o-page orders.
	c.waitStock(t, "p-gadget", 117, 7)

	// Inventory refuses what it does not have, and keeps nothing reserved for the order.
	c.upsertProduct(t, "p-scarce", "Scarce", 100)
	c.addStock(t, "p-scarce", 2)
	o := c.placeOrder(t, "o-short", "c-other", []Line{{"p-scarce", 3}}, true)
	if o.Status != "FAILED" || !reflect.DeepEqual(o.FailureReasons, []string{"INSUFFICIENT_STOCK"}) {
		t.Errorf("o-short: %s %v, want FAILED with INSUFFICIENT_STOCK", o.Status, o.FailureReasons)
	}
	// The customer check refuses an unregistered customer; inventory releases what it reserved.
	o = c.placeOrder(t, "o-ghost", "c-nobody", []Line{{"p-gadget", 1}}, true)
	if o.Status != "FAILED" || !reflect.DeepEqual(o.FailureReasons, []string{"UNKNOWN_CUSTOMER"}) {
		t.Errorf("o-ghost: %s %v, want FAILED with UNKNOWN_CUSTOMER", o.Status, o.FailureReasons)
	}
	// The fraud service, run with a 10000-cent limit, refuses 34 × 300 = 10200 cents.
	c.registerCustomer(t, "c-big", "Big Spender", "big@example.com", "3 Large Lane")
	o = c.placeOrder(t, "o-big", "c-big", []Line{{"p-gadget", 34}}, true)
	if o.Status != "FAILED" || !reflect.DeepEqual(o.FailureReasons, []string{"FRAUD_LIMIT_EXCEEDED"}) {
		t.Errorf("o-big: %s %v, want FAILED with FRAUD_LIMIT_EXCEEDED", o.Status, o.FailureReasons)
	}
	for id, reason := range map[string]string{"o-short": "INSUFFICIENT_STOCK", "o-ghost": "UNKNOWN_CUSTOMER", "o-big": "FRAUD_LIMIT_EXCEEDED"} {
		if got := c.mustOrder(t, id); got.Status != "FAILED" || !got.hasReason(reason) {
			t.Errorf("order(%s) = %s %v, want FAILED with %s", id, got.Status, got.FailureReasons, reason)
		}
	}
	c.waitStock(t, "p-scarce", 2, 0)
	c.waitStock(t, "p-gadget", 117, 7)
	c.quiesce(t)
	if got := c.notifications(t, "o-walk"); len(got) != 1 {
		t.Errorf("notifications of o-walk = %+v, want exactly one", got)
	}
	for _, id := range []string{"o-short", "o-ghost", "o-big"} {
		if got := c.notifications(t, id); len(got) != 0 {
			t.Errorf("failed order %s was confirmed: %+v", id, got)
		}
	}
	s.checkNoErrorsLogged()
}

// orderLoad places orders from several goroutines until it is stopped and remembers which were
// acknowledged (placeOrder answered without error), and in which phase of the test.
type orderLoad struct {
	c        *client
	tag      string
	products []string
	phase    atomic.Int32

	mu     sync.Mutex
	acked  map[string]ackedOrder
	failed int // requests not acknowledged
	errs   []string

	stop chan struct{}
	wg   sync.WaitGroup
}

type ackedOrder struct {
	customer string
	lines    []Line
	phase    int32
}

// ghostEvery makes every so many orders come from an unregistered customer: they fail after
// inventory reserved their lines, which it then releases.
const ghostEvery = 10

// startOrderLoad starts workers placing orders of one or two lines of products, by the customers
// c-0 … c-4 (registered by the caller) and now and then by an unregistered one. Each worker pauses
// between orders so that the load does not starve two shared cores.
func startOrderLoad(c *client, tag string, products []string, workers int, pause time.Duration) *orderLoad {
	l := &orderLoad{c: c, tag: tag, products: products, acked: map[string]ackedOrder{}, stop: make(chan struct{})}
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.placeOne(int(next.Add(1)))
				select {
				case <-l.stop:
					return
				case <-time.After(pause):
				}
			}
		})
	}
	return l
}

func (l *orderLoad) placeOne(n int) {
	id := fmt.Sprintf("o-%s-%04d", l.tag, n)
	customer := fmt.Sprintf("c-%d", n%5)
	if n%ghostEvery == 0 {
		customer = "c-ghost"
	}
	lines := []Line{{l.products[n%len(l.products)], n%3 + 1}}
	if n%2 == 0 {
		lines = append(lines, Line{l.products[(n+1)%len(l.products)], (n/2)%2 + 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := l.c.exec(ctx, placeOrderMutation, placeOrderVars(id, customer, lines, false))
	var out struct{ PlaceOrder Order }
	if err == nil && len(resp.Errors) > 0 {
		err = fmt.Errorf("GraphQL errors %v: %s", resp.codes(), resp.Body)
	}
	if err == nil {
		if err = json.Unmarshal(resp.Data, &out); err == nil && out.PlaceOrder.ID != id {
			err = fmt.Errorf("placeOrder answered order %q", out.PlaceOrder.ID)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed++
		if len(l.errs) < 5 {
			l.errs = append(l.errs, fmt.Sprintf("%s: %v", id, err))
		}
		return
	}
	l.acked[id] = ackedOrder{customer: customer, lines: lines, phase: l.phase.Load()}
}

// finish stops the workers and returns the acknowledged orders.
func (l *orderLoad) finish(t *testing.T) map[string]ackedOrder {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	perPhase := map[int32]int{}
	for _, o := range l.acked {
		perPhase[o.phase]++
	}
	t.Logf("load %s: %d orders acknowledged (per phase %v), %d not acknowledged %v", l.tag, len(l.acked), perPhase, l.failed, l.errs)
	return l.acked
}

// registerLoadCustomers registers c-0 … c-4, the customers of orderLoad.
func registerLoadCustomers(t *testing.T, c *client) {
	t.Helper()
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("c-%d", i)
		c.registerCustomer(t, id, "Buyer "+id, id+"@example.com", fmt.Sprintf("%d Load Street", i))
	}
}

// checkSplitOutcome is what must hold after a load, whatever happened to the processes or the
// broker during it: every acknowledged order exists and every stored order settles (VALIDATED or
// FAILED, never stuck PENDING) with exactly one decision; each product's stock still has its
// onHand and reserves exactly the lines of the VALIDATED orders; and in each stock stream an
// order line was reserved at most once, and stays reserved only for a VALIDATED order.
func checkSplitOutcome(t *testing.T, c *client, acked map[string]ackedOrder, onHand map[string]int) {
	t.Helper()
	if len(acked) == 0 {
		t.Fatal("no order was acknowledged")
	}
	var all []Order
	var pending []Order
	for deadline := time.Now().Add(splitSettleTimeout); ; {
		missing := ""
		for id := range acked {
			if c.order(t, id) == nil {
				missing = id
				break
			}
		}
		all = c.allOrders(t, "", "", 100)
		pending = pending[:0]
		for _, o := range all {
			if o.Status == "PENDING" {
				pending = append(pending, o)
			}
		}
		if missing == "" && len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			if missing != "" {
				t.Fatalf("acknowledged order %s is missing after %v", missing, splitSettleTimeout)
			}
			t.Fatalf("%d of %d orders still PENDING after %v:\n%s", len(pending), len(all), splitSettleTimeout, describeOrders(t, c, pending[:min(len(pending), 5)]))
		}
		time.Sleep(200 * time.Millisecond)
	}

	wantReserved := map[string]int{}
	validatedLines := map[[2]string]bool{} // (order, product) of VALIDATED orders
	ordered := map[[2]string]bool{}        // (order, product) of every stored order
	reasons := map[string]int{}
	for _, o := range all {
		if strings.HasPrefix(o.ID, walkedBefore) {
			continue
		}
		if a, ok := acked[o.ID]; ok {
			var got []Line
			for _, l := range o.Lines {
				got = append(got, Line{l.ProductID, l.Quantity})
			}
			if o.CustomerID != a.customer || !reflect.DeepEqual(got, a.lines) {
				t.Errorf("order %s is %s %v, was placed as %s %v", o.ID, o.CustomerID, got, a.customer, a.lines)
			}
		}
		for _, l := range o.Lines {
			ordered[[2]string{o.ID, l.ProductID}] = true
		}
		switch o.Status {
		case "VALIDATED":
			for _, l := range o.Lines {
				wantReserved[l.ProductID] += l.Quantity
				validatedLines[[2]string{o.ID, l.ProductID}] = true
			}
		case "FAILED":
			if len(o.FailureReasons) == 0 {
				t.Errorf("order %s FAILED without a reason", o.ID)
			}
			for _, r := range o.FailureReasons {
				reasons[r]++
			}
			if o.CustomerID == "c-ghost" && !o.hasReason("UNKNOWN_CUSTOMER") {
				t.Errorf("order %s of an unregistered customer failed with %v", o.ID, o.FailureReasons)
			}
		default:
			t.Errorf("order %s is %s after the load, want VALIDATED or FAILED", o.ID, o.Status)
		}
	}
	t.Logf("%d orders stored (%d acknowledged), reserved by VALIDATED ones %v, failure reasons %v", len(all), len(acked), wantReserved, reasons)

	for p, units := range onHand {
		var s Stock
		eventually(t, splitSettleTimeout, func() (bool, string) {
			s = c.stock(t, p)
			return s.OnHand == units && s.Reserved == wantReserved[p],
				fmt.Sprintf("stock %s = %+v, want onHand %d reserved %d (Σ lines of VALIDATED orders)", p, s, units, wantReserved[p])
		})
		checkStockInvariants(t, s)

		// The stock stream, as the API copied it from the inventory topic.
		reserved, released := map[string]int{}, map[string]int{}
		evs := c.events(t, "stock-"+p)
		for i, e := range evs {
			if e.Version != i+1 {
				t.Errorf("stock-%s: event %d (%s) has version %d", p, i, e.Type, e.Version)
			}
			var d struct {
				OrderID string `json:"orderId"`
			}
			if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
				t.Fatalf("stock-%s: %s data %q: %v", p, e.Type, e.Data, err)
			}
			switch e.Type {
			case "StockReserved":
				reserved[d.OrderID]++
			case "StockReleased":
				released[d.OrderID]++
			}
		}
		for order, n := range reserved {
			line := [2]string{order, p}
			held := n - released[order]
			switch {
			case !ordered[line]:
				t.Errorf("stock-%s reserves for %s, which has no line of it", p, order)
			case n > 1:
				t.Errorf("stock-%s reserves order %s's line %d times", p, order, n)
			case validatedLines[line] && held != 1:
				t.Errorf("stock-%s: VALIDATED order %s's line is reserved %d times net of releases, want 1", p, order, held)
			case !validatedLines[line] && held != 0:
				t.Errorf("stock-%s: FAILED order %s's line is reserved %d times net of releases, want 0", p, order, held)
			}
		}
		for order, n := range released {
			if n > reserved[order] {
				t.Errorf("stock-%s releases order %s's line %d times, reserved %d times", p, order, n, reserved[order])
			}
		}
		for line := range validatedLines {
			if line[1] == p && reserved[line[0]] == 0 {
				t.Errorf("stock-%s has no reservation for VALIDATED order %s", p, line[0])
			}
		}
	}

	// Each order stream: placed once, decided once (read in one pass over the API's log).
	byStream := map[string][]Event{}
	for _, e := range c.events(t, "") {
		if strings.HasPrefix(e.StreamID, "order-") {
			byStream[e.StreamID] = append(byStream[e.StreamID], e)
		}
	}
	for _, o := range all {
		evs := byStream["order-"+o.ID]
		placed, decisions := 0, 0
		for _, e := range evs {
			switch e.Type {
			case "OrderPlaced":
				placed++
			case "OrderValidated", "OrderFailed":
				decisions++
			}
		}
		if placed != 1 || decisions != 1 {
			t.Errorf("order-%s events %v, want one OrderPlaced and one decision", o.ID, eventTypes(evs))
		}
	}
}

// describeOrders tells what the API's log holds of the orders: their events and, in the stock
// stream of each of their lines, the events about them.
func describeOrders(t *testing.T, c *client, orders []Order) string {
	var b strings.Builder
	all := c.events(t, "")
	for _, o := range orders {
		evs := c.events(t, "order-"+o.ID)
		fmt.Fprintf(&b, "order %s of %s, %v: events %v\n", o.ID, o.CustomerID, o.Lines, eventTypes(evs))
		if len(evs) > 0 && evs[0].CorrelationID != nil {
			var related []string
			for _, e := range all {
				if e.CorrelationID != nil && *e.CorrelationID == *evs[0].CorrelationID {
					related = append(related, e.StreamID+":"+e.Type)
				}
			}
			fmt.Fprintf(&b, "  events of its correlation id: %v\n", related)
		}
		for _, l := range o.Lines {
			var about []string
			for _, e := range c.events(t, "stock-"+l.ProductID) {
				if strings.Contains(e.Data, `"`+o.ID+`"`) {
					about = append(about, e.Type)
				}
			}
			fmt.Fprintf(&b, "  stock-%s about it: %v\n", l.ProductID, about)
		}
	}
	return b.String()
}

// seedLoadProducts defines the products of a load with onHand units each.
func seedLoadProducts(t *testing.T, c *client, tag string, n, units int) map[string]int {
	t.Helper()
	onHand := map[string]int{}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("p-%s-%d", tag, i)
		c.upsertProduct(t, p, "Product "+p, 100)
		c.addStock(t, p, units)
		onHand[p] = units
	}
	return onHand
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// walkedBefore starts the ids of orders a test walked through before its load (paid, shipped):
// checkSplitOutcome leaves them out.
const walkedBefore = "w-"

// killAndRestartMidLoad runs a load of orders on 6 products for 10 seconds, kills the member name of a
// consumer group with SIGKILL, lets the others take its partitions over (the session times out
// after 6 s) and, 8 seconds after the kill, starts it again on its database; 8 seconds later it
// checks the outcome (checkSplitOutcome) and returns the acknowledged orders. A member restarted
// with decisions it had not published must start over from the topics (the others decided their
// causes meanwhile), and one that had published everything keeps its log.
func killAndRestartMidLoad(t *testing.T, s *splitDeployment, c *client, tag, name string, member *process) map[string]ackedOrder {
	t.Helper()
	registerLoadCustomers(t, c)
	onHand := seedLoadProducts(t, c, tag, 6, 1000)
	load := startOrderLoad(c, tag, keys(onHand), 3, 30*time.Millisecond)
	time.Sleep(10 * time.Second)
	load.phase.Store(1)
	member.kill(t)
	t.Log(name + " killed")
	time.Sleep(8 * time.Second)
	restarted, unpublished := s.restart(name)
	t.Logf("%s started again on its database, which held %d events it had not published", name, unpublished)
	time.Sleep(8 * time.Second)
	acked := load.finish(t)
	checkSplitOutcome(t, c, acked, onHand)
	if startedOver := strings.Contains(restarted.stderr.String(), "starts over from the topics"); startedOver != (unpublished > 0) {
		t.Errorf("%s restarted with %d unpublished events: started over from the topics %v, want %v",
			name, unpublished, startedOver, unpublished > 0)
	}
	return acked
}

// TestSplitProcessInventoryFailover: two inventory services share the inventory group; one is
// killed with SIGKILL in the middle of the load, and started again on its database 8 s later. The
// other takes its partitions over meanwhile: every acknowledged order settles, the stock adds up,
// no order line is reserved twice, and nothing logs an error.
func TestSplitProcessInventoryFailover(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	c := s.service("api", apiContexts).client
	inv1 := s.service("inventory-1", "inventory")
	s.service("inventory-2", "inventory")
	s.service("checks", checkContexts, "--fraud-limit-cents", "1000000000")

	killAndRestartMidLoad(t, s, c, "fo", "inventory-1", inv1)
	s.checkNoErrorsLogged()
	s.verify()
}

// TestSplitProcessStalledMembers: a member that stalls past its group session (a GC pause, a
// frozen VM: here SIGSTOP) and then resumes must not make a decision for the partitions it lost
// take effect anywhere. Two inventory members share scarce stock under load: the second joins
// after 4 s; then the first is stopped with SIGSTOP for 10 s (past the 6 s session) and resumed
// with SIGCONT, then the second the same way. No stream diverges anywhere (nothing logs an error),
// every acknowledged order settles, nothing is oversold, reserved stock equals the lines of
// validated orders, and `orderflow verify` passes on the topics.
func TestSplitProcessStalledMembers(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	c := s.service("api", apiContexts).client
	inv1 := s.service("inventory-1", "inventory")
	s.service("checks", checkContexts, "--fraud-limit-cents", "1000000000")

	registerLoadCustomers(t, c)
	onHand := seedLoadProducts(t, c, "st", 4, 3000)
	load := startOrderLoad(c, "st", keys(onHand), 8, 2*time.Millisecond)
	time.Sleep(4 * time.Second)
	inv2 := s.service("inventory-2", "inventory")
	t.Log("inventory-2 joined")
	time.Sleep(4 * time.Second)
	for i, p := range []*process{inv1, inv2} {
		load.phase.Store(int32(i + 1))
		p.signal(t, syscall.SIGSTOP)
		t.Logf("inventory-%d stopped (SIGSTOP)", i+1)
		time.Sleep(10 * time.Second)
		p.signal(t, syscall.SIGCONT)
		t.Logf("inventory-%d resumed (SIGCONT)", i+1)
		time.Sleep(3 * time.Second)
	}
	acked := load.finish(t)
	checkSplitOutcome(t, c, acked, onHand)
	s.checkNoErrorsLogged()
	s.verify()
}

// TestSplitProcessKillLoop: every 5 s for 60 s a member of a context that scales out (two
// inventory services, two checks services) is killed with SIGKILL under load and started again at
// once on its own database. It keeps its log and takes its partitions back (static membership,
// same transactional id: it fences its previous incarnation as it starts); what it had decided
// and not committed is decided again from the committed offsets. Every acknowledged order
// settles, nothing is oversold, no stream diverges, `orderflow verify` passes, and each restart
// is ready (/readyz: in its groups, the broker in reach) well within the group session.
func TestSplitProcessKillLoop(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	c := s.service("api", apiContexts).client
	members := []string{"inventory-1", "inventory-2", "checks-1", "checks-2"}
	procs := map[string]*process{
		"inventory-1": s.service("inventory-1", "inventory"),
		"inventory-2": s.service("inventory-2", "inventory"),
		"checks-1":    s.service("checks-1", checkContexts, "--fraud-limit-cents", "1000000000"),
		"checks-2":    s.service("checks-2", checkContexts, "--fraud-limit-cents", "1000000000"),
	}
	registerLoadCustomers(t, c)
	onHand := seedLoadProducts(t, c, "kl", 6, 2000)
	load := startOrderLoad(c, "kl", keys(onHand), 3, 20*time.Millisecond)
	rnd := rand.New(rand.NewPCG(14, 60))
	var readyAfter []time.Duration
	for round := 1; round <= 12; round++ {
		time.Sleep(5 * time.Second)
		name := members[rnd.IntN(len(members))]
		load.phase.Store(int32(round))
		procs[name].kill(t)
		p, unpublished := s.restart(name)
		procs[name] = p
		if unpublished != 0 {
			t.Errorf("%s held %d events it wrote and had not published: a transactional member writes its log only from committed transactions", name, unpublished)
		}
		// From the moment it serves (its log open, Kafka reached): what follows is joining its
		// groups, which a static member does at once, however slow the start of a process is on
		// a machine busy with other tests (and the race detector).
		eventually(t, 30*time.Second, func() (bool, string) {
			return strings.Contains(p.stderr.String(), "orderflow listening"), name + " does not serve"
		})
		started := time.Now()
		eventually(t, 30*time.Second, func() (bool, string) {
			code, body := p.client.get(t, "/readyz")
			return code == http.StatusOK, fmt.Sprintf("%s /readyz: %d %s", name, code, body)
		})
		readyAfter = append(readyAfter, time.Since(started))
		t.Logf("round %d: %s killed and started again, ready after %v", round, name, readyAfter[len(readyAfter)-1].Round(time.Millisecond))
	}
	acked := load.finish(t)
	checkSplitOutcome(t, c, acked, onHand)
	s.checkNoErrorsLogged()
	s.verify()
	for i, d := range readyAfter {
		// Timing is the README's benchmark; here only a bound, from the moment
		// it serves, that a member waiting for the dead one's session (6 s) to
		// expire would break.
		if d > 6*time.Second {
			t.Errorf("restart %d took %v to be ready, more than the group session: the member did not take its partitions back", i+1, d)
		}
	}
}

// TestSplitProcessAPICrash: the API service (which also runs the order process, the catalog,
// the customers and payments) is killed with SIGKILL in the middle of a load, with placements not
// yet published and results not yet committed, and started again on its database: what it
// acknowledged before the crash settles, and so does what it acknowledges after, with the stock
// adding up and no line reserved twice.
func TestSplitProcessAPICrash(t *testing.T) {
	t.Parallel()
	s, api := newThreeServices(t)

	registerLoadCustomers(t, api.client)
	onHand := seedLoadProducts(t, api.client, "ac", 6, 1000)
	before := startOrderLoad(api.client, "ac", keys(onHand), 3, 30*time.Millisecond)
	time.Sleep(8 * time.Second)
	api.kill(t)
	t.Log("api killed")
	acked := before.finish(t)
	api, unpublished := s.restart("api")
	t.Logf("api started again on its database, which held %d events it had not published", unpublished)
	after := startOrderLoad(api.client, "ac2", keys(onHand), 3, 30*time.Millisecond)
	after.phase.Store(1)
	time.Sleep(5 * time.Second)
	for id, o := range after.finish(t) {
		acked[id] = o
	}
	checkSplitOutcome(t, api.client, acked, onHand)
	if strings.Contains(api.stderr.String(), "starts over from the topics") {
		t.Error("the API service, the only writer of its streams, started over from the topics")
	}
	s.checkNoErrorsLogged()
}

// TestSplitProcessRestoreAPIFromBackup: the API service is backed up under load (`orderflow
// backup`), goes on taking orders, and, once it published them, is lost (SIGKILL) and restored from
// the backup as the
// README says: the copy put in place, `orderflow replay --kafka-brokers` to take in what the topics
// hold that the copy lacks (its own events published after the backup, and the results its groups
// read after it), then started. Every order acknowledged before and after the backup is there and
// settles, nothing diverges (the restored writer of the order streams decides against all of
// them), new orders are taken, and `orderflow verify` passes.
func TestSplitProcessRestoreAPIFromBackup(t *testing.T) {
	t.Parallel()
	s, api := newThreeServices(t)

	registerLoadCustomers(t, api.client)
	onHand := seedLoadProducts(t, api.client, "rb", 4, 1000)
	load := startOrderLoad(api.client, "rb", keys(onHand), 3, 30*time.Millisecond)
	time.Sleep(4 * time.Second)
	backup := filepath.Join(t.TempDir(), "api-backup.db")
	if res := runBinary(t, s.bin, time.Minute, "backup", "--db", s.dbPath("api"), "--out", backup); res.code != 0 {
		t.Fatalf("orderflow backup exited with %d: %s%s", res.code, res.stdout, res.stderr)
	} else {
		t.Logf("%s", strings.TrimSpace(res.stdout+res.stderr))
	}
	load.phase.Store(1)
	time.Sleep(4 * time.Second)
	acked := load.finish(t)
	// What the API service acknowledged after the backup was committed in
	// Kafka before it answered: losing its disk loses nothing of it.
	api.kill(t)
	t.Log("api lost")

	db := s.dbPath("api")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, data, 0o644); err != nil {
		t.Fatal(err)
	}
	api, _ = s.restart("api")
	after := startOrderLoad(api.client, "rb2", keys(onHand), 3, 30*time.Millisecond)
	after.phase.Store(2)
	time.Sleep(4 * time.Second)
	for id, o := range after.finish(t) {
		acked[id] = o
	}
	checkSplitOutcome(t, api.client, acked, onHand)
	s.checkNoErrorsLogged()
	s.verify()
}

// TestSplitProcessBrokerOutage: the devbroker stops (SIGTERM) for 10 seconds while orders are
// placed, and starts again on the same data directory and address. The topics are the record
// (every context decides in Kafka transactions), so no order is acknowledged while the broker
// is away; the services reconnect by themselves and take orders again; every acknowledged
// order settles and nothing is applied twice.
func TestSplitProcessBrokerOutage(t *testing.T) {
	t.Parallel()
	s, api := newThreeServices(t)
	c := api.client

	registerLoadCustomers(t, c)
	onHand := seedLoadProducts(t, c, "out", 4, 1000)
	load := startOrderLoad(c, "out", keys(onHand), 2, 50*time.Millisecond)
	time.Sleep(4 * time.Second)

	if code := s.broker.p.stop(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("devbroker exited with %d after SIGTERM\n%s", code, s.broker.p.stderr.String())
	}
	load.phase.Store(1)
	t.Log("devbroker stopped")
	time.Sleep(10 * time.Second)
	load.phase.Store(2)
	s.broker.start(t)
	s.add("devbroker (restarted)", s.broker.p)
	t.Log("devbroker started again")
	time.Sleep(5 * time.Second)
	acked := load.finish(t)

	perPhase := map[int32]int{}
	for _, o := range acked {
		perPhase[o.phase]++
	}
	if perPhase[2] == 0 {
		t.Errorf("no placeOrder was acknowledged after the broker came back (per phase %v)", perPhase)
	}
	checkSplitOutcome(t, c, acked, onHand)
	s.checkNoErrorsLogged()
	s.verify()
}

// TestSplitProcessScarceStock: 50 clients order the last 10 units at once, the order decided by
// the inventory service and the checks service: exactly 10 are VALIDATED and 40 FAILED with
// INSUFFICIENT_STOCK, as in one process.
func TestSplitProcessScarceStock(t *testing.T) {
	t.Parallel()
	const orders, units = 50, 10
	s := newSplitDeployment(t)
	c := s.service("api", apiContexts, "--wait-timeout", "40s", "--write-timeout", "120s").client
	s.service("inventory", "inventory")
	s.service("checks", checkContexts)

	seedScarceStock(t, c, orders, units)
	raceForScarceStock(t, c, orders, units)
	reservations := 0
	for _, e := range c.events(t, "stock-p-hot") {
		if e.Type == "StockReserved" {
			reservations++
		}
	}
	if reservations != units {
		t.Errorf("stock-p-hot has %d StockReserved events, want %d", reservations, units)
	}
	s.checkNoErrorsLogged()
}

// TestSplitProcessChecksFailover: the fraud check, the customer check and notifications run as two
// members of their consumer groups, and one is killed with SIGKILL in the middle of the load (and
// started again 8 s later). The survivor takes the partitions over after catching up on what the
// killed one published: every acknowledged order settles, and each has exactly one customer check
// and one fraud result.
func TestSplitProcessChecksFailover(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	c := s.service("api", apiContexts).client
	s.service("inventory", "inventory")
	checks1 := s.service("checks-1", checkContexts, "--fraud-limit-cents", "1000000000")
	s.service("checks-2", checkContexts, "--fraud-limit-cents", "1000000000")

	acked := killAndRestartMidLoad(t, s, c, "cf", "checks-1", checks1)
	for id := range acked {
		if n := len(c.events(t, "customercheck-"+id)); n != 1 {
			t.Errorf("order %s has %d customer check results, want 1", id, n)
		}
	}
	customers := map[string]bool{}
	for _, o := range acked {
		customers[o.customer] = true
	}
	fraudResults := map[string]int{}
	for cust := range customers {
		for _, e := range c.events(t, "fraud-"+cust) {
			var r struct {
				OrderID string `json:"orderId"`
			}
			if err := json.Unmarshal([]byte(e.Data), &r); err != nil {
				t.Fatal(err)
			}
			fraudResults[r.OrderID]++
		}
	}
	for id := range acked {
		if fraudResults[id] != 1 {
			t.Errorf("order %s has %d fraud results, want 1", id, fraudResults[id])
		}
	}
	s.checkNoErrorsLogged()
}

// TestSplitProcessRebuildRereadsTheTopics: split into services, rebuildProjection rebuilds from
// what the topics hold, re-read from their beginning, not only from the API service's copy of
// them. The copy is damaged offline (the reservation inventory published is taken out of the API
// service's log, whose consumer group had committed past it): the live read model still shows
// the reservation, and the rebuilt one must too, with the event back in the log.
func TestSplitProcessRebuildRereadsTheTopics(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	api := s.service("api", apiContexts)
	c := api.client
	s.service("inventory", "inventory")
	s.service("checks", checkContexts)

	c.registerCustomer(t, "c-rr", "Ada Lovelace", "ada@example.com", "1 Analytical Way")
	c.upsertProduct(t, "p-rr", "Widget", 100)
	c.addStock(t, "p-rr", 10)
	if o := c.placeOrder(t, "o-rr", "c-rr", []Line{{ProductID: "p-rr", Quantity: 2}}, true); o.Status != "VALIDATED" {
		t.Fatalf("o-rr is %s, want VALIDATED", o.Status)
	}
	// Something after the reservation, so that it is not the last event of the log.
	c.registerCustomer(t, "c-rr-2", "Grace Hopper", "grace@example.com", "2 Compiler Road")
	want, stream := c.stock(t, "p-rr"), c.events(t, "stock-p-rr")
	if want.Reserved != 2 || len(stream) == 0 || stream[len(stream)-1].Type != "StockReserved" {
		t.Fatalf("before: stock %+v, stream %+v", want, stream)
	}

	if code := api.stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("api exited %d on SIGTERM", code)
	}
	dropLastEvent(t, s.dbPath("api"), "stock-p-rr")
	api, _ = s.restart("api")
	c = api.client
	if got := c.events(t, "stock-p-rr"); len(got) != len(stream)-1 {
		t.Fatalf("the damaged copy holds %d events of stock-p-rr, want %d", len(got), len(stream)-1)
	}
	if got := c.stock(t, "p-rr"); got != want {
		t.Fatalf("the live read model, applied before the damage, shows %+v, want %+v", got, want)
	}

	c.rebuildProjection(t, "stock")
	eventually(t, settleTimeout, func() (bool, string) {
		p, _ := projectionByName(c.projections(t), "stock")
		return p.LastRebuiltAt != nil && caughtUp(p) == "", fmt.Sprintf("stock projection %+v", p)
	})
	if got := c.stock(t, "p-rr"); got != want {
		t.Errorf("after rebuildProjection the stock read model shows %+v, want %+v", got, want)
	}
	if got := c.events(t, "stock-p-rr"); len(got) != len(stream) {
		t.Errorf("after rebuildProjection the log holds %d events of stock-p-rr, want %d (re-read from the topic)", len(got), len(stream))
	}
	s.checkNoErrorsLogged()
}

// dropLastEvent takes the last event of stream out of the (closed) database at path, past the
// triggers that keep events permanent: a copy damaged outside orderflow.
func dropLastEvent(t *testing.T, path, stream string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var trigger string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'events_are_permanent'`).Scan(&trigger); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`DROP TRIGGER events_are_permanent`,
		`DELETE FROM events WHERE position = (SELECT max(position) FROM events WHERE stream_id = '` + stream + `')`,
		trigger} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// TestSplitProcessEveryContextScalesOut: every context runs in two processes, the API too: two
// processes each with api, orders, catalog, customers and payments, two inventory services and
// two checks services, each with its own database. The walkthrough goes to both API replicas in
// turn (registered and stocked on one, placed on the other, paid on the first, shipped on the
// second), and each shows the order SHIPPED, the second also after rebuilding its orders read
// model. Then a 20-second load goes through both replicas and
// one API process (an orders, catalog, customers and payments member too) is killed with SIGKILL
// halfway, its clients moving to the other (until then each carried out the commands of its own
// partitions in its own process): every acknowledged order settles with exactly one
// outcome, nothing is oversold, reserved stock is the lines of the validated orders, nothing logs
// an error and `orderflow verify` passes.
func TestSplitProcessEveryContextScalesOut(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	api1 := s.service("api-1", apiContexts)
	a, b := api1.client, s.service("api-2", apiContexts).client
	s.service("inventory-1", "inventory")
	s.service("inventory-2", "inventory")
	s.service("checks-1", checkContexts, "--fraud-limit-cents", "1000000000")
	s.service("checks-2", checkContexts, "--fraud-limit-cents", "1000000000")

	a.registerCustomer(t, "c-both", "Ada Lovelace", "ada@example.com", "1 Analytical Way")
	a.upsertProduct(t, "p-both", "Widget", 1250)
	if st := a.addStock(t, "p-both", 10); st.OnHand != 10 {
		t.Fatalf("addStock on api-1 = %+v, want 10 on hand", st)
	}
	if o := b.placeOrder(t, "w-both", "c-both", []Line{{"p-both", 2}}, true); o.Status != "VALIDATED" {
		t.Fatalf("placeOrder on api-2 = %s %v, want VALIDATED", o.Status, o.FailureReasons)
	}
	if o := a.payOrder(t, "w-both", 2500); o.Status != "PAID" {
		t.Fatalf("payOrder on api-1 = %s, want PAID", o.Status)
	}
	if o := b.shipOrder(t, "w-both"); o.Status != "SHIPPED" {
		t.Fatalf("shipOrder on api-2 = %s, want SHIPPED", o.Status)
	}
	for name, c := range map[string]*client{"api-1": a, "api-2": b} {
		eventually(t, splitSettleTimeout, func() (bool, string) {
			o := c.order(t, "w-both")
			return o != nil && o.Status == "SHIPPED", fmt.Sprintf("%s shows w-both as %+v", name, o)
		})
		c.waitStock(t, "p-both", 8, 0)
	}
	// A replica rebuilds its read models from its own log (re-read from the topics first) while it
	// serves, and shows the same order afterwards.
	b.rebuildProjection(t, "orders")
	b.waitProjectionsLive(t)
	if o := b.mustOrder(t, "w-both"); o.Status != "SHIPPED" {
		t.Errorf("api-2 after rebuilding its orders read model shows w-both as %s", o.Status)
	}

	registerLoadCustomers(t, a)
	onHand := seedLoadProducts(t, b, "ev", 6, 1000)
	loadA := startOrderLoad(a, "eva", keys(onHand), 3, 20*time.Millisecond)
	loadB := startOrderLoad(b, "evb", keys(onHand), 3, 20*time.Millisecond)
	time.Sleep(10 * time.Second)
	acked := loadA.finish(t)
	// Each API replica owns half the orders partitions: the commands for its own keys were carried
	// out in its own process (no command and reply records), the others crossed Kafka.
	if n, _ := a.scrapeMetrics(t).value("orderflow_kafka_local_commands_total", "context", "orders", "outcome", "carried_out"); n == 0 {
		t.Error("api-1 carried out no command of its own orders partitions in its own process")
	}
	api1.kill(t)
	t.Log("api-1 killed; its clients move to api-2")
	moved := startOrderLoad(b, "evm", keys(onHand), 3, 20*time.Millisecond)
	moved.phase.Store(1)
	loadB.phase.Store(1)
	time.Sleep(10 * time.Second)
	for _, l := range []*orderLoad{loadB, moved} {
		for id, o := range l.finish(t) {
			acked[id] = o
		}
	}
	checkSplitOutcome(t, b, acked, onHand)
	s.checkNoErrorsLogged()
	s.verify()
}

// TestSplitProcessAdmissionSeesTheDeployment: split into services, placeOrder's admission
// (--max-validation-lag) bounds the validation lag of the whole deployment, not only of the
// reactions in the API's process: with the inventory service stopped (SIGSTOP), an order placed
// stays PENDING, and once it waited past the bound the next placeOrder waits and answers
// OVERLOADED, writing nothing. Resumed, inventory validates the order, and orders are taken again.
func TestSplitProcessAdmissionSeesTheDeployment(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	c := s.service("api", apiContexts, "--max-validation-lag", "1s").client
	inv := s.service("inventory", "inventory")
	s.service("checks", checkContexts)

	c.registerCustomer(t, "c-adm", "Ada", "ada@example.com", "1 Analytical Way")
	c.upsertProduct(t, "p-adm", "Widget", 100)
	c.addStock(t, "p-adm", 100)
	if o := c.placeOrder(t, "o-adm-1", "c-adm", []Line{{"p-adm", 1}}, true); o.Status != "VALIDATED" {
		t.Fatalf("o-adm-1 = %s %v, want VALIDATED", o.Status, o.FailureReasons)
	}

	inv.signal(t, syscall.SIGSTOP)
	if o := c.placeOrder(t, "o-adm-2", "c-adm", []Line{{"p-adm", 1}}, false); o.Status != "PENDING" {
		t.Fatalf("o-adm-2 with inventory stopped = %s, want PENDING", o.Status)
	}
	time.Sleep(1500 * time.Millisecond) // past the bound
	c.expectError(t, "OVERLOADED", placeOrderMutation, placeOrderVars("o-adm-3", "c-adm", []Line{{"p-adm", 1}}, false))
	if o := c.order(t, "o-adm-3"); o != nil {
		t.Errorf("an order refused as OVERLOADED was written: %+v", o)
	}

	inv.signal(t, syscall.SIGCONT)
	if o := c.settled(t, "o-adm-2"); o.Status != "VALIDATED" {
		t.Errorf("o-adm-2 after inventory resumed = %s %v, want VALIDATED", o.Status, o.FailureReasons)
	}
	if o := c.placeOrder(t, "o-adm-4", "c-adm", []Line{{"p-adm", 1}}, true); o.Status != "VALIDATED" {
		t.Errorf("o-adm-4 after inventory resumed = %s %v, want VALIDATED", o.Status, o.FailureReasons)
	}
	s.checkNoErrorsLogged()
}

// TestSplitProcessNewMemberFromChangelog: a new member of a context whose streams grow with
// every order (inventory: a product's stock; fraud: a customer's window) starts from the
// context's compacted changelog, not from the whole history: it restores each stream's state and
// copies the context's topic from the watermarks on, so its log holds a fraction of the old
// member's. Then the old members are killed with SIGKILL and the new ones decide every order
// alone, against the restored states, under load: every acknowledged order settles, the stock
// adds up (a lost or stale reservation in a restored state would release or commit wrongly),
// nothing logs an error, and `orderflow verify` passes.
func TestSplitProcessNewMemberFromChangelog(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	c := s.service("api", apiContexts).client
	inv1 := s.service("inventory-1", "inventory")
	checks1 := s.service("checks-1", checkContexts, "--fraud-limit-cents", "1000000000")

	registerLoadCustomers(t, c)
	onHand := seedLoadProducts(t, c, "cl", 6, 3000)
	load := startOrderLoad(c, "cl", keys(onHand), 4, 5*time.Millisecond)
	// Long enough for the history to outgrow what a new member copies after the watermarks
	// (the changelog is written every 5 s at most).
	time.Sleep(14 * time.Second)

	inv2 := s.service("inventory-2", "inventory")
	// Not from a copy of checks-1's database, which it would start from by default
	// (--seed-from auto): this test is about the changelog.
	checks2 := s.service("checks-2", checkContexts, "--fraud-limit-cents", "1000000000", "--seed-from", "none")
	t.Log("inventory-2 and checks-2 joined with empty databases")
	for name, p := range map[string]*process{"inventory-2": inv2, "checks-2": checks2} {
		eventually(t, 20*time.Second, func() (bool, string) {
			log := p.stderr.String()
			return strings.Contains(log, "restored its state from the changelog"), name + " did not restore from a changelog:\n" + log
		})
		// It joins its groups (and is given partitions, which the old members give up) only
		// once its first copy of the topics is done: no partition waits for it meanwhile.
		eventually(t, 30*time.Second, func() (bool, string) {
			log := p.stderr.String()
			return strings.Contains(log, "partitions assigned"), name + " was given no partitions:\n" + log
		})
		log := p.stderr.String()
		if copied := strings.Index(log, "first copy of the topics done"); copied < 0 || copied > strings.Index(log, "partitions assigned") {
			t.Errorf("%s was given partitions before its first copy of the topics was done:\n%s", name, log)
		}
	}
	// The new member's log holds the catalog it copies and the inventory topic from the
	// watermarks on: far less than the old member's, which holds the whole history.
	oldHead, _ := inv1.client.scrapeMetrics(t).value("orderflow_log_head_position")
	newHead, _ := inv2.client.scrapeMetrics(t).value("orderflow_log_head_position")
	t.Logf("log heads: inventory-1 %v, inventory-2 %v", oldHead, newHead)
	if newHead <= 0 || newHead >= oldHead/2 {
		t.Errorf("inventory-2 holds %v events, inventory-1 %v: a member restored from the changelog should hold far fewer", newHead, oldHead)
	}
	time.Sleep(3 * time.Second)
	load.phase.Store(1)
	inv1.kill(t)
	checks1.kill(t)
	t.Log("inventory-1 and checks-1 killed: the restored members decide alone")
	time.Sleep(20 * time.Second)
	acked := load.finish(t)
	checkSplitOutcome(t, c, acked, onHand)
	s.checkNoErrorsLogged()
	s.verify()
}

// TestSplitProcessNewAPIReplicaReadyWithItsHistory: an API replica that joins a deployment with
// a history copies the topics into its log: all of them on an empty database (--seed-from none),
// or what lies beyond the offsets saved in a backup of another replica it starts on (taken with
// `orderflow backup`, fetched with --seed-from an address, or by default from a member found on
// the members topic). It says it is ready only
// once its log and read models hold what the topics held when it started: a load balancer that
// sends it reads as soon as /readyz answers 200 finds every order there, with the status the
// first replica shows. (It once answered 200 within a second, with an empty log.)
func TestSplitProcessNewAPIReplicaReadyWithItsHistory(t *testing.T) {
	t.Parallel()
	s, api := newThreeServices(t)
	c := api.client

	registerLoadCustomers(t, c)
	onHand := seedLoadProducts(t, c, "nr", 4, 3000)
	load := startOrderLoad(c, "nr", keys(onHand), 4, 5*time.Millisecond)
	time.Sleep(6 * time.Second)
	acked := load.finish(t)
	checkSplitOutcome(t, c, acked, onHand)

	// api-2 starts with an empty database; api-3 on a backup of the first replica's, taken
	// before the last orders: it copies only what the topics hold beyond the offsets saved in it.
	more := startOrderLoad(c, "nr2", keys(onHand), 2, 20*time.Millisecond)
	backup := filepath.Join(t.TempDir(), "api-backup.db")
	if res := runBinary(t, s.bin, time.Minute, "backup", "--db", s.dbPath("api"), "--out", backup); res.code != 0 {
		t.Fatalf("orderflow backup exited with %d: %s%s", res.code, res.stdout, res.stderr)
	}
	time.Sleep(2 * time.Second)
	for id, o := range more.finish(t) {
		acked[id] = o
	}
	checkSplitOutcome(t, c, acked, onHand)
	seeded := filepath.Join(t.TempDir(), "api-3.db")
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(seeded, data, 0o644); err != nil {
		t.Fatal(err)
	}
	replicas := map[string]*process{
		"api-2": s.service("api-2", "api", "--seed-from", "none"),
		"api-3": startBinary(t, s.bin, seeded, "--transport", "kafka", "--kafka-brokers", s.broker.addr, "--contexts", "api"),
		// api-4 fetches its copy from the first replica as it starts (GET /admin/backup).
		"api-4": s.service("api-4", "api", "--seed-from", api.client.base),
		// api-5 is started as anyone would: it finds a running member of its contexts on the
		// members topic and starts from a copy of its database.
		"api-5": s.service("api-5", "api"),
	}
	s.add("api-3", replicas["api-3"])
	for _, name := range []string{"api-4", "api-5"} {
		if log := replicas[name].stderr.String(); !strings.Contains(log, "seeded the database from a running process") {
			t.Errorf("%s did not say it was seeded from a running process:\n%s", name, log)
		}
	}
	if log := replicas["api-2"].stderr.String(); strings.Contains(log, "seeded the database") {
		t.Errorf("api-2, started with --seed-from none, was seeded:\n%s", log)
	}
	// It starts on the copy while the disk writes it; the marker that says so goes once it is on disk.
	eventually(t, 30*time.Second, func() (bool, string) {
		_, err := os.Stat(s.dbPath("api-4") + ".unsynced")
		return errors.Is(err, os.ErrNotExist) && strings.Contains(replicas["api-4"].stderr.String(), "is on disk"),
			fmt.Sprintf("api-4's copy not said to be on disk (marker: %v)", err)
	})
	for name, p := range replicas {
		var notReady []string
		eventually(t, 60*time.Second, func() (bool, string) {
			code, body := p.client.get(t, "/readyz")
			if code != http.StatusOK && len(notReady) < 3 {
				notReady = append(notReady, strings.TrimSpace(body))
			}
			return code == http.StatusOK, fmt.Sprintf("%s /readyz: %d %s", name, code, body)
		})
		t.Logf("%s was not ready while: %q", name, notReady)
		// No waiting from here: what it shows once ready, it must show at once.
		missing, differ := 0, 0
		for id := range acked {
			o := p.client.order(t, id)
			want := c.mustOrder(t, id)
			switch {
			case o == nil:
				missing++
			case o.Status != want.Status:
				differ++
				t.Logf("order %s: %s on %s, %s on api", id, o.Status, name, want.Status)
			}
		}
		if missing > 0 || differ > 0 {
			t.Errorf("%s ready, yet %d of %d orders missing there and %d with another status", name, missing, len(acked), differ)
		}
	}
	s.checkNoErrorsLogged()
}
