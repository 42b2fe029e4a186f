package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orderflow/commands"
	"orderflow/domain/order"
	"orderflow/events"
)

// gql posts a GraphQL request to the app and decodes the answer.
func gql(t *testing.T, a *App, query string, out any) []struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
} {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	resp, err := http.Post(a.URL()+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	if out != nil && len(res.Data) > 0 && string(res.Data) != "null" {
		if err := json.Unmarshal(res.Data, out); err != nil {
			t.Fatal(err)
		}
	}
	return res.Errors
}

// TestAPoisonEventBecomesADeadLetter writes an OrderPlaced that no reaction
// can decode (as a newer, incompatible producer might) into the log: every
// reaction that reads placements sets it aside as a dead letter and goes on
// (the orders after it are validated), the admin API lists the dead letters,
// a retry that still fails leaves them open with CONFLICT, /metrics counts
// them and /readyz stays green because nothing is stuck.
func TestAPoisonEventBecomesADeadLetter(t *testing.T) {
	ctx := context.Background()
	a := startTestApp(t, filepath.Join(t.TempDir(), "o.db"), nil, nil)
	defer a.Shutdown(ctx)
	h := a.handlers
	openShop(t, a, "p", 100, 10)
	poison := events.StreamAppend{StreamID: "order-poison", ExpectedVersion: 0, Events: []events.Event{{
		Type: "OrderPlaced", Data: json.RawMessage(`{"orderId":"poison","customerId":"c","lines":"not a list"}`),
	}}}
	if _, err := a.store.Append(ctx, poison); err != nil {
		t.Fatal(err)
	}
	placed, err := h.PlaceOrder(ctx, commands.PlaceOrder{ID: "after", CustomerID: "c",
		Lines: []order.RequestedLine{{ProductID: "p", Quantity: 1}}}, events.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	_ = placed
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out struct{ Order struct{ Status string } }
		gql(t, a, `{ order(id: "after") { status } }`, &out)
		if out.Order.Status == "VALIDATED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the order after the poison event is %q, want VALIDATED", out.Order.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}

	type letter struct {
		ID, Reaction, EventType, Key, Error, State string
		Attempts                                   int
	}
	var list struct{ DeadLetters []letter }
	if errs := gql(t, a, `{ deadLetters { id reaction eventType key error state attempts } }`, &list); len(errs) > 0 {
		t.Fatal(errs)
	}
	reactions := map[string]bool{}
	for _, l := range list.DeadLetters {
		reactions[l.Reaction] = true
		if l.EventType != "OrderPlaced" || l.State != "OPEN" || !strings.Contains(l.Error, "decode") {
			t.Errorf("dead letter %+v", l)
		}
	}
	for _, want := range []string{"inventory", "fraud", "customercheck", "order-process", "notifications"} {
		if !reactions[want] {
			t.Errorf("no dead letter of %s: %+v", want, list.DeadLetters)
		}
	}

	errs := gql(t, a, `mutation { retryDeadLetter(id: "`+list.DeadLetters[0].ID+`") { state } }`, nil)
	if len(errs) != 1 || errs[0].Extensions["code"] != "CONFLICT" {
		t.Fatalf("retry of a still undecodable event: %+v, want CONFLICT", errs)
	}
	if errs := gql(t, a, `mutation { retryDeadLetter(id: "999999") { state } }`, nil); len(errs) != 1 || errs[0].Extensions["code"] != "NOT_FOUND" {
		t.Fatalf("retry of an unknown dead letter: %+v, want NOT_FOUND", errs)
	}
	var again struct{ DeadLetters []letter }
	gql(t, a, `{ deadLetters { id state attempts } }`, &again)
	if len(again.DeadLetters) != len(list.DeadLetters) {
		t.Errorf("%d open dead letters after a failed retry, want %d", len(again.DeadLetters), len(list.DeadLetters))
	}

	metrics := get(t, a, "/metrics")
	if !strings.Contains(metrics, `orderflow_reaction_open_dead_letters{reaction="inventory"} 1`) ||
		!strings.Contains(metrics, `orderflow_reaction_dead_letters_total{reaction="fraud"} 1`) {
		t.Errorf("/metrics does not count the dead letters")
	}
	if got := get(t, a, "/readyz"); got != "ready\n" {
		t.Errorf("/readyz = %q, want ready: the reactions went on", got)
	}
}

func get(t *testing.T, a *App, path string) string {
	t.Helper()
	resp, err := http.Get(a.URL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
