package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"orderflow/app"
	"orderflow/graph"
)

// Tests of the request limits of the GraphQL edge (README, Configuration): each sends what a
// hostile or careless client would and checks the refusal, its code, and that nothing was written.

func withLimits(f func(*graph.Limits)) appOption { return func(c *app.Config) { f(&c.Limits) } }

// postRaw posts body to /graphql as JSON and returns the status and the response body.
func (c *client) postRaw(t *testing.T, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+"/graphql", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return resp.StatusCode, raw
}

func decodeErrors(t *testing.T, raw []byte) gqlResponse {
	t.Helper()
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer is not a GraphQL response: %v: %.300s", err, raw)
	}
	return out
}

// onlyReader hides a reader's type so the client cannot know the length and sends it chunked.
type onlyReader struct{ io.Reader }

func TestBodyLargerThanTheLimitIs413(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	// A valid request padded past the default limit of 1 MiB.
	big, _ := json.Marshal(map[string]any{"query": "{ __typename }", "variables": map[string]any{"pad": strings.Repeat("x", 2<<20)}})
	for _, tc := range []struct {
		name string
		body io.Reader
	}{
		{"with a Content-Length", bytes.NewReader(big)},
		{"chunked", onlyReader{bytes.NewReader(big)}},
	} {
		status, raw := c.postRaw(t, tc.body)
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: HTTP %d, want 413: %.300s", tc.name, status, raw)
			continue
		}
		resp := decodeErrors(t, raw)
		if len(resp.Errors) != 1 || resp.Errors[0].code() != graph.CodeLimitExceeded {
			t.Errorf("%s: errors %s, want one %s", tc.name, raw, graph.CodeLimitExceeded)
		}
	}
	// A request under the limit still answers.
	var out struct {
		Typename string `json:"__typename"`
	}
	c.do(t, `{ __typename }`, nil, &out)
}

func TestMalformedBodyIsNotEchoed(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	const marker = "SECRET-CARD-NUMBER-4111"
	for name, body := range map[string]string{
		"cut short":     `{"query": "mutation { registerCustomer(input: {name: \"` + marker + strings.Repeat("y", 100_000),
		"not an object": `["` + marker + `"]`,
		"wrong type":    `{"query": {"` + marker + `": 1}}`,
	} {
		status, raw := c.postRaw(t, strings.NewReader(body))
		if status != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400: %.300s", name, status, raw)
		}
		if bytes.Contains(raw, []byte(marker)) || len(raw) > 1000 {
			t.Errorf("%s: the answer (%d bytes) echoes the body: %.300s", name, len(raw), raw)
		}
		resp := decodeErrors(t, raw)
		if len(resp.Errors) != 1 || resp.Errors[0].code() != graph.CodeBadUserInput {
			t.Errorf("%s: errors %s, want one %s", name, raw, graph.CodeBadUserInput)
		}
	}
}

// registerMutations is one request registering n customers c-<prefix>-<i>, each under an alias.
func registerMutations(prefix string, n int) string {
	var b strings.Builder
	b.WriteString("mutation {")
	for i := range n {
		fmt.Fprintf(&b, ` r%d: registerCustomer(input: {id: "c-%s-%d", name: "N", email: "n@example.com", address: "A"}) { id }`, i, prefix, i)
	}
	b.WriteString(" }")
	return b.String()
}

// expectLimit runs query, requires a LIMIT_EXCEEDED refusal naming what, and no data.
func (c *client) expectLimit(t *testing.T, what, query string) {
	t.Helper()
	resp := c.expectError(t, graph.CodeLimitExceeded, query, nil)
	if len(resp.Errors) > 0 && !strings.Contains(resp.Errors[0].Message, what) {
		t.Errorf("refusal %q does not name %q", resp.Errors[0].Message, what)
	}
	if len(resp.Data) > 0 && string(resp.Data) != "null" {
		t.Errorf("a refused request answered data: %.300s", resp.Data)
	}
}

func (c *client) expectNoCustomer(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if got := c.customer(t, id); got != nil {
			t.Errorf("customer %s was registered by a refused request", id)
		}
	}
}

func TestTooManyMutationsAreRefusedAndNothingWritten(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	// 200 mutations under 200 aliases: within the alias cap, over the mutation cap (10).
	c.expectLimit(t, "mutations", registerMutations("m", 200))
	c.expectNoCustomer(t, "c-m-0", "c-m-199")
	if evs := c.events(t, ""); len(evs) != 0 {
		t.Errorf("a refused request wrote %d events", len(evs))
	}
	// The limit itself is allowed.
	c.do(t, registerMutations("ok", 10), nil, nil)
	if c.customer(t, "c-ok-9") == nil {
		t.Errorf("10 mutations in one request (the limit) did not all run")
	}
}

func TestTooManyAliasesAreRefusedAndNothingWritten(t *testing.T) {
	t.Parallel()
	c := startApp(t, withLimits(func(l *graph.Limits) { l.MaxMutations = 1000 }))
	c.expectLimit(t, "aliases", registerMutations("a", 201))
	c.expectNoCustomer(t, "c-a-0", "c-a-200")

	// The request of the report: 10,000 aliases of order { timeline history }, 870 KB.
	var b strings.Builder
	b.WriteString("{")
	for i := range 10000 {
		fmt.Fprintf(&b, ` o%d: order(id: "o-1") { timeline { position } history { position } }`, i)
	}
	b.WriteString(" }")
	c.expectLimit(t, "aliases", b.String())
}

func TestTooComplexIsRefusedAndNothingWritten(t *testing.T) {
	t.Parallel()
	c := startApp(t, withLimits(func(l *graph.Limits) { l.MaxComplexity = 300 }))
	// Two cheap mutations, then an order whose answer asks for its timeline and history: priced
	// as 30 + 10 events of 9 fields each, 367 in all, over 300.
	c.expectLimit(t, "complexity", `mutation {
  registerCustomer(input: {id: "c-cx", name: "N", email: "n@example.com", address: "A"}) { id }
  upsertProduct(input: {id: "p-cx", name: "P", priceCents: 100}) { id }
  placeOrder(input: {id: "o-cx", customerId: "c-cx", lines: [{productId: "p-cx", quantity: 1}]}) {
    timeline { `+eventFields+` } history { `+eventFields+` } } }`)
	c.expectNoCustomer(t, "c-cx")
	if p := c.product(t, "p-cx"); p != nil {
		t.Errorf("product p-cx was written by a refused request")
	}
}

func TestTooComplexQueryWithTheDefaults(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	// 100 orders with their timelines: 100 × 30 × 9 fields, over the default 10,000.
	c.expectLimit(t, "complexity", `{ orders(first: 100) { edges { node { id timeline { `+eventFields+` } } } } }`)
	// The largest page of events with every field stays within it.
	c.do(t, `{ events(first: 1000) { `+eventFields+` } }`, nil, nil)
}

func TestIntrospectionCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	on := startApp(t)
	on.do(t, `{ __schema { queryType { name } } }`, nil, nil)

	off := startApp(t, withLimits(func(l *graph.Limits) { l.Introspection = false }))
	// Refused whole, before anything runs, saying why.
	for _, q := range []string{
		`{ __schema { queryType { name } } }`,
		`query { __typename ... on Query { __type(name: "Order") { name } } }`,
	} {
		resp := off.expectError(t, graph.CodeBadUserInput, q, nil)
		if len(resp.Errors) > 0 && !strings.Contains(resp.Errors[0].Message, "introspection is turned off") {
			t.Errorf("%s: refusal %q does not say introspection is off", q, resp.Errors[0].Message)
		}
		if len(resp.Data) > 0 && string(resp.Data) != "null" {
			t.Errorf("%s: refused request answered data %s", q, resp.Data)
		}
	}
	var out struct {
		Typename string `json:"__typename"`
	}
	off.do(t, `{ __typename }`, nil, &out)
	if out.Typename != "Query" {
		t.Errorf("__typename = %q, want Query", out.Typename)
	}
}

// TestSlowBodyIsCutOff sends headers and the start of a body, then nothing: the read timeout must
// end the request instead of holding the connection for ever.
func TestSlowBodyIsCutOff(t *testing.T) {
	t.Parallel()
	c := startApp(t, func(cfg *app.Config) { cfg.ReadTimeout = time.Second })
	u, _ := url.Parse(c.base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"query\": \"", u.Host)
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("the server still held the slow request after %v (read timeout 1s)", time.Since(start))
	case err == nil:
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("slow body answered HTTP %d, want a 4xx", resp.StatusCode)
		}
	}
	// Otherwise the server closed the connection: cut off too.
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the slow request was cut off only after %v (read timeout 1s)", d)
	}
}

func wsDial(t *testing.T, c *client) *websocket.Conn {
	t.Helper()
	dialer := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	conn, _, err := dialer.Dial("ws"+strings.TrimPrefix(c.base, "http")+"/graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestWebsocketWithoutInitIsClosed(t *testing.T) {
	t.Parallel()
	c := startApp(t, withLimits(func(l *graph.Limits) { l.WebsocketInitTimeout = 300 * time.Millisecond }))
	conn := wsDial(t, c)
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := conn.ReadMessage()
	var ne net.Error
	switch {
	case err == nil:
		t.Fatalf("got a message before connection_init: %s", msg)
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("a WebSocket without connection_init was still open after %v (init timeout 300ms)", time.Since(start))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closed only after %v (init timeout 300ms)", d)
	}
}

// TestSubscriptionOutlivesServerTimeouts keeps a subscription open past the read and write
// timeouts of the server: they bound requests, not subscriptions.
func TestSubscriptionOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	c := startApp(t, func(cfg *app.Config) {
		cfg.ReadTimeout, cfg.WaitTimeout, cfg.WriteTimeout = 500*time.Millisecond, time.Second, 3*time.Second
	})
	c.registerCustomer(t, "c-long", "Long Lived", "long@example.com", "1 Socket Rd")
	c.upsertProduct(t, "p-long", "Cable", 700)
	c.addStock(t, "p-long", 10)
	c.placeOrder(t, "o-long", "c-long", []Line{{ProductID: "p-long", Quantity: 1}}, false)

	conn := wsDial(t, c)
	next := func() wsMessage { t.Helper(); return nextMessage(t, conn) }
	if err := conn.WriteJSON(wsMessage{Type: "connection_init"}); err != nil {
		t.Fatal(err)
	}
	if m := next(); m.Type != "connection_ack" {
		t.Fatalf("got %s, want connection_ack", m.Type)
	}
	q, _ := json.Marshal(map[string]any{"query": `subscription { orderUpdated(id: "o-long") { status } }`})
	if err := conn.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: q}); err != nil {
		t.Fatal(err)
	}
	if m := next(); m.Type != "next" {
		t.Fatalf("got %s %s, want the order as it stands", m.Type, m.Payload)
	}
	time.Sleep(4 * time.Second) // past both timeouts
	c.cancelOrder(t, "o-long", "changed my mind")
	for {
		m := next()
		if m.Type != "next" {
			t.Fatalf("got %s %s after the timeouts, want the cancelled order", m.Type, m.Payload)
		}
		if strings.Contains(string(m.Payload), "CANCELLED") {
			return
		}
	}
}
