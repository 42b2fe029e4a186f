package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsMessage is a graphql-transport-ws protocol message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// TestOrderUpdatedSubscription follows one order over WebSocket: the
// subscriber sees it PENDING or VALIDATED first, then PAID and SHIPPED, with
// versions rising, and nothing of another order.
func TestOrderUpdatedSubscription(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	c.registerCustomer(t, "c-sub", "Sub Scriber", "sub@example.com", "1 Socket Rd")
	c.upsertProduct(t, "p-sub", "Cable", 700)
	c.addStock(t, "p-sub", 10)
	placed := c.placeOrder(t, "o-sub", "c-sub", []Line{{ProductID: "p-sub", Quantity: 2}}, true)

	url := "ws" + strings.TrimPrefix(c.base, "http") + "/graphql"
	dialer := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	conn, _, err := dialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(m wsMessage) {
		if err := conn.WriteJSON(m); err != nil {
			t.Fatal(err)
		}
	}
	next := func() wsMessage { return nextMessage(t, conn) }
	send(wsMessage{Type: "connection_init"})
	if m := next(); m.Type != "connection_ack" {
		t.Fatalf("got %s, want connection_ack", m.Type)
	}
	query, _ := json.Marshal(map[string]any{
		"query": `subscription { orderUpdated(id: "o-sub") { id status version } }`,
	})
	send(wsMessage{ID: "1", Type: "subscribe", Payload: query})

	type update struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Version int    `json:"version"`
	}
	var seen []update
	read := func() update {
		m := next()
		if m.Type != "next" || m.ID != "1" {
			t.Fatalf("got %s %s: %s", m.Type, m.ID, m.Payload)
		}
		var p struct {
			Data   struct{ OrderUpdated update } `json:"data"`
			Errors []any                         `json:"errors"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
			t.Fatalf("payload %s: %v", m.Payload, err)
		}
		u := p.Data.OrderUpdated
		if u.ID != "o-sub" {
			t.Fatalf("update of another order: %+v", u)
		}
		if len(seen) > 0 && u.Version <= seen[len(seen)-1].Version && u.Status == seen[len(seen)-1].Status {
			t.Fatalf("update %+v repeats %+v", u, seen[len(seen)-1])
		}
		seen = append(seen, u)
		return u
	}
	if first := read(); first.Status != placed.Status || first.Version != placed.Version {
		t.Fatalf("first update %+v, want the order as it stands (%s v%d)", first, placed.Status, placed.Version)
	}
	// Another order's changes are not pushed to this subscription.
	c.placeOrder(t, "o-other", "c-sub", []Line{{ProductID: "p-sub", Quantity: 1}}, true)
	c.payOrder(t, "o-sub", 1400)
	c.shipOrder(t, "o-sub")
	for seen[len(seen)-1].Status != "SHIPPED" {
		read()
	}
	order := map[string]int{"PENDING": 0, "VALIDATED": 1, "PAID": 2, "SHIPPED": 3}
	for i := 1; i < len(seen); i++ {
		if order[seen[i].Status] < order[seen[i-1].Status] || seen[i].Version < seen[i-1].Version {
			t.Fatalf("updates out of order: %+v", seen)
		}
	}
	if last := seen[len(seen)-1]; last.Version != 4 {
		t.Fatalf("last update %+v, want SHIPPED at version 4", last)
	}
	send(wsMessage{ID: "1", Type: "complete"})
}

// nextMessage is the next graphql-transport-ws message that is not a ping or pong.
func nextMessage(t *testing.T, conn *websocket.Conn) wsMessage {
	t.Helper()
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m wsMessage
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v", err)
		}
		if m.Type != "ping" && m.Type != "pong" {
			return m
		}
	}
}
