package e2e

import (
	"context"
	"encoding/json"
	"fmt"
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
	c.upsertProduct(t, "p-hot", "Hot Item", 700)
	c.addStock(t, "p-hot", units)
	for i := 0; i < orders; i++ {
		id := fmt.Sprintf("c-%02d", i)
		c.registerCustomer(t, id, "Buyer "+id, id+"@example.com", fmt.Sprintf("%d Queue Road", i))
	}

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

	type result struct {
		order Order
		err   error
	}
	results := make([]result, orders)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < orders; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			vars := placeOrderVars(fmt.Sprintf("o-%02d", i), fmt.Sprintf("c-%02d", i), []Line{{"p-hot", 1}}, true)
			resp, err := c.exec(context.Background(), placeOrderMutation, vars)
			if err != nil {
				results[i].err = err
				return
			}
			if len(resp.Errors) > 0 {
				results[i].err = fmt.Errorf("GraphQL errors: %s", resp.Body)
				return
			}
			var out struct{ PlaceOrder Order }
			if err := json.Unmarshal(resp.Data, &out); err != nil {
				results[i].err = err
				return
			}
			results[i].order = out.PlaceOrder
		}(i)
	}
	close(start)
	wg.Wait()
	close(stopSampling)
	samplerWG.Wait()

	for i, r := range results {
		if r.err != nil {
			t.Fatalf("order o-%02d: %v", i, r.err)
		}
	}
	validated, failed := 0, 0
	var validatedIDs []string
	for _, r := range results {
		// waitForValidation returns the decided order; the read model must agree with it.
		o := r.order
		stored := c.mustOrder(t, o.ID)
		switch {
		case o.Status == "VALIDATED" && stored.Status == "VALIDATED":
			validated++
			validatedIDs = append(validatedIDs, o.ID)
		case o.Status == "FAILED" && stored.Status == "FAILED":
			failed++
			if !o.hasReason("INSUFFICIENT_STOCK") || !stored.hasReason("INSUFFICIENT_STOCK") {
				t.Errorf("order %s failed with %v (stored %v), want INSUFFICIENT_STOCK", o.ID, o.FailureReasons, stored.FailureReasons)
			}
		default:
			t.Errorf("order %s: waitForValidation returned %s, order(id) says %s; want both VALIDATED or both FAILED", o.ID, o.Status, stored.Status)
		}
	}
	if validated != units || failed != orders-units {
		t.Errorf("%d VALIDATED and %d FAILED, want %d and %d", validated, failed, units, orders-units)
	}
	if n := len(c.allOrders(t, "", "VALIDATED", 100)); n != validated {
		t.Errorf("orders(status: VALIDATED) lists %d orders, want %d", n, validated)
	}
	c.waitStock(t, "p-hot", units, validated)
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
