package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentOrdersForScarceStock: 50 one-unit orders race for 10 units. Exactly 10 win, the
// rest fail with INSUFFICIENT_STOCK, and 0 ≤ reserved ≤ onHand holds at every sample taken while
// they race. Cancelling winners gives their units back.
func TestConcurrentOrdersForScarceStock(t *testing.T) {
	t.Parallel()
	const orders, units = 50, 10
	c := startApp(t, withWaitTimeout(30*time.Second))
	seedScarceStock(t, c, orders, units)

	// Sample the stock while the orders race; every sample must satisfy the invariants.
	stopSampling := make(chan struct{})
	var samplerWG sync.WaitGroup
	var samples atomic.Int64
	var badSamples sync.Map
	samplerWG.Add(1)
	go func() {
		defer samplerWG.Done()
		for {
			select {
			case <-stopSampling:
				return
			default:
			}
			resp, err := c.exec(context.Background(), `query { stock(productId: "p-hot") { `+stockFields+` } }`, nil)
			if err != nil || len(resp.Errors) > 0 {
				badSamples.Store(fmt.Sprintf("sample error: %v %v", err, resp), true)
				continue
			}
			var out struct{ Stock *Stock }
			if err := json.Unmarshal(resp.Data, &out); err != nil || out.Stock == nil {
				badSamples.Store(fmt.Sprintf("sample data %s: %v", resp.Data, err), true)
				continue
			}
			s := *out.Stock
			samples.Add(1)
			if s.Reserved < 0 || s.Reserved > s.OnHand || s.OnHand != units || s.Available != s.OnHand-s.Reserved {
				badSamples.Store(fmt.Sprintf("%+v", s), true)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	stopSampler := sync.OnceFunc(func() { close(stopSampling); samplerWG.Wait() })
	t.Cleanup(stopSampler) // also when the race fails the test, before the app stops
	validatedIDs := raceForScarceStock(t, c, orders, units)
	stopSampler()
	validated := len(validatedIDs)
	badSamples.Range(func(k, _ any) bool {
		t.Errorf("stock sample broke an invariant (onHand %d): %v", units, k)
		return true
	})
	t.Logf("%d stock samples taken during the race", samples.Load())

	// Cancelling three winners releases exactly their units, which a new order can then take.
	if len(validatedIDs) < 3 {
		t.Fatalf("only %d validated orders, cannot test cancellation", len(validatedIDs))
	}
	for _, id := range validatedIDs[:3] {
		if got := c.cancelOrder(t, id, "test"); got.Status != "CANCELLED" {
			t.Errorf("cancelOrder(%s) = %s, want CANCELLED", id, got.Status)
		}
	}
	c.waitStock(t, "p-hot", units, validated-3)
	c.placeValidated(t, "o-after-cancel", "c-00", []Line{{"p-hot", 3}})
	c.waitStock(t, "p-hot", units, validated)
	if o := c.placeOrder(t, "o-one-too-many", "c-01", []Line{{"p-hot", 1}}, true); o.Status != "FAILED" {
		t.Errorf("an order beyond the stock after the re-sale: %s, want FAILED", o.Status)
	}
}

// seedScarceStock defines p-hot with units on hand and registers the customers c-00 … of the
// orders that will race for it.
func seedScarceStock(t *testing.T, c *client, orders, units int) {
	t.Helper()
	c.upsertProduct(t, "p-hot", "Hot Item", 700)
	c.addStock(t, "p-hot", units)
	for i := 0; i < orders; i++ {
		id := fmt.Sprintf("c-%02d", i)
		c.registerCustomer(t, id, "Buyer "+id, id+"@example.com", fmt.Sprintf("%d Queue Road", i))
	}
}

// raceForScarceStock places one-unit orders o-00 … of p-hot all at once, each waiting for its
// decision, and checks that exactly units of them are VALIDATED and the rest FAILED with
// INSUFFICIENT_STOCK, as answered and as order(id) reads them, and that the stock reserves the
// winners' units. It returns the ids of the VALIDATED orders.
func raceForScarceStock(t *testing.T, c *client, orders, units int) []string {
	t.Helper()
	results := make([]Order, orders)
	errs := make([]error, orders)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < orders; i++ {
		wg.Go(func() {
			<-start
			resp, err := c.exec(context.Background(), placeOrderMutation,
				placeOrderVars(fmt.Sprintf("o-%02d", i), fmt.Sprintf("c-%02d", i), []Line{{"p-hot", 1}}, true))
			if err == nil && len(resp.Errors) > 0 {
				err = fmt.Errorf("GraphQL errors: %s", resp.Body)
			}
			var out struct{ PlaceOrder Order }
			if err == nil {
				err = json.Unmarshal(resp.Data, &out)
			}
			results[i], errs[i] = out.PlaceOrder, err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("order o-%02d: %v", i, err)
		}
	}

	var validated []string
	failed := 0
	for _, o := range results {
		// waitForValidation returns the decided order; the read model must agree with it.
		stored := c.mustOrder(t, o.ID)
		switch {
		case o.Status == "VALIDATED" && stored.Status == "VALIDATED":
			validated = append(validated, o.ID)
		case o.Status == "FAILED" && stored.Status == "FAILED":
			failed++
			if !reflect.DeepEqual(o.FailureReasons, []string{"INSUFFICIENT_STOCK"}) || !reflect.DeepEqual(stored.FailureReasons, []string{"INSUFFICIENT_STOCK"}) {
				t.Errorf("order %s failed with %v (stored %v), want INSUFFICIENT_STOCK", o.ID, o.FailureReasons, stored.FailureReasons)
			}
		default:
			t.Errorf("order %s: waitForValidation returned %s, order(id) says %s; want both VALIDATED or both FAILED", o.ID, o.Status, stored.Status)
		}
	}
	if len(validated) != units || failed != orders-units {
		t.Errorf("%d VALIDATED and %d FAILED, want %d and %d", len(validated), failed, units, orders-units)
	}
	if n := len(c.allOrders(t, "", "VALIDATED", 100)); n != len(validated) {
		t.Errorf("orders(status: VALIDATED) lists %d orders, want %d", n, len(validated))
	}
	c.waitStock(t, "p-hot", units, len(validated))
	return validated
}

// TestConcurrentIdenticalPlaceOrder: many clients retrying the same placeOrder at once create one
// order and all get it back.
func TestConcurrentIdenticalPlaceOrder(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	c.registerCustomer(t, "c-retry", "Eve", "eve@example.com", "5 Fifth St")
	c.upsertProduct(t, "p", "Thing", 100)
	c.addStock(t, "p", 10)

	const clients = 12
	var wg sync.WaitGroup
	errs := make([]error, clients)
	got := make([]Order, clients)
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			resp, err := c.exec(context.Background(), placeOrderMutation, placeOrderVars("o-same", "c-retry", []Line{{"p", 2}}, false))
			if err != nil {
				errs[i] = err
				return
			}
			if len(resp.Errors) > 0 {
				errs[i] = fmt.Errorf("GraphQL errors: %s", resp.Body)
				return
			}
			var out struct{ PlaceOrder Order }
			errs[i] = json.Unmarshal(resp.Data, &out)
			got[i] = out.PlaceOrder
		}(i)
	}
	close(start)
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			t.Errorf("client %d: identical placeOrder rejected: %v", i, errs[i])
			continue
		}
		if got[i].ID != "o-same" || got[i].TotalCents != 200 {
			t.Errorf("client %d got %+v, want order o-same with total 200", i, got[i])
		}
	}
	o := c.settled(t, "o-same")
	if o.Status != "VALIDATED" {
		t.Errorf("o-same: %s %v, want VALIDATED", o.Status, o.FailureReasons)
	}
	placed := 0
	for _, e := range c.events(t, "order-o-same") {
		if e.Type == "OrderPlaced" {
			placed++
		}
	}
	if placed != 1 {
		t.Errorf("order-o-same has %d OrderPlaced events, want 1", placed)
	}
	if n := len(c.allOrders(t, "c-retry", "", 20)); n != 1 {
		t.Errorf("orders(customerId: c-retry) = %d orders, want 1", n)
	}
	c.waitStock(t, "p", 10, 2)
}
