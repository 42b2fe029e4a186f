package e2e

import (
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	// replay: 1200/3400 events (35.3%), 5120 events/s, ETA 0s
	replayProgressRE = regexp.MustCompile(`^replay: (\d+)/(\d+) events \((\d+\.\d)%\), (\d+) events/s, ETA (\S+)$`)
	// replay done: 5 projections (orders, products, stock, customers, notifications), 3400 events in 0.66s, 5120 events/s
	replayDoneRE = regexp.MustCompile(`^replay done: (\d+) projections \(([^)]*)\), (\d+) events in (\d+\.\d\d)s, (\d+) events/s$`)
)

// replaySummary is the parsed output of a successful replay.
type replaySummary struct {
	projections []string // sorted
	events      int
	progress    int // progress lines printed
}

// parseReplay checks that stderr is progress lines, each out of the store's head position,
// followed by the final summary line.
func parseReplay(t *testing.T, stderr string, head int) replaySummary {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	var sum replaySummary
	m := replayDoneRE.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Fatalf("replay: last stderr line %q is not the summary `replay done: N projections (...), N events in Ns, N events/s`\nstderr:\n%s",
			lines[len(lines)-1], stderr)
	}
	n, _ := strconv.Atoi(m[1])
	sum.projections = strings.Split(m[2], ", ")
	sort.Strings(sum.projections)
	if n != len(sum.projections) {
		t.Errorf("replay summary says %d projections but names %v", n, sum.projections)
	}
	sum.events, _ = strconv.Atoi(m[3])
	for _, l := range lines[:len(lines)-1] {
		pm := replayProgressRE.FindStringSubmatch(l)
		if pm == nil {
			t.Errorf("replay: stderr line %q is neither a progress line nor the summary", l)
			continue
		}
		sum.progress++
		done, _ := strconv.Atoi(pm[1])
		total, _ := strconv.Atoi(pm[2])
		if done > total || total != head {
			t.Errorf("replay progress %q: want done ≤ total = %d (the head position)", l, head)
		}
	}
	return sum
}

// readSide is everything the read models answer about the replay test's data.
type readSide struct {
	Orders    []Order
	Stock     []Stock
	Products  []*Product
	Customers []*Customer
}

func (c *client) readSide(t *testing.T, customers, products []string) string {
	t.Helper()
	var rs readSide
	rs.Orders = c.allOrders(t, "", "", 7)
	for _, p := range products {
		rs.Stock = append(rs.Stock, c.stock(t, p))
		rs.Products = append(rs.Products, c.product(t, p))
	}
	for _, id := range customers {
		rs.Customers = append(rs.Customers, c.customer(t, id))
	}
	return jsonString(rs)
}

// TestReplayCommand drives `orderflow replay` on the real binary. While the server holds the
// database, replay refuses with a clear message and a non-zero status. After a graceful stop it
// rebuilds every projection (or the ones named) from the log, reporting progress and a summary
// that counts every stored event; an unknown projection is refused. The server started again on
// the replayed database reads exactly as before and keeps working.
func TestReplayCommand(t *testing.T) {
	t.Parallel()
	bin := needBinary(t)
	db := filepath.Join(t.TempDir(), "orderflow.db")
	p := startBinary(t, bin, db, "--durability", "normal")
	c := p.client

	customers := []string{"c-rp-1", "c-rp-2", "c-rp-ghost"}
	products := []string{"p-rp-a", "p-rp-b"}
	c.registerCustomer(t, "c-rp-1", "Barbara Liskov", "bl@example.com", "10 Substitution St")
	c.registerCustomer(t, "c-rp-2", "Edsger Dijkstra", "ed@example.com", "11 Semaphore Sq")
	c.upsertProduct(t, "p-rp-a", "Lamp", 800)
	c.upsertProduct(t, "p-rp-b", "Shade", 300)
	c.addStock(t, "p-rp-a", 30)
	c.addStock(t, "p-rp-b", 6)
	for i := 0; i < 16; i++ {
		cust := customers[i%2]
		if i%7 == 3 {
			cust = "c-rp-ghost"
		}
		id := fmt.Sprintf("o-rp-%02d", i)
		o := c.placeOrder(t, id, cust, []Line{{"p-rp-a", i%3 + 1}, {"p-rp-b", i%2 + 1}}, true)
		if o.Status != "VALIDATED" {
			continue
		}
		switch i % 4 {
		case 0:
			c.payOrder(t, id, o.TotalCents)
			c.shipOrder(t, id)
		case 1:
			c.payOrder(t, id, o.TotalCents)
		case 2:
			c.cancelOrder(t, id, "")
		}
	}
	evs := c.quiesce(t)
	head := evs[len(evs)-1].Position
	c.waitProjectionsLive(t)
	before := c.readSide(t, customers, products)

	// The server holds the database: replay must refuse, and leave it untouched.
	res := runBinary(t, bin, 60*time.Second, "replay", "--db", db)
	if res.code == 0 {
		t.Errorf("replay while the server runs exited 0, want non-zero\nstderr:\n%s", res.stderr)
	}
	if !regexp.MustCompile(`held .*by another orderflow process`).MatchString(res.stderr) {
		t.Errorf("replay while the server runs: stderr does not say the database is held by another process:\n%s", res.stderr)
	}
	if strings.Contains(res.stderr, "replay done") {
		t.Errorf("replay while the server runs reported a replay:\n%s", res.stderr)
	}
	if got := c.readSide(t, customers, products); got != before {
		t.Errorf("the read side changed after a refused replay\nbefore: %s\nafter:  %s", before, got)
	}
	if n := len(c.events(t, "")); n != len(evs) {
		t.Errorf("%d events after a refused replay, want %d", n, len(evs))
	}

	if code := p.stop(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("server exit status %d after SIGTERM, want 0\nstderr:\n%s", code, p.stderr.String())
	}

	// Every projection.
	res = runBinary(t, bin, 60*time.Second, "replay", "--db", db)
	if res.code != 0 {
		t.Fatalf("replay --db %s: exit status %d, want 0\nstderr:\n%s", db, res.code, res.stderr)
	}
	sum := parseReplay(t, res.stderr, head)
	if !reflect.DeepEqual(sum.projections, projectionNames) {
		t.Errorf("replay rebuilt %v, want %v\nstderr:\n%s", sum.projections, projectionNames, res.stderr)
	}
	if sum.events != len(evs) {
		t.Errorf("replay summary counts %d events, want the %d in the store (head position %d)\nstderr:\n%s",
			sum.events, len(evs), head, res.stderr)
	}
	if sum.progress == 0 {
		t.Logf("replay printed no progress line, only the summary")
	}

	// One projection, then two.
	res = runBinary(t, bin, 60*time.Second, "replay", "--db", db, "--projection", "orders")
	if res.code != 0 {
		t.Fatalf("replay --projection orders: exit status %d, want 0\nstderr:\n%s", res.code, res.stderr)
	}
	if sum := parseReplay(t, res.stderr, head); !reflect.DeepEqual(sum.projections, []string{"orders"}) || sum.events != len(evs) {
		t.Errorf("replay --projection orders: rebuilt %v over %d events, want [orders] over %d\nstderr:\n%s",
			sum.projections, sum.events, len(evs), res.stderr)
	}
	res = runBinary(t, bin, 60*time.Second, "replay", "--db", db, "--projection", "stock", "--projection", "customers")
	if res.code != 0 {
		t.Fatalf("replay --projection stock --projection customers: exit status %d, want 0\nstderr:\n%s", res.code, res.stderr)
	}
	if sum := parseReplay(t, res.stderr, head); !reflect.DeepEqual(sum.projections, []string{"customers", "stock"}) {
		t.Errorf("replay --projection stock --projection customers rebuilt %v\nstderr:\n%s", sum.projections, res.stderr)
	}

	// Refusals.
	res = runBinary(t, bin, 60*time.Second, "replay", "--db", db, "--projection", "bogus")
	if res.code == 0 || !strings.Contains(res.stderr, "unknown projection") {
		t.Errorf("replay --projection bogus: exit status %d, want non-zero with \"unknown projection\"\nstderr:\n%s", res.code, res.stderr)
	}
	missing := filepath.Join(t.TempDir(), "missing.db")
	if res = runBinary(t, bin, 60*time.Second, "replay", "--db", missing); res.code == 0 {
		t.Errorf("replay --db of a missing file exited 0\nstderr:\n%s", res.stderr)
	}

	// The server on the replayed database reads as before, and the projections remember the rebuild.
	p2 := startBinary(t, bin, db, "--durability", "normal")
	c = p2.client
	for _, ps := range c.waitProjectionsLive(t) {
		checkProjectionStatus(t, ps)
		if ps.HeadPosition != head {
			t.Errorf("after the replay projection %s has head %d, want %d (replay must not write events)", ps.Name, ps.HeadPosition, head)
		}
		if ps.LastRebuiltAt == nil {
			t.Errorf("after the replay projection %s has no lastRebuiltAt", ps.Name)
		}
	}
	if after := c.readSide(t, customers, products); after != before {
		t.Errorf("the read side differs after the replay\nbefore: %s\nafter:  %s", before, after)
	}
	// And it keeps following the log.
	st := c.stock(t, "p-rp-a")
	c.placeValidated(t, "o-rp-after", "c-rp-1", []Line{{"p-rp-a", 1}})
	c.waitStock(t, "p-rp-a", st.OnHand, st.Reserved+1)
	if code := p2.stop(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Errorf("restarted server exit status %d after SIGTERM, want 0\nstderr:\n%s", code, p2.stderr.String())
	}
}
