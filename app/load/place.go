package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// placeOrderMutation places without waitForValidation: the answer comes
// once the order is recorded and readable, still PENDING.
const placeOrderMutation = `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { id } }`

// errorPause is how long a client waits after a failed request, so a
// target that refuses connections is not hammered in a tight loop.
const errorPause = 50 * time.Millisecond

// orderInput is the n-th order of the run: customers take turns, and its
// lines are the next products in turn, one unit each, never one twice.
// Structs, not maps, so that encoding a request costs the load generator,
// which shares the machine with the server, as little as it can.
func orderInput(cfg config, r run, n int) placeOrderInput {
	lines := make([]orderLine, cfg.lines)
	for i := range lines {
		lines[i] = orderLine{ProductID: r.product((n*cfg.lines + i) % cfg.products), Quantity: 1}
	}
	return placeOrderInput{ID: r.order(n), CustomerID: r.customer(n % cfg.customers), Lines: lines}
}

// placeOrderInput and orderLine are the schema's PlaceOrderInput and
// OrderLineInput.
type (
	placeOrderInput struct {
		ID         string      `json:"id"`
		CustomerID string      `json:"customerId"`
		Lines      []orderLine `json:"lines"`
	}
	orderLine struct {
		ProductID string `json:"productId"`
		Quantity  int    `json:"quantity"`
	}
)

// placeOrders runs cfg.clients clients, each placing one order after the
// other until stopAt. A request in flight at stopAt is let finish, so every
// order the server accepted is known to the drain; only ctx (the caller
// giving up) cuts requests short.
func placeOrders(ctx context.Context, c *client, cfg config, r run, stopAt time.Time, rec *recorder) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range cfg.clients {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(stopAt) {
				n := int(next.Add(1) - 1)
				vars := struct {
					In placeOrderInput `json:"in"`
				}{orderInput(cfg, r, n)}
				start := time.Now()
				err := c.do(ctx, placeOrderMutation, vars, nil)
				rec.record(n, time.Since(start), err)
				if err != nil {
					sleep(ctx, min(errorPause, time.Until(stopAt)))
				}
			}
		})
	}
	wg.Wait()
}

// recorder collects what the clients saw. Its lock is held for an append,
// nothing next to the cost of a request.
type recorder struct {
	mu        sync.Mutex
	placed    []int           // numbers of the orders the server acknowledged
	latencies []time.Duration // of every acknowledged placeOrder
	window    []time.Duration // latencies since the last progress line
	errors    int
	errKinds  map[string]int
	lastErr   error
}

func newRecorder() *recorder { return &recorder{errKinds: map[string]int{}} }

func (rec *recorder) record(n int, latency time.Duration, err error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if err != nil {
		rec.errors++
		kind := "other"
		if re, ok := errors.AsType[*requestError](err); ok {
			kind = re.kind
		}
		rec.errKinds[kind]++
		rec.lastErr = err
		return
	}
	rec.placed = append(rec.placed, n)
	rec.latencies = append(rec.latencies, latency)
	rec.window = append(rec.window, latency)
}

// tick returns the latencies since the previous tick and starts a new
// window, with the totals so far.
func (rec *recorder) tick() (window []time.Duration, placed, errs int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	window, rec.window = rec.window, nil
	return window, len(rec.placed), rec.errors
}

// startProgress prints one line a second to w until the returned stop is
// called; stop returns once the printer has, so w is then free again.
func startProgress(w io.Writer, start time.Time, rec *recorder) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-ticker.C:
				window, placed, errs := rec.tick()
				slices.Sort(window)
				fmt.Fprintf(w, "load: %5.1fs  placed/s %6d  total %8d  errors %5d  p99 %s ms\n",
					now.Sub(start).Seconds(), len(window), placed, errs, ms(window, 99))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
