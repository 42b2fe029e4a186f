package app

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"orderflow/commands"
	"orderflow/commands/kafkabus"
	"orderflow/domain/order"
	"orderflow/events"
	"orderflow/projections"
)

// deadlines runs the orders context's deadline timer (commands.DeadlineTimer)
// in a process that runs the orders context. In one process it asks the
// handlers to expire an order; split, it asks the member that owns the
// order, through the orders command topic, and only for the orders of the
// partitions this member owns.
type deadlines struct {
	stop context.CancelFunc
	done sync.WaitGroup
}

// deadlinesOf are the deadlines the configuration sets.
func deadlinesOf(cfg Config) order.Deadlines {
	return order.Deadlines{Validation: cfg.ValidationDeadline, Payment: cfg.PaymentDeadline}
}

// startDeadlines starts the deadline timer and its figures in /metrics;
// nil when this process does not run the orders context.
func (a *App) startDeadlines(views *projections.Views) *deadlines {
	if !a.cfg.Runs(commands.ContextOrders) {
		return nil
	}
	t := &commands.DeadlineTimer{Deadlines: deadlinesOf(a.cfg), Due: views.DueDeadlines, Log: a.log,
		Expire: func(ctx context.Context, orderID string) error {
			_, err := a.handlers.ExpireOrder(ctx, orderID, events.Metadata{})
			return err
		}}
	if a.kafka != nil {
		orders := a.kafka.feed(commands.ContextOrders)
		partitions := a.cfg.KafkaPartitions
		t.Owns = func(orderID string) bool { return orders != nil && orders.Owns(orderID, partitions) }
		t.Expire = func(ctx context.Context, orderID string) error {
			cmd, err := commands.ExpireOrderCommand(orderID)
			if err != nil {
				return err
			}
			return kafkabus.Ask(ctx, a.kafka.publisher, a.log, cmd)
		}
	}
	a.metrics.registry.MustRegister(deadlinesCollector(views))
	ctx, stop := context.WithCancel(context.Background())
	d := &deadlines{stop: stop}
	d.done.Go(func() { t.Run(ctx) })
	return d
}

// close stops the timer and waits for its round in progress.
func (d *deadlines) close() {
	if d != nil {
		d.stop()
		d.done.Wait()
	}
}

// deadlinesCollector shows the deadlines running, read from the deadlines
// read model at every scrape.
func deadlinesCollector(views *projections.Views) prometheus.Collector {
	desc := prometheus.NewDesc("orderflow_deadlines_pending",
		"Orders a deadline runs for, by deadline: validation (PENDING orders) and payment (VALIDATED orders not paid). "+
			"Split into services, every order of the orders family this member holds a copy of, whichever member owns it.",
		[]string{"deadline"}, nil)
	return collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		n, err := views.PendingDeadlines(context.Background())
		if err != nil {
			ch <- prometheus.NewInvalidMetric(desc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n[string(order.Pending)]), "validation")
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n[string(order.Validated)]), "payment")
	}}
}

// collectorFunc is a collector of one metric family read when scraped.
type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
