// Package load is `orderflow load`, a load generator for a running
// orderflow. Through the GraphQL API only, it seeds customers, products and
// stock under a fresh run id, lets many concurrent clients place orders for
// a fixed time, waits for those orders to be validated and prints
// throughput and latencies.
//
// It talks to the one --target it is given and stops by itself: the load
// ends after --duration, every request has a timeout and the wait for
// settlement is bounded. It uses the standard library only.
package load

import (
	"context"
	"fmt"
	"io"
	"time"

	"orderflow/app/flags"
)

// Main runs `orderflow load [flags]` and returns the exit code: 0 when the
// run completed (its errors, if any, are in the summary), 1 when it could
// not seed or was interrupted, 2 for bad flags.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args)
	if err != nil {
		return flags.Exit("orderflow load", err, stdout, stderr)
	}
	return runLoad(ctx, cfg, stdout, stderr)
}

const usage = `Usage: orderflow load [flags]

Seeds customers, products and stock through the GraphQL API of a running
orderflow, places orders from --clients concurrent clients for --duration,
waits (up to 30s) for them to leave PENDING and prints a summary.

Flags:
`

// runLoad is one run: seed, load, drain, summary. Progress goes to stderr,
// the summary to stdout.
func runLoad(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	r := newRun(time.Now())
	c := newClient(cfg.target, cfg.token, max(cfg.clients, cfg.seedConcurrency))
	defer c.close()

	fmt.Fprintf(stderr, "load: run %s: seeding %d customers and %d products (%d units each) on %s\n",
		r.id, cfg.customers, cfg.products, cfg.stock, cfg.target)
	seedStart := time.Now()
	if err := seed(ctx, c, cfg, r); err != nil {
		fmt.Fprintf(stderr, "orderflow load: seed: %v\n", err)
		return 1
	}
	seedTime := time.Since(seedStart)
	fmt.Fprintf(stderr, "load: seeded in %s; %d clients place orders for %s\n",
		seedTime.Round(time.Millisecond), cfg.clients, cfg.duration)

	rec := newRecorder()
	start := time.Now()
	stopProgress := startProgress(stderr, start, rec)
	placeOrders(ctx, c, cfg, r, start.Add(cfg.duration), rec)
	loadTime := time.Since(start)
	stopProgress()

	// The clients have all returned: rec is no longer written to.
	dr := &drainResult{}
	if ctx.Err() == nil {
		fmt.Fprintf(stderr, "load: placed %d orders; waiting for them to settle\n", len(rec.placed))
		dr = drain(ctx, c, cfg, r, rec.placed, stderr)
	}
	s := newSummary(cfg, r, seedTime, loadTime, rec, dr)
	s.interrupted = ctx.Err() != nil
	s.write(stdout)
	if s.interrupted {
		fmt.Fprintln(stderr, "orderflow load: interrupted")
		return 1
	}
	return 0
}
