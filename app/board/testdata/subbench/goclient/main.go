// Command goclient is bench.mjs with a Go client (gorilla/websocket, the
// graphql-transport-ws messages written by hand): N subscribers, one socket
// each, follow orderUpdated on K orders, every order is paid at once, and
// the time from each payment to each subscriber seeing PAID is reported.
// A Go client costs far less CPU per message than Node's, so on a machine
// shared with the server it shows what the server itself delivers; the
// figure of record is bench.mjs's, with the third-party client.
//
//	go run ./app/board/testdata/subbench/goclient --url http://127.0.0.1:8080 --subscribers 10000 --orders 100
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "the server's base URL")
	subscribers := flag.Int("subscribers", 10000, "WebSocket subscribers, one socket each")
	orders := flag.Int("orders", 100, "orders they follow (subscribers/orders each)")
	flag.Parse()
	if err := run(*url, *subscribers, *orders); err != nil {
		fmt.Fprintln(os.Stderr, "goclient:", err)
		os.Exit(1)
	}
}

func run(url string, subscribers, orders int) error {
	ids, err := placeOrders(url, orders)
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		paidAt  = map[string]time.Time{}
		latency []time.Duration
		ready   sync.WaitGroup
		paid    sync.WaitGroup
	)
	dialer := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 10 * time.Second}
	wsURL := "ws" + strings.TrimPrefix(url, "http") + "/graphql"
	for i := range subscribers {
		id := ids[i%orders]
		conn, _, err := dialer.Dial(wsURL, nil)
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		defer conn.Close()
		sub, _ := json.Marshal(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
			"query": `subscription($id: ID!) { orderUpdated(id: $id) { status } }`, "variables": map[string]any{"id": id}}})
		for _, m := range [][]byte{[]byte(`{"type":"connection_init"}`), sub} {
			if err := conn.WriteMessage(websocket.TextMessage, m); err != nil {
				return fmt.Errorf("subscriber %d: %w", i, err)
			}
		}
		ready.Add(1)
		paid.Add(1)
		go follow(conn, func() { ready.Done() }, func() {
			now := time.Now()
			mu.Lock()
			latency = append(latency, now.Sub(paidAt[id]))
			mu.Unlock()
			paid.Done()
		})
	}
	ready.Wait()
	time.Sleep(2 * time.Second)

	// Every order paid at once.
	var payReturned []time.Duration
	var payments sync.WaitGroup
	errs := make(chan error, orders)
	mu.Lock()
	for _, id := range ids {
		paidAt[id] = time.Now()
	}
	mu.Unlock()
	for _, id := range ids {
		payments.Go(func() {
			start := time.Now()
			if err := gql(url, `mutation($id: ID!) { payOrder(orderId: $id, amountCents: 100) { status } }`, map[string]any{"id": id}); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			payReturned = append(payReturned, time.Since(start))
			mu.Unlock()
		})
	}
	payments.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("payOrder: %w", err)
	}
	done := make(chan struct{})
	go func() { paid.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("only %d of %d subscribers saw PAID within 30 s", len(latency), subscribers)
	}
	slices.Sort(latency)
	slices.Sort(payReturned)
	fmt.Printf(`{"client":"go","subscribers":%d,"orders":%d,"p50ms":%d,"p99ms":%d,"maxms":%d,"payOrderP50ms":%d,"payOrderMaxms":%d}`+"\n",
		subscribers, orders, pct(latency, 0.5), pct(latency, 0.99), pct(latency, 1), pct(payReturned, 0.5), pct(payReturned, 1))
	return nil
}

// follow reads a subscriber's messages: validated is called at the first
// VALIDATED, paid at PAID; pings are answered.
func follow(conn *websocket.Conn, validated, paid func()) {
	seenValidated := false
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			Type    string
			Payload struct {
				Data struct{ OrderUpdated struct{ Status string } }
			}
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch {
		case m.Type == "ping":
			_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
		case m.Type != "next":
		case m.Payload.Data.OrderUpdated.Status == "VALIDATED" && !seenValidated:
			seenValidated = true
			validated()
		case m.Payload.Data.OrderUpdated.Status == "PAID":
			paid()
		}
	}
}

// placeOrders places n validated orders of a new customer and product.
func placeOrders(url string, n int) ([]string, error) {
	run := fmt.Sprint(time.Now().UnixNano())
	customer, product := "c-"+run, "p-"+run
	setup := []struct {
		query string
		vars  map[string]any
	}{
		{`mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"id": customer, "name": "Bench", "email": "bench@example.com", "address": "1 Load St"}}},
		{`mutation($i: ProductInput!) { upsertProduct(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"id": product, "name": "Bench", "priceCents": 100}}},
		{`mutation($p: ID!, $q: Int!) { addStock(productId: $p, quantity: $q) { onHand } }`, map[string]any{"p": product, "q": n}},
	}
	for _, s := range setup {
		if err := gql(url, s.query, s.vars); err != nil {
			return nil, err
		}
	}
	var ids []string
	for i := range n {
		id := fmt.Sprintf("o-%s-%d", run, i)
		err := gql(url, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i, waitForValidation: true) { id status } }`,
			map[string]any{"i": map[string]any{"id": id, "customerId": customer, "lines": []any{map[string]any{"productId": product, "quantity": 1}}}})
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// gql posts a GraphQL request and fails on errors in the answer.
func gql(url, query string, vars map[string]any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	resp, err := http.Post(url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var answer struct{ Errors []struct{ Message string } }
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if len(answer.Errors) > 0 {
		return errors.New(answer.Errors[0].Message)
	}
	return nil
}

// pct is the p-th quantile of sorted, in whole milliseconds.
func pct(sorted []time.Duration, p float64) int64 {
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))].Milliseconds()
}
