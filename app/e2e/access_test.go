package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"orderflow/app"
	"orderflow/graph/access"
)

// testSecret is the --auth-secret of the servers below (32 bytes).
const testSecret = "e2e-secret-e2e-secret-e2e-secret"

func withAuthSecret(s string) appOption { return func(c *app.Config) { c.AuthSecret = s } }

// token signs a token for sub in role, valid for ttl from now (negative: expired).
func token(t testing.TB, role access.Role, sub string, ttl time.Duration) string {
	t.Helper()
	now := time.Now()
	if ttl < 0 {
		now, ttl = now.Add(2*ttl), -ttl
	}
	tok, err := access.Issue([]byte(testSecret), access.Caller{Subject: sub, Role: role}, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// bearer sends a token with every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// as is a client of the same server that sends tok in the Authorization header.
func (c *client) as(tok string) *client {
	return &client{base: c.base, http: &http.Client{Timeout: c.http.Timeout, Transport: bearer{token: tok, next: c.http.Transport}}}
}

// authShop starts a server with access control on and sets it up through
// its API: ada and bob registered by themselves, a product with stock, ada's
// order o-ada validated and paid (so confirmed), her order o-ada-2
// cancelled, bob's order o-bob validated.
type authShop struct {
	anonymous, ada, bob, admin *client
}

func startAuthShop(t *testing.T) authShop {
	t.Helper()
	c := startApp(t, withAuthSecret(testSecret))
	s := authShop{
		anonymous: c,
		ada:       c.as(token(t, access.RoleCustomer, "ada", time.Hour)),
		bob:       c.as(token(t, access.RoleCustomer, "bob", time.Hour)),
		admin:     c.as(token(t, access.RoleAdmin, "root", time.Hour)),
	}
	s.admin.upsertProduct(t, "p1", "Lamp", 1000)
	s.admin.addStock(t, "p1", 100)
	s.ada.registerCustomer(t, "ada", "Ada", "ada@example.com", "12 Analytical St")
	s.bob.registerCustomer(t, "bob", "Bob", "bob@example.com", "3 Babbage Rd")
	s.ada.placeValidated(t, "o-ada", "ada", []Line{{ProductID: "p1", Quantity: 1}})
	s.ada.payOrder(t, "o-ada", 1000)
	s.ada.placeValidated(t, "o-ada-2", "ada", []Line{{ProductID: "p1", Quantity: 1}})
	s.ada.cancelOrder(t, "o-ada-2", "")
	s.bob.placeValidated(t, "o-bob", "bob", []Line{{ProductID: "p1", Quantity: 1}})
	return s
}

// TestAccessEveryOperationByRole sends every root field of the schema as an
// anonymous caller, the owning customer (ada), another customer (bob) and
// an admin, over HTTP with real tokens, and checks each answer's code. The
// calls are chosen to change nothing (retries, a wrong amount, a refused
// state change), so the order of the rows does not matter. "" is success.
func TestAccessEveryOperationByRole(t *testing.T) {
	t.Parallel()
	s := startAuthShop(t)
	const (
		ok       = ""
		unauth   = "UNAUTHENTICATED"
		forbid   = "FORBIDDEN"
		conflict = "CONFLICT"
	)
	tests := []struct {
		name            string
		query           string
		vars            map[string]any
		ada, bob, admin string // anonymous is always UNAUTHENTICATED
	}{
		{"product", `query { product(id: "p1") { id stock { onHand } } }`, nil, ok, ok, ok},
		{"products", `query { products { edges { node { id stock { onHand } } } } }`, nil, ok, ok, ok},
		{"stock", `query { stock(productId: "p1") { onHand } }`, nil, ok, ok, ok},
		{"upsertProduct", `mutation { upsertProduct(input: {id: "p1", name: "Lamp", priceCents: 1000}) { id } }`, nil, forbid, forbid, ok},
		{"addStock", `mutation { addStock(productId: "p1", quantity: 1) { onHand } }`, nil, forbid, forbid, ok},
		{"registerCustomer (retry)", `mutation($in: RegisterCustomerInput!) { registerCustomer(input: $in) { id } }`,
			map[string]any{"in": customerInput("ada", "Ada", "ada@example.com", "12 Analytical St")}, ok, forbid, ok},
		{"customer", `query { customer(id: "ada") { id email } }`, nil, ok, forbid, ok},
		{"customers", `query { customers { edges { node { id email } } } }`, nil, forbid, forbid, ok},
		{"updateCustomerAddress", `mutation { updateCustomerAddress(customerId: "ada", address: "12 Analytical St") { id } }`, nil, ok, forbid, ok},
		{"placeOrder (retry)", placeOrderMutation, placeOrderVars("o-ada", "ada", []Line{{ProductID: "p1", Quantity: 1}}, false), ok, forbid, ok},
		{"payOrder (cancelled)", payOrderMutation, map[string]any{"id": "o-ada-2", "amt": 1000}, conflict, forbid, conflict},
		{"cancelOrder (cancelled)", cancelOrderMutation, map[string]any{"id": "o-ada-2", "reason": "again"}, conflict, forbid, conflict},
		{"order", `query { order(id: "o-ada") { id history { type } timeline { type } } }`, nil, ok, forbid, ok},
		{"orderAt", `query { orderAt(id: "o-ada", version: 1) { id status } }`, nil, ok, forbid, ok},
		{"orders of ada", `query { orders(customerId: "ada") { edges { node { id } } } }`, nil, ok, forbid, ok},
		{"orders of everyone", `query { orders { edges { node { id } } } }`, nil, ok, ok, ok}, // a customer's are filtered to it
		{"events of ada's order", `query { events(streamId: "order-o-ada") { type } }`, nil, ok, forbid, ok},
		{"events of ada's payment", `query { events(streamId: "payment-o-ada") { type } }`, nil, ok, forbid, ok},
		{"events of a customer stream", `query { events(streamId: "customer-ada") { type } }`, nil, forbid, forbid, ok},
		{"the whole log", `query { events { type } }`, nil, forbid, forbid, ok},
		{"notifications of ada", `query { notifications(customerId: "ada") { orderId } }`, nil, ok, forbid, ok},
		{"notifications of an order", `query { notifications(orderId: "o-ada") { orderId } }`, nil, ok, ok, ok}, // filtered to the caller
		{"shipOrder (not paid)", shipOrderMutation, map[string]any{"id": "o-bob"}, forbid, forbid, conflict},
		{"projections", `query { projections { name } }`, nil, forbid, forbid, ok},
		{"rebuildProjection", `mutation { rebuildProjection(name: "notifications") { name } }`, nil, forbid, forbid, ok},
		{"deadLetters", `query { deadLetters { id } }`, nil, forbid, forbid, ok},
		{"retryDeadLetter (none)", `mutation { retryDeadLetter(id: "1") { id } }`, nil, forbid, forbid, "NOT_FOUND"},
		{"forgetCustomer (unknown)", `mutation { forgetCustomer(customerId: "nobody") { id } }`, nil, forbid, forbid, "NOT_FOUND"},
		// Last: erasure is an admin's, even of one's own record (bob's here).
		{"forgetCustomer of bob", `mutation { forgetCustomer(customerId: "bob") { id forgotten } }`, nil, forbid, forbid, ok},
	}
	for _, tt := range tests {
		for _, caller := range []struct {
			name string
			c    *client
			want string
		}{
			{"anonymous", s.anonymous, unauth},
			{"ada (owner)", s.ada, tt.ada},
			{"bob (another customer)", s.bob, tt.bob},
			{"admin", s.admin, tt.admin},
		} {
			resp, err := caller.c.exec(context.Background(), tt.query, tt.vars)
			if err != nil {
				t.Fatalf("%s as %s: %v", tt.name, caller.name, err)
			}
			got := ""
			if len(resp.Errors) > 0 {
				got = resp.Errors[0].code()
			}
			if got != caller.want {
				t.Errorf("%s as %s: code %q, want %q\n%s", tt.name, caller.name, got, caller.want, resp.Body)
			}
		}
	}
	// What was refused changed nothing.
	if o := s.admin.mustOrder(t, "o-bob"); o.Status != "VALIDATED" {
		t.Errorf("o-bob is %s after refused calls, want VALIDATED", o.Status)
	}
	if c := s.admin.customer(t, "ada"); c == nil || c.Address != "12 Analytical St" {
		t.Errorf("ada after refused calls: %+v", c)
	}
}

// TestAccessCustomerWalkthrough follows a customer through its own data:
// what it reads is its own and only its own.
func TestAccessCustomerWalkthrough(t *testing.T) {
	t.Parallel()
	s := startAuthShop(t)

	// Lists are filtered to the caller, and naming another customer is refused.
	ids := func(os []Order) string {
		var ids []string
		for _, o := range os {
			ids = append(ids, o.ID)
		}
		return strings.Join(sortedCopy(ids), " ")
	}
	for _, who := range []struct {
		c    *client
		want string
	}{{s.ada, "o-ada o-ada-2"}, {s.bob, "o-bob"}, {s.admin, "o-ada o-ada-2 o-bob"}} {
		if got := ids(who.c.allOrders(t, "", "", 10)); got != who.want {
			t.Errorf("orders() = %s, want %s", got, who.want)
		}
	}

	// The confirmation of ada's order is hers; bob sees none of it.
	var ns struct {
		Notifications []struct{ OrderID, CustomerID, Email string }
	}
	eventually(t, settleTimeout, func() (bool, string) {
		s.ada.do(t, `query { notifications { orderId customerId email } }`, nil, &ns)
		return len(ns.Notifications) == 1, "no confirmation of o-ada yet"
	})
	if n := ns.Notifications[0]; n.OrderID != "o-ada" || n.Email != "ada@example.com" {
		t.Errorf("ada's notification = %+v", n)
	}
	s.bob.do(t, `query { notifications(orderId: "o-ada") { orderId } }`, nil, &ns)
	if len(ns.Notifications) != 0 {
		t.Errorf("bob sees %d notifications of ada's order", len(ns.Notifications))
	}

	// Her order's stream and story; another's and the whole log are refused.
	if types := eventTypes(s.ada.events(t, "order-o-ada")); len(types) == 0 || types[0] != "OrderPlaced" {
		t.Errorf("ada's order stream: %v", types)
	}
	s.ada.expectError(t, "NOT_FOUND", `query { events(streamId: "order-nobody-placed") { type } }`, nil)
	s.ada.expectError(t, "FORBIDDEN", `query { order(id: "o-bob") { id } }`, nil)
	if o := s.ada.order(t, "o-nobody-placed"); o != nil {
		t.Errorf("an order nobody placed: %+v, want null", o)
	}

	// She acts on her own orders only.
	s.ada.expectError(t, "FORBIDDEN", placeOrderMutation, placeOrderVars("", "bob", []Line{{ProductID: "p1", Quantity: 1}}, false))
	s.ada.expectError(t, "FORBIDDEN", cancelOrderMutation, map[string]any{"id": "o-bob"})
	s.ada.expectError(t, "NOT_FOUND", cancelOrderMutation, map[string]any{"id": "o-nobody-placed"})
	if o := s.ada.cancelOrder(t, "o-ada", "changed my mind"); o.Status != "CANCELLED" {
		t.Errorf("ada cancelling her order: %s, want CANCELLED", o.Status)
	}
	second := s.ada.placeValidated(t, "", "ada", []Line{{ProductID: "p1", Quantity: 2}})
	if o := s.ada.payOrder(t, second.ID, 2000); o.Status != "PAID" {
		t.Errorf("ada paying her order: %s, want PAID", o.Status)
	}
	s.bob.expectError(t, "FORBIDDEN", payOrderMutation, map[string]any{"id": second.ID, "amt": 2000})

	// Registering itself needs no id: it is the token's subject.
	carol := s.anonymous.as(token(t, access.RoleCustomer, "carol", time.Hour))
	if c := carol.registerCustomer(t, "", "Carol", "carol@example.com", "1 Loop Ln"); c.ID != "carol" {
		t.Errorf("carol registered as %q, want carol", c.ID)
	}
	carol.expectError(t, "FORBIDDEN", `mutation($in: RegisterCustomerInput!) { registerCustomer(input: $in) { id } }`,
		map[string]any{"in": customerInput("dave", "Dave", "dave@example.com", "2 Loop Ln")})
}

// TestAccessRefusesBadTokens: an expired, forged or malformed token is no
// token at all.
func TestAccessRefusesBadTokens(t *testing.T) {
	t.Parallel()
	c := startApp(t, withAuthSecret(testSecret))
	admin := c.as(token(t, access.RoleAdmin, "root", time.Hour))
	admin.upsertProduct(t, "p1", "Lamp", 1000)
	forged, err := access.Issue([]byte(strings.Repeat("z", 32)), access.Caller{Subject: "root", Role: access.RoleAdmin}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, token, says string
	}{
		{"expired", token(t, access.RoleAdmin, "root", -time.Minute), "expired"},
		{"another secret", forged, "signature"},
		{"garbage", "not.a.token", "malformed"},
	} {
		resp := c.as(tt.token).expectError(t, "UNAUTHENTICATED", `query { product(id: "p1") { id } }`, nil)
		if len(resp.Errors) > 0 && !strings.Contains(resp.Errors[0].Message, tt.says) {
			t.Errorf("%s: message %q does not say %q", tt.name, resp.Errors[0].Message, tt.says)
		}
	}
}

// TestAccessSubscription: over WebSocket the token travels in the
// connection_init payload. The owner follows her order; another customer,
// no token and an expired token are refused; the connection ends when the
// token expires.
func TestAccessSubscription(t *testing.T) {
	t.Parallel()
	s := startAuthShop(t)
	url := "ws" + strings.TrimPrefix(s.anonymous.base, "http") + "/graphql"

	// subscribe opens a connection with tok in connection_init and subscribes
	// to o-ada; it returns the first answer and the connection.
	subscribe := func(tok string) (wsMessage, *websocket.Conn) {
		t.Helper()
		dialer := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
		conn, _, err := dialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		init := wsMessage{Type: "connection_init"}
		if tok != "" {
			init.Payload, _ = json.Marshal(map[string]string{"Authorization": "Bearer " + tok})
		}
		if err := conn.WriteJSON(init); err != nil {
			t.Fatal(err)
		}
		if m := nextMessage(t, conn); m.Type != "connection_ack" {
			t.Fatalf("got %s %s, want connection_ack", m.Type, m.Payload)
		}
		query, _ := json.Marshal(map[string]any{"query": `subscription { orderUpdated(id: "o-ada") { id status } }`})
		if err := conn.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: query}); err != nil {
			t.Fatal(err)
		}
		return nextMessage(t, conn), conn
	}

	m, hourLong := subscribe(token(t, access.RoleCustomer, "ada", time.Hour))
	if m.Type != "next" || !strings.Contains(string(m.Payload), `"status":"PAID"`) {
		t.Errorf("ada following her order: %s %s, want next with PAID", m.Type, m.Payload)
	}
	for _, tt := range []struct{ name, token, code string }{
		{"another customer", token(t, access.RoleCustomer, "bob", time.Hour), "FORBIDDEN"},
		{"no token", "", "UNAUTHENTICATED"},
		{"expired token", token(t, access.RoleCustomer, "ada", -time.Minute), "UNAUTHENTICATED"},
	} {
		m, _ := subscribe(tt.token)
		if codes := wsErrorCodes(t, m); len(codes) == 0 || codes[0] != tt.code {
			t.Errorf("%s: %s %s, want an error %s", tt.name, m.Type, m.Payload, tt.code)
		}
	}

	// A token about to expire: the connection is closed when it does
	// (graphql-transport-ws has no message to say why), while the one of
	// an hour-long token stays open.
	m, conn := subscribe(token(t, access.RoleCustomer, "ada", 2*time.Second))
	if m.Type != "next" {
		t.Fatalf("short-lived token: %s %s, want next", m.Type, m.Payload)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var m wsMessage
		err := conn.ReadJSON(&m)
		var closed *websocket.CloseError
		if errors.As(err, &closed) && closed.Code == websocket.CloseNormalClosure {
			break
		}
		if err != nil {
			t.Fatalf("the connection was not closed at the token's expiry: %v", err)
		}
	}
	if err := hourLong.WriteJSON(wsMessage{Type: "ping"}); err != nil {
		t.Fatalf("the hour-long token's connection: %v", err)
	}
	hourLong.SetReadDeadline(time.Now().Add(10 * time.Second))
	var pong wsMessage
	// The server's keep-alive pings may come first.
	for pong.Type == "" || pong.Type == "ping" {
		if err := hourLong.ReadJSON(&pong); err != nil {
			t.Fatalf("the hour-long token's connection: %v, want a pong", err)
		}
	}
	if pong.Type != "pong" {
		t.Errorf("the hour-long token's connection: %+v, want a pong", pong)
	}
}

// wsErrorCodes are the extensions.code of an "error" message, or of the
// errors of a "next" one.
func wsErrorCodes(t *testing.T, m wsMessage) []string {
	t.Helper()
	var errs []gqlError
	switch m.Type {
	case "error":
		json.Unmarshal(m.Payload, &errs)
	case "next":
		var p struct{ Errors []gqlError }
		json.Unmarshal(m.Payload, &p)
		errs = p.Errors
	}
	var codes []string
	for _, e := range errs {
		codes = append(codes, e.code())
	}
	return codes
}

// TestTokenCommand: `orderflow token` prints a token the server started
// with the same secret (here from ORDERFLOW_AUTH_SECRET) accepts, and refuses
// what it cannot sign.
func TestTokenCommand(t *testing.T) {
	t.Parallel()
	bin := needBinary(t)
	res := runBinary(t, bin, 30*time.Second, "token", "--secret", testSecret, "--role", "admin", "--sub", "ops", "--ttl", "1h")
	if res.code != 0 {
		t.Fatalf("orderflow token: exit %d\n%s", res.code, res.stderr)
	}
	c := startApp(t, withAuthSecret(testSecret))
	c.as(strings.TrimSpace(res.stdout)).upsertProduct(t, "p1", "Lamp", 1000)

	for _, args := range [][]string{
		{"token", "--secret", "short", "--sub", "ada"},
		{"token", "--secret", testSecret, "--role", "owner", "--sub", "ada"},
		{"token", "--secret", testSecret},
	} {
		if res := runBinary(t, bin, 30*time.Second, args...); res.code == 0 || res.stdout != "" {
			t.Errorf("orderflow %v: exit %d, stdout %q; want a refusal", args, res.code, res.stdout)
		}
	}
}

// TestAccessBackupEndpoint: GET /admin/backup sends a copy of the whole database, so with
// access control on only an admin gets it: no token is refused (401), a customer's token too
// (403); an admin's gets an SQLite database with the log position it holds.
func TestAccessBackupEndpoint(t *testing.T) {
	t.Parallel()
	c := startApp(t, withAuthSecret(testSecret))
	admin := c.as(token(t, access.RoleAdmin, "root", time.Hour))
	admin.upsertProduct(t, "p1", "Lamp", 1000)
	for _, tt := range []struct {
		name   string
		client *client
		want   int
	}{
		{"no token", c, http.StatusUnauthorized},
		{"a customer", c.as(token(t, access.RoleCustomer, "ada", time.Hour)), http.StatusForbidden},
		{"an admin", admin, http.StatusOK},
	} {
		resp, err := tt.client.http.Get(c.base + "/admin/backup")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %s %q, want %d", tt.name, resp.Status, body, tt.want)
			continue
		}
		if tt.want == http.StatusOK {
			if !bytes.HasPrefix(body, []byte("SQLite format 3\x00")) || resp.Header.Get("X-Orderflow-Log-Position") == "" {
				t.Errorf("%s: %d bytes, log position %q: not an SQLite database with its position", tt.name, len(body), resp.Header.Get("X-Orderflow-Log-Position"))
			}
			// The sender's check of the copy and its checksum follow it, in trailers.
			sum := fmt.Sprintf("%08x", crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
			if check, crc, size := resp.Trailer.Get("X-Orderflow-Copy-Check"), resp.Trailer.Get("X-Orderflow-Copy-Crc32c"),
				resp.Header.Get("X-Orderflow-Copy-Bytes"); check != "ok" || crc != sum || size != strconv.Itoa(len(body)) {
				t.Errorf("%s: the copy's check %q, checksum %q, size %q; want ok, %s (the body's), %d", tt.name, check, crc, size, sum, len(body))
			}
		}
	}
}
