package load

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

const (
	// drainTimeout bounds the wait for placed orders to leave PENDING.
	drainTimeout = 30 * time.Second
	// drainBatch is how many customers or orders one drain request asks
	// about.
	drainBatch = 100
	// drainPause is the pause between two looks for pending orders. It
	// does not blur the measured latencies: those come from the server's
	// createdAt and updatedAt.
	drainPause = 250 * time.Millisecond
)

// orderState is what the drain reads of an order.
type orderState struct {
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	FailureReasons []string  `json:"failureReasons"`
}

// settled reports whether the validations are over. The load never pays,
// ships or cancels, so VALIDATED and FAILED are where its orders stop.
func (o *orderState) settled() bool {
	return o != nil && (o.Status == "VALIDATED" || o.Status == "FAILED")
}

// drainResult is the last state read of every placed order (nil when the
// order was never found) and how the drain's own requests fared.
type drainResult struct {
	states []*orderState // in the order of the placed slice
	errors tally
}

// tally counts failed requests of concurrent jobs and keeps the last one.
type tally struct {
	mu   sync.Mutex
	n    int
	last error
}

func (t *tally) add(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	t.last = err
}

// drain waits, up to drainTimeout, until none of the run's customers has a
// PENDING order, then reads every placed order once for the summary. The
// final read has a bound of its own, so it still happens when the wait ran
// out.
func drain(ctx context.Context, c *client, cfg config, r run, placed []int, progress io.Writer) *drainResult {
	res := &drainResult{}
	var customers []int
	seen := make(map[int]bool)
	for _, n := range placed {
		if k := n % cfg.customers; !seen[k] {
			seen[k] = true
			customers = append(customers, k)
		}
	}
	waitCtx, cancelWait := context.WithTimeout(ctx, drainTimeout)
	defer cancelWait()
	if left := waitSettled(waitCtx, c, cfg, r, customers, progress, &res.errors); left > 0 && ctx.Err() == nil {
		fmt.Fprintf(progress, "drain: gave up after %s with %d customers still having PENDING orders\n", drainTimeout, left)
	}
	readCtx, cancelRead := context.WithTimeout(ctx, drainTimeout)
	defer cancelRead()
	res.states = readAll(readCtx, c, cfg, r, placed, &res.errors)
	return res
}

// waitSettled asks per customer whether any order is still pending (one
// aliased orders field per customer, drainBatch customers per request)
// rather than re-reading every order: a few requests per look keep the
// drain from competing for the server's CPU with the validation it waits
// for. A customer seen with nothing pending is not asked again, since the
// load has stopped giving it orders. It returns how many customers still
// had pending orders when ctx ended.
func waitSettled(ctx context.Context, c *client, cfg config, r run, customers []int, progress io.Writer, errs *tally) int {
	start, lastLine := time.Now(), time.Now()
	for len(customers) > 0 && ctx.Err() == nil {
		// Unknown counts as pending, to be asked again: a customer whose
		// request failed or was never sent stays.
		busy := make([]bool, len(customers))
		for k := range busy {
			busy[k] = true
		}
		var jobs []func(context.Context) error
		for from := 0; from < len(customers); from += drainBatch {
			batch := customers[from:min(from+drainBatch, len(customers))]
			jobs = append(jobs, func(ctx context.Context) error {
				pending, err := pendingCustomers(ctx, c, r, batch)
				if err != nil {
					errs.add(err)
					return nil
				}
				copy(busy[from:], pending)
				return nil
			})
		}
		runJobs(ctx, cfg.seedConcurrency, jobs)
		still := customers[:0]
		for k, n := range customers {
			if busy[k] {
				still = append(still, n)
			}
		}
		customers = still
		if len(customers) > 0 && time.Since(lastLine) >= time.Second {
			lastLine = time.Now()
			fmt.Fprintf(progress, "drain: %5.1fs  %d customers still have PENDING orders\n",
				time.Since(start).Seconds(), len(customers))
		}
		if len(customers) > 0 {
			sleep(ctx, drainPause)
		}
	}
	return len(customers)
}

// readAll reads the state of every placed order, drainBatch orders per
// request. A batch that fails is read again, up to three times in all,
// while ctx lasts.
func readAll(ctx context.Context, c *client, cfg config, r run, placed []int, errs *tally) []*orderState {
	states := make([]*orderState, len(placed))
	var batches [][]int
	for from := 0; from < len(placed); from += drainBatch {
		batches = append(batches, indexes(from, min(from+drainBatch, len(placed))))
	}
	for attempt := 0; len(batches) > 0 && attempt < 3 && ctx.Err() == nil; attempt++ {
		batchFailed := make([]bool, len(batches))
		var jobs []func(context.Context) error
		for b, batch := range batches {
			jobs = append(jobs, func(ctx context.Context) error {
				if err := readOrders(ctx, c, r, placed, batch, states); err != nil {
					errs.add(err)
					batchFailed[b] = true
				}
				return nil
			})
		}
		runJobs(ctx, cfg.seedConcurrency, jobs)
		var again [][]int
		for b, batch := range batches {
			if batchFailed[b] {
				again = append(again, batch)
			}
		}
		batches = again
	}
	return states
}

func indexes(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// pendingCustomers asks, in one request, which of the given customers have
// a PENDING order.
func pendingCustomers(ctx context.Context, c *client, r run, customers []int) ([]bool, error) {
	var q strings.Builder
	q.WriteString("query(")
	vars := make(map[string]any, len(customers))
	for k, n := range customers {
		if k > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "$c%d: ID!", k)
		vars[fmt.Sprintf("c%d", k)] = r.customer(n)
	}
	q.WriteString(") {")
	for k := range customers {
		fmt.Fprintf(&q, " c%d: orders(customerId: $c%d, status: PENDING, first: 1) { edges { cursor } }", k, k)
	}
	q.WriteString(" }")

	var data map[string]struct {
		Edges []struct{} `json:"edges"`
	}
	if err := c.do(ctx, q.String(), vars, &data); err != nil {
		return nil, fmt.Errorf("ask %d customers for PENDING orders: %w", len(customers), err)
	}
	pending := make([]bool, len(customers))
	for k := range customers {
		pending[k] = len(data[fmt.Sprintf("c%d", k)].Edges) > 0
	}
	return pending, nil
}

// readOrders asks for the orders placed[i], i in batch, in one request (one
// aliased order field each) and stores what it gets into states. Requests
// of a full batch have the same text, so the server parses it only once.
func readOrders(ctx context.Context, c *client, r run, placed, batch []int, states []*orderState) error {
	var q strings.Builder
	q.WriteString("query(")
	vars := make(map[string]any, len(batch))
	for k, i := range batch {
		if k > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "$o%d: ID!", k)
		vars[fmt.Sprintf("o%d", k)] = r.order(placed[i])
	}
	q.WriteString(") {")
	for k := range batch {
		fmt.Fprintf(&q, " o%d: order(id: $o%d) { ...s }", k, k)
	}
	q.WriteString(" } fragment s on Order { status createdAt updatedAt failureReasons }")

	var data map[string]*orderState
	if err := c.do(ctx, q.String(), vars, &data); err != nil {
		return fmt.Errorf("read %d orders: %w", len(batch), err)
	}
	for k, i := range batch {
		if o := data[fmt.Sprintf("o%d", k)]; o != nil {
			states[i] = o
		}
	}
	return nil
}
