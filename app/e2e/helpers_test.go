// Package e2e drives the real orderflow application over HTTP: in-process through app.Start for
// most tests, and as the built binary for the crash and graceful-stop tests. Tests assert the
// business rules of DOMAIN.md and invariants that must hold after any interleaving, never timings;
// waits for asynchronous effects are bounded polls.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"orderflow/app"
)

// settleTimeout bounds every poll for an asynchronous effect (validation, release, commit). It is
// generous because the race detector on a small machine slows everything down; a correct app
// settles in a fraction of it, and a broken one fails the poll instead of hanging the package.
const settleTimeout = 20 * time.Second

// ---------------------------------------------------------------------------------------------
// Read-side shapes, mirroring the GraphQL schema.

type Stock struct {
	ProductID string `json:"productId"`
	OnHand    int    `json:"onHand"`
	Reserved  int    `json:"reserved"`
	Available int    `json:"available"`
}

type Product struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	PriceCents int    `json:"priceCents"`
	Stock      *Stock `json:"stock"`
}

type Customer struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	Address string `json:"address"`
}

type OrderLine struct {
	ProductID      string `json:"productId"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int    `json:"unitPriceCents"`
}

type Order struct {
	ID             string      `json:"id"`
	CustomerID     string      `json:"customerId"`
	Status         string      `json:"status"`
	Lines          []OrderLine `json:"lines"`
	TotalCents     int         `json:"totalCents"`
	PaidCents      int         `json:"paidCents"`
	RefundedCents  int         `json:"refundedCents"`
	FailureReasons []string    `json:"failureReasons"`
	// CancellationReason is null unless the order is CANCELLED.
	CancellationReason *string   `json:"cancellationReason"`
	Version            int       `json:"version"`
	CreatedAt          time.Time `json:"createdAt"`
	UpdatedAt          time.Time `json:"updatedAt"`
}

func (o Order) hasReason(reason string) bool {
	for _, r := range o.FailureReasons {
		if r == reason {
			return true
		}
	}
	return false
}

type PageInfo struct {
	HasNextPage bool    `json:"hasNextPage"`
	EndCursor   *string `json:"endCursor"`
}

type OrderConnection struct {
	Edges []struct {
		Cursor string `json:"cursor"`
		Node   Order  `json:"node"`
	} `json:"edges"`
	PageInfo PageInfo `json:"pageInfo"`
}

type Event struct {
	Position      int       `json:"position"`
	StreamID      string    `json:"streamId"`
	Version       int       `json:"version"`
	Type          string    `json:"type"`
	SchemaVersion int       `json:"schemaVersion"`
	OccurredAt    time.Time `json:"occurredAt"`
	CorrelationID *string   `json:"correlationId"`
	CausationID   *string   `json:"causationId"`
	Data          string    `json:"data"`
}

// Line is one OrderLineInput.
type Line struct {
	ProductID string `json:"productId"`
	Quantity  int    `json:"quantity"`
}

const (
	stockFields    = `productId onHand reserved available`
	productFields  = `id name priceCents`
	customerFields = `id name email address`
	orderFields    = `id customerId status lines { productId quantity unitPriceCents } totalCents paidCents refundedCents failureReasons cancellationReason version createdAt updatedAt`
	eventFields    = `position streamId version type schemaVersion occurredAt correlationId causationId data`
)

// ---------------------------------------------------------------------------------------------
// GraphQL over HTTP.

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

type gqlResponse struct {
	Status int             `json:"-"`
	Body   []byte          `json:"-"`
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

func (r *gqlResponse) codes() []string {
	var cs []string
	for _, e := range r.Errors {
		cs = append(cs, e.code())
	}
	return cs
}

// client talks to one running instance, in-process or a child process.
type client struct {
	base string
	http *http.Client
}

func newClient(base string) *client {
	return &client{
		base: strings.TrimRight(base, "/"),
		http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
}

// exec posts one GraphQL request. It does not touch testing.T so goroutines may use it; a 5xx
// status is returned as an error because the API must never answer 500.
func (c *client) exec(ctx context.Context, query string, vars map[string]any) (*gqlResponse, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	out := &gqlResponse{Status: resp.StatusCode, Body: raw}
	if resp.StatusCode >= 500 {
		return out, fmt.Errorf("HTTP %d (the API must never answer 5xx): %s", resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return out, fmt.Errorf("HTTP %d, body is not a GraphQL response: %v: %s", resp.StatusCode, err, raw)
	}
	return out, nil
}

// do runs a request that must succeed and decodes data into out (if not nil).
func (c *client) do(t testing.TB, query string, vars map[string]any, out any) {
	t.Helper()
	resp, err := c.exec(context.Background(), query, vars)
	if err != nil {
		t.Fatalf("request failed: %v\nquery: %s\nvariables: %s", err, query, jsonString(vars))
	}
	if len(resp.Errors) > 0 {
		t.Fatalf("unexpected GraphQL errors %v (HTTP %d)\nquery: %s\nvariables: %s\nresponse: %s",
			resp.codes(), resp.Status, query, jsonString(vars), resp.Body)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			t.Fatalf("decoding data: %v: %s", err, resp.Data)
		}
	}
}

// expectError runs a request that must be rejected with exactly the given extensions.code and
// returns the response for further checks.
func (c *client) expectError(t testing.TB, wantCode, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	resp, err := c.exec(context.Background(), query, vars)
	if err != nil {
		t.Fatalf("request failed: %v\nquery: %s\nvariables: %s", err, query, jsonString(vars))
	}
	if len(resp.Errors) == 0 {
		t.Errorf("want error %s, got success (HTTP %d)\nquery: %s\nvariables: %s\nresponse: %s",
			wantCode, resp.Status, query, jsonString(vars), resp.Body)
		return resp
	}
	if got := resp.Errors[0].code(); got != wantCode {
		t.Errorf("want error code %s, got %v (HTTP %d)\nquery: %s\nvariables: %s\nresponse: %s",
			wantCode, resp.codes(), resp.Status, query, jsonString(vars), resp.Body)
	}
	return resp
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// ---------------------------------------------------------------------------------------------
// Typed operations.

// get fetches a path of the server (not GraphQL) and returns its status and body.
func (c *client) get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (c *client) registerCustomer(t testing.TB, id, name, email, address string) Customer {
	t.Helper()
	var out struct{ RegisterCustomer Customer }
	c.do(t, `mutation($in: RegisterCustomerInput!) { registerCustomer(input: $in) { `+customerFields+` } }`,
		map[string]any{"in": customerInput(id, name, email, address)}, &out)
	return out.RegisterCustomer
}

func customerInput(id, name, email, address string) map[string]any {
	in := map[string]any{"name": name, "email": email, "address": address}
	if id != "" {
		in["id"] = id
	}
	return in
}

func (c *client) upsertProduct(t testing.TB, id, name string, priceCents int) Product {
	t.Helper()
	var out struct{ UpsertProduct Product }
	c.do(t, `mutation($in: ProductInput!) { upsertProduct(input: $in) { `+productFields+` } }`,
		map[string]any{"in": productInput(id, name, priceCents)}, &out)
	return out.UpsertProduct
}

func productInput(id, name string, priceCents int) map[string]any {
	in := map[string]any{"name": name, "priceCents": priceCents}
	if id != "" {
		in["id"] = id
	}
	return in
}

func (c *client) addStock(t testing.TB, productID string, quantity int) Stock {
	t.Helper()
	var out struct{ AddStock Stock }
	c.do(t, `mutation($p: ID!, $q: Int!) { addStock(productId: $p, quantity: $q) { `+stockFields+` } }`,
		map[string]any{"p": productID, "q": quantity}, &out)
	return out.AddStock
}

const placeOrderMutation = `mutation($in: PlaceOrderInput!, $wait: Boolean) {
  placeOrder(input: $in, waitForValidation: $wait) { ` + orderFields + ` } }`

func placeOrderVars(id, customerID string, lines []Line, wait bool) map[string]any {
	in := map[string]any{"customerId": customerID, "lines": lines}
	if lines == nil {
		in["lines"] = []Line{}
	}
	if id != "" {
		in["id"] = id
	}
	return map[string]any{"in": in, "wait": wait}
}

func (c *client) placeOrder(t testing.TB, id, customerID string, lines []Line, wait bool) Order {
	t.Helper()
	var out struct{ PlaceOrder Order }
	c.do(t, placeOrderMutation, placeOrderVars(id, customerID, lines, wait), &out)
	return out.PlaceOrder
}

// placeValidated places an order with waitForValidation and requires it to come back VALIDATED.
func (c *client) placeValidated(t testing.TB, id, customerID string, lines []Line) Order {
	t.Helper()
	o := c.placeOrder(t, id, customerID, lines, true)
	if o.Status != "VALIDATED" {
		t.Fatalf("order %s: want VALIDATED after waitForValidation, got %s %v", o.ID, o.Status, o.FailureReasons)
	}
	return o
}

const payOrderMutation = `mutation($id: ID!, $amt: Int64!) { payOrder(orderId: $id, amountCents: $amt) { ` + orderFields + ` } }`
const shipOrderMutation = `mutation($id: ID!) { shipOrder(orderId: $id) { ` + orderFields + ` } }`
const cancelOrderMutation = `mutation($id: ID!, $reason: String) { cancelOrder(orderId: $id, reason: $reason) { ` + orderFields + ` } }`

func (c *client) payOrder(t testing.TB, id string, amount int) Order {
	t.Helper()
	var out struct{ PayOrder Order }
	c.do(t, payOrderMutation, map[string]any{"id": id, "amt": amount}, &out)
	return out.PayOrder
}

func (c *client) shipOrder(t testing.TB, id string) Order {
	t.Helper()
	var out struct{ ShipOrder Order }
	c.do(t, shipOrderMutation, map[string]any{"id": id}, &out)
	return out.ShipOrder
}

func (c *client) cancelOrder(t testing.TB, id, reason string) Order {
	t.Helper()
	var out struct{ CancelOrder Order }
	c.do(t, cancelOrderMutation, map[string]any{"id": id, "reason": reason}, &out)
	return out.CancelOrder
}

// order returns the order or nil when the API answers null.
func (c *client) order(t testing.TB, id string) *Order {
	t.Helper()
	var out struct{ Order *Order }
	c.do(t, `query($id: ID!) { order(id: $id) { `+orderFields+` } }`, map[string]any{"id": id}, &out)
	return out.Order
}

func (c *client) mustOrder(t testing.TB, id string) Order {
	t.Helper()
	o := c.order(t, id)
	if o == nil {
		t.Fatalf("order %s: got null, want the order", id)
	}
	return *o
}

func (c *client) product(t testing.TB, id string) *Product {
	t.Helper()
	var out struct{ Product *Product }
	c.do(t, `query($id: ID!) { product(id: $id) { `+productFields+` stock { `+stockFields+` } } }`,
		map[string]any{"id": id}, &out)
	return out.Product
}

func (c *client) customer(t testing.TB, id string) *Customer {
	t.Helper()
	var out struct{ Customer *Customer }
	c.do(t, `query($id: ID!) { customer(id: $id) { `+customerFields+` } }`, map[string]any{"id": id}, &out)
	return out.Customer
}

// stock returns the product's stock; a product never given stock may be null, read as zeros.
func (c *client) stock(t testing.TB, productID string) Stock {
	t.Helper()
	var out struct{ Stock *Stock }
	c.do(t, `query($p: ID!) { stock(productId: $p) { `+stockFields+` } }`, map[string]any{"p": productID}, &out)
	if out.Stock == nil {
		return Stock{ProductID: productID}
	}
	return *out.Stock
}

// events reads every event of one stream (or of the whole store when streamID is empty), paging
// by position.
func (c *client) events(t testing.TB, streamID string) []Event {
	t.Helper()
	var all []Event
	after := 0
	for page := 0; ; page++ {
		if page > 10000 {
			t.Fatalf("events(%q): paging does not end", streamID)
		}
		vars := map[string]any{"after": after, "first": 100}
		q := `query($after: Int64, $first: Int) { events(afterPosition: $after, first: $first) { ` + eventFields + ` } }`
		if streamID != "" {
			vars["s"] = streamID
			q = `query($s: ID, $after: Int64, $first: Int) { events(streamId: $s, afterPosition: $after, first: $first) { ` + eventFields + ` } }`
		}
		var out struct{ Events []Event }
		c.do(t, q, vars, &out)
		if len(out.Events) == 0 {
			return all
		}
		for _, e := range out.Events {
			if e.Position <= after {
				t.Fatalf("events(%q, afterPosition: %d) returned position %d", streamID, after, e.Position)
			}
			after = e.Position
		}
		all = append(all, out.Events...)
	}
}

func eventTypes(evs []Event) []string {
	ts := make([]string, len(evs))
	for i, e := range evs {
		ts[i] = e.Type
	}
	return ts
}

func (c *client) ordersPage(t testing.TB, customerID, status string, first int, after *string) OrderConnection {
	t.Helper()
	vars := map[string]any{"first": first}
	if customerID != "" {
		vars["c"] = customerID
	}
	if status != "" {
		vars["s"] = status
	}
	if after != nil {
		vars["after"] = *after
	}
	var out struct{ Orders OrderConnection }
	c.do(t, `query($c: ID, $s: OrderStatus, $first: Int, $after: String) {
  orders(customerId: $c, status: $s, first: $first, after: $after) {
    edges { cursor node { `+orderFields+` } } pageInfo { hasNextPage endCursor } } }`, vars, &out)
	return out.Orders
}

// allOrders pages through orders(customerId, status) and fails on a repeated order.
func (c *client) allOrders(t testing.TB, customerID, status string, pageSize int) []Order {
	t.Helper()
	var all []Order
	seen := map[string]bool{}
	var after *string
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("orders paging does not end")
		}
		conn := c.ordersPage(t, customerID, status, pageSize, after)
		if len(conn.Edges) > pageSize {
			t.Errorf("orders(first: %d) returned %d edges", pageSize, len(conn.Edges))
		}
		for _, e := range conn.Edges {
			if seen[e.Node.ID] {
				t.Errorf("orders paging (customer %q, status %q, first %d) returned order %s twice", customerID, status, pageSize, e.Node.ID)
			}
			seen[e.Node.ID] = true
			if e.Cursor == "" {
				t.Errorf("order edge %s has an empty cursor", e.Node.ID)
			}
			all = append(all, e.Node)
		}
		if !conn.PageInfo.HasNextPage {
			return all
		}
		if len(conn.Edges) == 0 || conn.PageInfo.EndCursor == nil {
			t.Fatalf("orders: hasNextPage with no edges or no endCursor: %+v", conn.PageInfo)
		}
		if last := conn.Edges[len(conn.Edges)-1].Cursor; last != *conn.PageInfo.EndCursor {
			t.Errorf("orders: endCursor %q is not the last edge's cursor %q", *conn.PageInfo.EndCursor, last)
		}
		after = conn.PageInfo.EndCursor
	}
}

// settled polls until the order exists and has left PENDING.
func (c *client) settled(t testing.TB, id string) Order {
	t.Helper()
	var last *Order
	eventually(t, settleTimeout, func() (bool, string) {
		last = c.order(t, id)
		if last == nil {
			return false, "order " + id + " not found"
		}
		return last.Status != "PENDING", fmt.Sprintf("order %s still %s", id, last.Status)
	})
	return *last
}

// eventually polls cond until it holds or the timeout passes; the message of the last attempt is
// reported on failure.
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	delay := 10 * time.Millisecond
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached within %v: %s", timeout, msg)
		}
		time.Sleep(delay)
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

// waitStock polls until the product's stock equals want (productId aside).
func (c *client) waitStock(t testing.TB, productID string, onHand, reserved int) Stock {
	t.Helper()
	var s Stock
	eventually(t, settleTimeout, func() (bool, string) {
		s = c.stock(t, productID)
		return s.OnHand == onHand && s.Reserved == reserved,
			fmt.Sprintf("stock %s: got onHand %d reserved %d, want onHand %d reserved %d", productID, s.OnHand, s.Reserved, onHand, reserved)
	})
	checkStockInvariants(t, s)
	return s
}

func checkStockInvariants(t testing.TB, s Stock) {
	t.Helper()
	if s.Reserved < 0 || s.Reserved > s.OnHand {
		t.Errorf("stock %s breaks 0 ≤ reserved ≤ onHand: %+v", s.ProductID, s)
	}
	if s.Available != s.OnHand-s.Reserved {
		t.Errorf("stock %s: available %d != onHand - reserved = %d", s.ProductID, s.Available, s.OnHand-s.Reserved)
	}
}

// quiesce waits until the store stops growing (no asynchronous handler is still appending), so a
// test can then assert that a rejected command wrote nothing. It returns the store's events.
func (c *client) quiesce(t testing.TB) []Event {
	t.Helper()
	prev := c.events(t, "")
	stable := 0
	eventually(t, settleTimeout, func() (bool, string) {
		time.Sleep(100 * time.Millisecond)
		cur := c.events(t, "")
		if len(cur) == len(prev) {
			stable++
		} else {
			stable = 0
		}
		prev = cur
		return stable >= 3, fmt.Sprintf("event store still growing (%d events)", len(cur))
	})
	return prev
}

// ---------------------------------------------------------------------------------------------
// Starting the application.

type appOption func(*app.Config)

func withFraudLimit(cents int64) appOption { return func(c *app.Config) { c.FraudLimitCents = cents } }

// withWaitTimeout sets the wait timeout and keeps the write timeout above it, as the config requires.
func withWaitTimeout(d time.Duration) appOption {
	return func(c *app.Config) {
		c.WaitTimeout = d
		c.WriteTimeout = max(c.WriteTimeout, c.ReadTimeout+2*d+10*time.Second)
	}
}

// startApp starts an in-process app on a random port with its own database and stops it when the
// test ends.
func startApp(t *testing.T, opts ...appOption) *client {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DBPath = filepath.Join(t.TempDir(), "orderflow.db")
	cfg.FraudLimitCents = 200000
	cfg.FraudWindow = time.Hour
	cfg.WaitTimeout = 10 * time.Second
	for _, o := range opts {
		o(&cfg)
	}
	if os.Getenv("ORDERFLOW_TEST_LOG") != "" {
		// For debugging a test: the app's log on stderr.
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("contexts", strings.Join(cfg.Contexts, ","))
	}
	ctx, cancel := context.WithCancel(context.Background())
	startCtx, startCancel := context.WithTimeout(ctx, 30*time.Second)
	defer startCancel()
	a, err := app.Start(startCtx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() {
		defer cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer scancel()
		if err := a.Shutdown(sctx); err != nil {
			t.Errorf("app.Shutdown: %v", err)
		}
	})
	c := newClient(a.URL())
	checkHealth(t, c)
	return c
}

func checkHealth(t testing.TB, c *client) {
	t.Helper()
	resp, err := c.http.Get(c.base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: HTTP %d, want 200", resp.StatusCode)
	}
}

// ---------------------------------------------------------------------------------------------
// Running the binary.

// binPath is the orderflow binary built once by TestMain; binErr explains why it is missing.
var (
	binPath  string
	binErr   error
	noGoTool bool
)

// needBinary skips when the go tool is absent and fails when the build failed.
func needBinary(t *testing.T) string {
	t.Helper()
	if noGoTool {
		t.Skip("go is not on PATH: cannot build the orderflow binary")
	}
	if binErr != nil {
		t.Fatalf("building the orderflow binary: %v", binErr)
	}
	return binPath
}

// syncBuffer collects a child's stderr for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type process struct {
	cmd     *exec.Cmd
	client  *client
	stderr  *syncBuffer
	done    chan struct{} // closed once the process has exited and Wait returned
	waitErr error
}

var listeningRE = regexp.MustCompile(`listening on (http://[^\s"]+)`)

// startBinary runs the binary on dbPath with a random port and waits for its "listening on" line.
func startBinary(t *testing.T, bin, dbPath string, extraArgs ...string) *process {
	t.Helper()
	return startBinaryEnv(t, bin, nil, dbPath, extraArgs...)
}

// startBinaryEnv is startBinary with variables added to the test's environment.
func startBinaryEnv(t *testing.T, bin string, env []string, dbPath string, extraArgs ...string) *process {
	t.Helper()
	args := append([]string{"--addr", "127.0.0.1:0", "--db", dbPath}, extraArgs...)
	p, url := spawnEnv(t, bin, env, args, listeningRE)
	p.client = newClient(url)
	checkHealth(t, p.client)
	return p
}

// spawn runs the binary with args and waits until a line of its stderr matches ready; it returns
// the process and the first submatch of that line. The process is killed when the test ends if
// it is still running.
func spawn(t *testing.T, bin string, args []string, ready *regexp.Regexp) (*process, string) {
	t.Helper()
	return spawnEnv(t, bin, nil, args, ready)
}

// spawnEnv is spawn with variables added to the test's environment (nil: the test's own).
func spawnEnv(t *testing.T, bin string, env []string, args []string, ready *regexp.Regexp) (*process, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	matches := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		found := false
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			if !found {
				if m := ready.FindStringSubmatch(line); m != nil {
					found = true
					matches <- m[len(m)-1]
				}
			}
		}
		io.Copy(p.stderr, stderr) // drain anything after a too-long line
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case m := <-matches:
		return p, m
	case <-p.done:
		t.Fatalf("%s %s exited before it was ready: %v\nstderr:\n%s", bin, strings.Join(args, " "), p.waitErr, p.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s %s printed no line matching %q within 60s\nstderr:\n%s", bin, strings.Join(args, " "), ready, p.stderr.String())
	}
	return nil, ""
}

// signal sends sig to the process (SIGSTOP and SIGCONT freeze and resume it).
func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %v: %v", sig, err)
	}
}

func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-p.done
}

// stop sends sig and waits up to timeout for the exit; it returns the exit code.
func (p *process) stop(t *testing.T, sig syscall.Signal, timeout time.Duration) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %v: %v", sig, err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("binary did not exit within %v of %v\nstderr:\n%s", timeout, sig, p.stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case p.waitErr == nil:
		return 0
	case errors.As(p.waitErr, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("waiting for the binary: %v", p.waitErr)
		return -1
	}
}

func sortedCopy(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}

// runResult is what a finished run of the binary left behind.
type runResult struct {
	code           int
	stdout, stderr string
}

// runBinary runs the binary to completion (a command such as replay, not the server) and returns
// its exit code and output; it fails the test if the binary does not finish within timeout.
func runBinary(t *testing.T, bin string, timeout time.Duration, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %v\nstderr:\n%s", bin, strings.Join(args, " "), timeout, stderr.String())
	}
	res := runResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("running %s %s: %v", bin, strings.Join(args, " "), err)
	}
	return res
}
