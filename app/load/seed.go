package load

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// unitPriceCents is every load product's price. With one unit per line an
// order costs lines × 100 cents, far below the default fraud limit of
// 200000 cents per customer per hour for any realistic run.
const unitPriceCents = 100

// run names everything one run creates. The id is made from the start
// time, so repeated runs against one database never reuse an id.
type run struct{ id string }

func newRun(now time.Time) run { return run{id: strconv.FormatInt(now.UnixNano(), 36)} }

func (r run) customer(n int) string { return fmt.Sprintf("load-c-%s-%d", r.id, n) }
func (r run) product(n int) string  { return fmt.Sprintf("load-p-%s-%d", r.id, n) }
func (r run) order(n int) string    { return fmt.Sprintf("load-o-%s-%d", r.id, n) }

const (
	registerCustomerMutation = `mutation($in: RegisterCustomerInput!) { registerCustomer(input: $in) { id } }`
	upsertProductMutation    = `mutation($in: ProductInput!) { upsertProduct(input: $in) { id } }`
	addStockMutation         = `mutation($productId: ID!, $quantity: Int!) { addStock(productId: $productId, quantity: $quantity) { available } }`
)

// seed registers the run's customers and creates its products with their
// stock, through the API like any client. The first failure stops it.
func seed(ctx context.Context, c *client, cfg config, r run) error {
	jobs := make([]func(context.Context) error, 0, cfg.customers+cfg.products)
	for n := range cfg.customers {
		id := r.customer(n)
		jobs = append(jobs, func(ctx context.Context) error {
			in := map[string]any{
				"id":      id,
				"name":    fmt.Sprintf("Load Customer %d", n),
				"email":   id + "@load.example",
				"address": fmt.Sprintf("%d Load Street", n),
			}
			if err := c.do(ctx, registerCustomerMutation, map[string]any{"in": in}, nil); err != nil {
				return fmt.Errorf("registerCustomer %s: %w", id, err)
			}
			return nil
		})
	}
	for n := range cfg.products {
		id := r.product(n)
		// Stock is added to a product that exists, so both go in one job.
		jobs = append(jobs, func(ctx context.Context) error {
			in := map[string]any{"id": id, "name": fmt.Sprintf("Load Product %d", n), "priceCents": unitPriceCents}
			if err := c.do(ctx, upsertProductMutation, map[string]any{"in": in}, nil); err != nil {
				return fmt.Errorf("upsertProduct %s: %w", id, err)
			}
			vars := map[string]any{"productId": id, "quantity": cfg.stock}
			if err := c.do(ctx, addStockMutation, vars, nil); err != nil {
				return fmt.Errorf("addStock %s: %w", id, err)
			}
			return nil
		})
	}
	return runJobs(ctx, cfg.seedConcurrency, jobs)
}

// runJobs runs jobs on up to workers goroutines and returns the first
// error, after which no further job starts.
func runJobs(ctx context.Context, workers int, jobs []func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan func(context.Context) error)
	var wg sync.WaitGroup
	for range min(workers, len(jobs)) {
		wg.Go(func() {
			for job := range next {
				if ctx.Err() != nil {
					continue
				}
				if err := job(ctx); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, job := range jobs {
		select {
		case next <- job:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}
