package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"orderflow/commands"
	"orderflow/events"
)

// pipeline runs the asynchronous half of the order flow: one consumer of
// the log per reaction, each with its own cursor and lanes. It also keeps
// the admission rule of placeOrder: while validation lags behind by more
// than --max-validation-lag, new orders wait (at most --wait-timeout)
// instead of piling up a backlog of minutes.
type pipeline struct {
	store     *events.Store
	consumers []*events.Consumer
	// validating are the consumers an order waits for before it is
	// validated or failed.
	validating []*events.Consumer
	maxLag     time.Duration
	lag        atomic.Int64 // nanoseconds, refreshed every lagEvery
	// deployment, split, is the validation lag of the whole deployment
	// (nil in one process, where the reactions are all here), refreshed
	// every deploymentLagEvery into deployed.
	deployment func(ctx context.Context) (time.Duration, error)
	deployed   atomic.Int64 // nanoseconds
	// observeAdmission is told about every order that had to wait.
	observeAdmission func(waited time.Duration, admitted bool)

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// lagEvery is how often the validation lag is measured for admission;
// deploymentLagEvery how often the deployment's is (a query).
const (
	lagEvery           = 5 * time.Millisecond
	deploymentLagEvery = 50 * time.Millisecond
)

// startPipeline starts a consumer per spec. Those fed says are handed
// their deliveries from Kafka (see kafkabus.Feed) instead of reading the
// log.
func startPipeline(store *events.Store, reg *events.Registry, specs []events.ConsumerSpec, cfg Config, fed func(events.ConsumerSpec) bool,
	deployment func(ctx context.Context) (time.Duration, error), observeAdmission func(waited time.Duration, admitted bool),
	log *slog.Logger) *pipeline {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pipeline{store: store, maxLag: cfg.MaxValidationLag, deployment: deployment, observeAdmission: observeAdmission, cancel: cancel}
	for _, spec := range specs {
		c := events.NewConsumer(store, reg, spec, events.ConsumerOptions{Lanes: cfg.BusPartitions, Log: log})
		p.consumers = append(p.consumers, c)
		if slices.Contains(commands.Validating(), commands.ReactionName(spec.Name)) {
			p.validating = append(p.validating, c)
		}
		run := c.Run
		if fed(spec) {
			run = c.RunFed
		}
		p.done.Go(func() {
			if err := run(ctx); err != nil {
				log.Error("reaction stopped", "reaction", c.Name(), "err", err)
			}
		})
	}
	p.done.Go(func() {
		t := time.NewTicker(lagEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.lag.Store(int64(max(p.validationLag(), time.Duration(p.deployed.Load()))))
			}
		}
	})
	if deployment != nil {
		p.done.Go(func() { p.watchDeployment(ctx, log) })
	}
	return p
}

// watchDeployment refreshes the deployment's validation lag until ctx
// ends. A query that fails leaves the last figure (and says so once).
func (p *pipeline) watchDeployment(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(deploymentLagEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			lag, err := p.deployment(ctx)
			if err != nil {
				if !failing && ctx.Err() == nil {
					log.Warn("admission: could not measure the validation lag of the deployment", "err", err)
				}
				failing = true
				continue
			}
			failing = false
			p.deployed.Store(int64(lag))
		}
	}
}

// validationLag is the age of the oldest event a validation reaction holds
// and has not handled yet.
func (p *pipeline) validationLag() time.Duration {
	var lag time.Duration
	for _, c := range p.validating {
		lag = max(lag, c.Lag())
	}
	return lag
}

// admit returns once validation lags by no more than the bound, or ctx's
// error when ctx ends first.
func (p *pipeline) admit(ctx context.Context) error {
	if time.Duration(p.lag.Load()) <= p.maxLag {
		return nil
	}
	start := time.Now()
	t := time.NewTicker(lagEvery)
	defer t.Stop()
	for time.Duration(p.lag.Load()) > p.maxLag {
		select {
		case <-ctx.Done():
			p.observe(time.Since(start), false)
			return fmt.Errorf("validation lags %s behind (bound %s): %w",
				time.Duration(p.lag.Load()).Round(time.Millisecond), p.maxLag, ctx.Err())
		case <-t.C:
		}
	}
	p.observe(time.Since(start), true)
	return nil
}

func (p *pipeline) observe(waited time.Duration, admitted bool) {
	if p.observeAdmission != nil {
		p.observeAdmission(waited, admitted)
	}
}

// stats reports every reaction's progress.
func (p *pipeline) stats() []ReactionStats {
	out := make([]ReactionStats, len(p.consumers))
	for i, c := range p.consumers {
		s := c.Stats()
		out[i] = ReactionStats{Name: s.Name, Position: s.Position, Head: s.Head, LagSeconds: s.LagSeconds,
			Handled: s.Handled, Conflicts: s.Conflicts, Retries: s.Retries, Redeliveries: s.Redeliveries,
			DeadLetters: s.DeadLetters}
	}
	return out
}

// consumer is the running consumer of a reaction, nil when none runs here.
func (p *pipeline) consumer(name string) *events.Consumer {
	for _, c := range p.consumers {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// retry hands a dead letter to the reaction that set it aside.
func (p *pipeline) retry(ctx context.Context, id int64) error {
	l, err := p.store.DB().DeadLetter(ctx, id)
	if err != nil {
		return err
	}
	for _, c := range p.consumers {
		if c.Name() == l.Reader {
			return c.Retry(ctx, id)
		}
	}
	if name, ok := strings.CutPrefix(l.Reader, "projection "); ok {
		return fmt.Errorf("a projection's dead letter is retried by rebuilding it, once the cause is fixed: rebuildProjection(name: %q)", name)
	}
	return fmt.Errorf("dead letter %d: no reaction %q runs here", id, l.Reader)
}

// stop lets each reaction finish the batch it is in and saves its cursor.
func (p *pipeline) stop(ctx context.Context) error {
	p.cancel()
	stopped := make(chan struct{})
	go func() { p.done.Wait(); close(stopped) }()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("reactions did not stop: %w", ctx.Err())
	}
}
