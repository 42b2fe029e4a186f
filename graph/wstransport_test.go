package graph

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"

	"orderflow/graph/access"
	"orderflow/graph/generated"
)

// The transport is driven through the real handler (NewHandler) and the
// real order feed, over orders kept in memory (fakeOrders); with access
// control off or with admin tokens, orderUpdated reads nothing else.

var wsTestLimits = Limits{
	MaxBodyBytes:         1 << 20,
	MaxComplexity:        1000,
	MaxAliases:           2,
	MaxMutations:         1,
	QueryCacheBytes:      1 << 20,
	WebsocketInitTimeout: 10 * time.Second,
	Introspection:        true,
}

const wsTestSecret = "0123456789abcdef0123456789abcdef"

type wsTestServer struct {
	url    string
	feed   *OrderFeed
	orders *fakeOrders
	// stopFeed ends the feed's Run and waits for it.
	stopFeed func()
}

func startWSServer(t *testing.T, limits Limits, verifier *access.Verifier) *wsTestServer {
	t.Helper()
	feed, orders, stop := startFeed(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(NewHandler(&Resolver{Orders: feed}, log, limits, verifier))
	t.Cleanup(srv.Close)
	return &wsTestServer{url: "ws" + strings.TrimPrefix(srv.URL, "http"), feed: feed, orders: orders, stopFeed: stop}
}

// change sets order id's state and tells the feed.
func (s *wsTestServer) change(id, status string, version int64) {
	s.orders.set(id, status, version)
	s.feed.Changed([]string{id})
}

// feedSubscribers is how many subscriptions the feed holds for order id.
func (s *wsTestServer) feedSubscribers(id string) int {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	if t := s.feed.topics[id]; t != nil {
		return len(t.subs)
	}
	return 0
}

func wsDial(t *testing.T, url string, subprotocols ...string) *websocket.Conn {
	t.Helper()
	if subprotocols == nil {
		subprotocols = []string{wsSubprotocol}
	}
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func wsSend(t *testing.T, conn *websocket.Conn, raw string) {
	t.Helper()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(raw)); err != nil {
		t.Fatal(err)
	}
}

func subscribeMsg(t *testing.T, id, query string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wsRead is the next message other than a ping; the deadline only keeps a
// broken test from hanging.
func wsRead(t *testing.T, conn *websocket.Conn) wsMessage {
	t.Helper()
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("message %s: %v", data, err)
		}
		if m.Type != "ping" {
			return m
		}
	}
}

// wsInit opens a connection with connection_init and its acknowledgement.
func wsInit(t *testing.T, url, payload string) *websocket.Conn {
	t.Helper()
	conn := wsDial(t, url)
	init := `{"type":"connection_init"}`
	if payload != "" {
		init = `{"type":"connection_init","payload":` + payload + `}`
	}
	wsSend(t, conn, init)
	if m := wsRead(t, conn); m.Type != "connection_ack" {
		t.Fatalf("got %s %s, want connection_ack", m.Type, m.Payload)
	}
	return conn
}

// wsCloseCode reads until the server closes the connection and returns
// the close code.
func wsCloseCode(t *testing.T, conn *websocket.Conn) int {
	t.Helper()
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := conn.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			t.Fatalf("the connection ended without a close frame: %v", err)
		}
	}
}

type nextPayload struct {
	Data struct {
		OrderUpdated struct {
			ID      string `json:"id"`
			Status  string `json:"status"`
			Version int64  `json:"version"`
		} `json:"orderUpdated"`
	} `json:"data"`
	Errors []struct {
		Message    string `json:"message"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
}

// wsNext reads a message that must be next for id and decodes it.
func wsNext(t *testing.T, conn *websocket.Conn, id string) nextPayload {
	t.Helper()
	m := wsRead(t, conn)
	if m.Type != "next" || m.ID != id {
		t.Fatalf("got %s %q %s, want next for %q", m.Type, m.ID, m.Payload, id)
	}
	var p nextPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func wsStatus(t *testing.T, conn *websocket.Conn, id string) string {
	t.Helper()
	p := wsNext(t, conn, id)
	if len(p.Errors) > 0 {
		t.Fatalf("errors: %+v", p.Errors)
	}
	return p.Data.OrderUpdated.Status
}

// wsStatuses reads one next per id, in any order, each with status.
func wsStatuses(t *testing.T, conn *websocket.Conn, status string, ids ...string) {
	t.Helper()
	wsEach(t, conn, "next", ids, func(m wsMessage) {
		var p nextPayload
		if err := json.Unmarshal(m.Payload, &p); err != nil || p.Data.OrderUpdated.Status != status {
			t.Fatalf("%s: %s, want %s", m.ID, m.Payload, status)
		}
	})
}

// wsCompletes reads one complete per id, in any order.
func wsCompletes(t *testing.T, conn *websocket.Conn, ids ...string) {
	t.Helper()
	wsEach(t, conn, "complete", ids, func(wsMessage) {})
}

// wsEach reads len(ids) messages, which must be of type typ, one for each
// id, and checks each.
func wsEach(t *testing.T, conn *websocket.Conn, typ string, ids []string, check func(wsMessage)) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for range ids {
		m := wsRead(t, conn)
		if m.Type != typ || !want[m.ID] {
			t.Fatalf("got %s %q %s, want %s for one of %v", m.Type, m.ID, m.Payload, typ, want)
		}
		delete(want, m.ID)
		check(m)
	}
}

const orderQuery = `subscription { orderUpdated(id: "o1") { id status version } }`

// Violations of the protocol close the connection with the code
// graphql-transport-ws gives them.
func TestWSProtocolViolationsClose(t *testing.T) {
	s := startWSServer(t, wsTestLimits, nil)
	s.orders.set("o1", "VALIDATED", 2)
	init := `{"type":"connection_init"}`
	sub := subscribeMsg(t, "1", orderQuery)
	for _, tc := range []struct {
		name string
		msgs []string
		code int
	}{
		{"not JSON", []string{"hello"}, closeBadRequest},
		{"unknown type", []string{`{"type":"hello"}`}, closeBadRequest},
		{"no type", []string{`{"id":"1"}`}, closeBadRequest},
		{"a server's message", []string{init, `{"type":"next","id":"1","payload":{}}`}, closeBadRequest},
		{"init payload not an object", []string{`{"type":"connection_init","payload":[1]}`}, closeBadRequest},
		{"subscribe before connection_init", []string{sub}, closeUnauthorized},
		{"second connection_init", []string{init, init}, closeTooManyInits},
		{"subscribe without an id", []string{init, `{"type":"subscribe","payload":{"query":"{ __typename }"}}`}, closeBadRequest},
		{"subscribe without a payload", []string{init, `{"type":"subscribe","id":"1"}`}, closeBadRequest},
		{"subscribe with a payload not a request", []string{init, `{"type":"subscribe","id":"1","payload":{"query":1}}`}, closeBadRequest},
		{"two subscriptions with one id", []string{init, sub, sub}, closeDuplicateID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := wsDial(t, s.url)
			for _, m := range tc.msgs {
				wsSend(t, conn, m)
			}
			if code := wsCloseCode(t, conn); code != tc.code {
				t.Errorf("closed with %d, want %d", code, tc.code)
			}
		})
	}
}

// A connection without connection_init is closed with 4408 after the
// init timeout; a ping before it is answered.
func TestWSInitTimeout(t *testing.T) {
	limits := wsTestLimits
	limits.WebsocketInitTimeout = 100 * time.Millisecond
	s := startWSServer(t, limits, nil)
	conn := wsDial(t, s.url)
	wsSend(t, conn, `{"type":"ping"}`)
	if m := wsRead(t, conn); m.Type != "pong" {
		t.Fatalf("got %s, want pong", m.Type)
	}
	if code := wsCloseCode(t, conn); code != closeInitTimeout {
		t.Errorf("closed with %d, want %d", code, closeInitTimeout)
	}
}

// An init function that refuses the connection closes it with 4403.
func TestWSInitRefused(t *testing.T) {
	refuse := func(ctx context.Context, _ transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		return ctx, nil, errors.New("not you")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}}))
	srv.AddTransport(newWSTransport(refuse, time.Second, 0, 1<<20, ErrorPresenter(log)))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	conn := wsDial(t, "ws"+strings.TrimPrefix(ts.URL, "http"))
	wsSend(t, conn, `{"type":"connection_init"}`)
	if code := wsCloseCode(t, conn); code != closeForbidden {
		t.Errorf("closed with %d, want %d", code, closeForbidden)
	}
}

// Subscribers of the same operation share one subscription to the feed and
// see every change; one that completes gets nothing more and may reuse its
// id; when the feed ends, the server completes every subscription.
func TestWSSubscriptionLifecycle(t *testing.T) {
	s := startWSServer(t, wsTestLimits, nil)
	s.orders.set("o1", "VALIDATED", 2)

	a := wsInit(t, s.url, "")
	wsSend(t, a, subscribeMsg(t, "1", orderQuery))
	if st := wsStatus(t, a, "1"); st != "VALIDATED" {
		t.Fatalf("first state %s, want VALIDATED", st)
	}
	b := wsInit(t, s.url, "")
	wsSend(t, b, subscribeMsg(t, "b", orderQuery))
	if st := wsStatus(t, b, "b"); st != "VALIDATED" {
		t.Fatalf("a later subscriber's first state %s, want VALIDATED", st)
	}
	if n := s.feedSubscribers("o1"); n != 1 {
		t.Fatalf("the feed holds %d subscriptions for two subscribers of one operation, want 1", n)
	}
	// Another selection is another execution.
	wsSend(t, b, subscribeMsg(t, "c", `subscription { orderUpdated(id: "o1") { status } }`))
	if st := wsStatus(t, b, "c"); st != "VALIDATED" {
		t.Fatalf("first state %s, want VALIDATED", st)
	}
	if n := s.feedSubscribers("o1"); n != 2 {
		t.Fatalf("the feed holds %d subscriptions for two operations, want 2", n)
	}

	s.change("o1", "PAID", 3)
	if st := wsStatus(t, a, "1"); st != "PAID" {
		t.Fatalf("a: %s, want PAID", st)
	}
	wsStatuses(t, b, "PAID", "b", "c")

	// Complete from the client, then the same id again.
	wsSend(t, a, `{"type":"complete","id":"1"}`)
	wsSend(t, a, subscribeMsg(t, "1", orderQuery))
	if st := wsStatus(t, a, "1"); st != "PAID" {
		t.Fatalf("resubscribed: %s, want the order as it stands (PAID)", st)
	}
	s.change("o1", "SHIPPED", 4)
	if st := wsStatus(t, a, "1"); st != "SHIPPED" {
		t.Fatalf("a: %s, want SHIPPED", st)
	}
	// Messages come in order: whatever the change sent comes before the
	// pong, so the completed operation would show here.
	wsSend(t, a, `{"type":"ping"}`)
	if m := wsRead(t, a); m.Type != "pong" {
		t.Fatalf("got %s %q %s after the completed operation's end, want only pong", m.Type, m.ID, m.Payload)
	}

	// Both of b's operations see the change before the feed ends: they are
	// different executions, so their messages are not ordered between them.
	wsStatuses(t, b, "SHIPPED", "b", "c")

	s.stopFeed()
	if m := wsRead(t, a); m.Type != "complete" || m.ID != "1" {
		t.Fatalf("a got %s %q when the feed ended, want complete", m.Type, m.ID)
	}
	wsCompletes(t, b, "b", "c")
	// After the end, a new subscription completes at once.
	wsSend(t, a, subscribeMsg(t, "2", orderQuery))
	if m := wsRead(t, a); m.Type != "complete" || m.ID != "2" {
		t.Fatalf("got %s %q after the feed ended, want complete", m.Type, m.ID)
	}
}

// Operations are checked like those over HTTP: refusals before execution
// are an error message with the error's code, after which the id is free;
// a query is answered with next and complete.
func TestWSOperationsChecked(t *testing.T) {
	s := startWSServer(t, wsTestLimits, nil)
	conn := wsInit(t, s.url, "")
	for _, tc := range []struct{ query, code string }{
		{"subscription {", "GRAPHQL_PARSE_FAILED"},
		{"subscription { noSuchField }", "GRAPHQL_VALIDATION_FAILED"},
		{`subscription { a: orderUpdated(id: "o1") { b: id c: status } }`, CodeLimitExceeded},
	} {
		wsSend(t, conn, subscribeMsg(t, "1", tc.query))
		m := wsRead(t, conn)
		var errs []struct {
			Extensions struct{ Code string } `json:"extensions"`
		}
		if err := json.Unmarshal(m.Payload, &errs); err != nil || m.Type != "error" || m.ID != "1" || len(errs) == 0 || errs[0].Extensions.Code != tc.code {
			t.Errorf("%s: got %s %q %s, want an error %s", tc.query, m.Type, m.ID, m.Payload, tc.code)
		}
	}
	wsSend(t, conn, subscribeMsg(t, "1", "{ __typename }"))
	if m := wsRead(t, conn); m.Type != "next" || m.ID != "1" || string(m.Payload) != `{"data":{"__typename":"Query"}}` {
		t.Fatalf("query: got %s %q %s, want next with the answer", m.Type, m.ID, m.Payload)
	}
	if m := wsRead(t, conn); m.Type != "complete" || m.ID != "1" {
		t.Fatalf("query: got %s %q, want complete", m.Type, m.ID)
	}
}

// With access control on, a subscription is the caller's: without a token
// it is refused as UNAUTHENTICATED (and completed); callers share an
// execution only with themselves.
func TestWSSubscriptionCallers(t *testing.T) {
	verifier, err := access.NewVerifier([]byte(wsTestSecret), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	s := startWSServer(t, wsTestLimits, verifier)
	s.orders.set("o1", "VALIDATED", 2)

	anonymous := wsInit(t, s.url, "")
	wsSend(t, anonymous, subscribeMsg(t, "1", orderQuery))
	if p := wsNext(t, anonymous, "1"); len(p.Errors) == 0 || p.Errors[0].Extensions.Code != CodeUnauthenticated {
		t.Fatalf("without a token: %+v, want UNAUTHENTICATED", p)
	}
	if m := wsRead(t, anonymous); m.Type != "complete" {
		t.Fatalf("got %s, want complete", m.Type)
	}

	bearer := func(sub string) string {
		tok, err := access.Issue([]byte(wsTestSecret), access.Caller{Subject: sub, Role: access.RoleAdmin}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return `{"Authorization":"Bearer ` + tok + `"}`
	}
	for i, sub := range []string{"ops", "ops", "audit"} {
		conn := wsInit(t, s.url, bearer(sub))
		wsSend(t, conn, subscribeMsg(t, "1", orderQuery))
		if st := wsStatus(t, conn, "1"); st != "VALIDATED" {
			t.Fatalf("%s: %s, want VALIDATED", sub, st)
		}
		if want := []int{1, 1, 2}[i]; s.feedSubscribers("o1") != want {
			t.Fatalf("after subscriber %d (%s): the feed holds %d subscriptions, want %d", i+1, sub, s.feedSubscribers("o1"), want)
		}
	}
}

// Clients of the older graphql-ws subprotocol are still served (by
// gqlgen's transport).
func TestWSLegacySubprotocol(t *testing.T) {
	s := startWSServer(t, wsTestLimits, nil)
	conn := wsDial(t, s.url, "graphql-ws")
	if p := conn.Subprotocol(); p != "graphql-ws" {
		t.Fatalf("negotiated %q, want graphql-ws", p)
	}
	wsSend(t, conn, `{"type":"connection_init"}`)
	if m := wsRead(t, conn); m.Type != "connection_ack" {
		t.Fatalf("got %s, want connection_ack", m.Type)
	}
}
