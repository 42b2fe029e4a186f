package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"orderflow/domain/order"
	"orderflow/events"
	"orderflow/projections"
)

// ReactionStats is one reaction consumer's progress as /metrics shows it,
// read from the pipeline at every scrape.
type ReactionStats struct {
	Name         string
	Position     int64   // every event at or below it is handled
	Head         int64   // log head when read
	LagSeconds   float64 // age of the oldest event not yet handled; 0 when caught up
	Handled      uint64  // messages handled
	Conflicts    uint64  // version conflicts met when appending
	Retries      uint64  // batch attempts repeated after a failure
	Redeliveries uint64  // messages seen again that had already been handled
	DeadLetters  uint64  // messages set aside as dead letters since the start
	// OpenDeadLetters is how many of its dead letters wait for a retry
	// (read from the database at the scrape).
	OpenDeadLetters int
}

// metrics is what /metrics serves: the Go runtime and the process, the
// positions and lags of every reader of the log, read when scraped, and
// the latency histograms the API observes as it goes. It keeps its own
// registry so that nothing else in the process can add to what it serves.
type metrics struct {
	registry          *prometheus.Registry
	placeOrder        prometheus.Histogram
	placedToValidated prometheus.Histogram
	// admissionWait and overloaded show the admission rule at work: how
	// long orders waited for validation to catch up, and how many were
	// turned away after waiting the whole wait timeout.
	admissionWait prometheus.Histogram
	overloaded    prometheus.Counter
	// read reads the positions, lags and tallies, for a scrape and for
	// the stats query alike.
	read func(context.Context) (scrape, error)
	// expiries counts the orders this process expired, by reason.
	expiries *prometheus.CounterVec
}

// newMetrics registers everything /metrics serves. reactions is called on
// every scrape and returns each reaction consumer's progress.
func newMetrics(db *events.DB, runner *projections.Runner, reactions func() []ReactionStats) *metrics {
	// The buckets cover 1ms to 30s: an order is placed and validated in a
	// few milliseconds when all is well, and a placeOrder that waits for
	// validation can take up to the wait timeout when it is not.
	latencyBuckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &metrics{
		registry: prometheus.NewRegistry(),
		placeOrder: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "orderflow_place_order_seconds",
			Help:    "Time the placeOrder mutation took, including any wait for the read models or for validation.",
			Buckets: latencyBuckets,
		}),
		placedToValidated: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "orderflow_placed_to_validated_seconds",
			Help:    "Time from an order's OrderPlaced event to its OrderValidated event.",
			Buckets: latencyBuckets,
		}),
		admissionWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "orderflow_admission_wait_seconds",
			Help:    "Time a placeOrder waited because validation lagged beyond --max-validation-lag (only orders that waited).",
			Buckets: latencyBuckets,
		}),
		overloaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orderflow_admission_refused_total",
			Help: "placeOrder calls answered OVERLOADED: validation lagged beyond its bound for the whole wait timeout.",
		}),
		expiries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderflow_deadline_expiries_total",
			Help: "Orders this process expired since its start, by reason: VALIDATION_TIMEOUT (failed) and PAYMENT_TIMEOUT (cancelled). " +
				"Split into services, an expiry whose Kafka transaction aborted is decided again, and counted again.",
		}, []string{"reason"}),
	}
	for _, r := range []string{order.ReasonValidationTimeout, order.ReasonPaymentTimeout} {
		m.expiries.WithLabelValues(r)
	}
	store := events.NewStore(db)
	read := func(ctx context.Context) (scrape, error) {
		return readScrape(ctx, db, store, runner, reactions, time.Now())
	}
	m.read = read
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.placeOrder,
		m.placedToValidated,
		m.admissionWait,
		m.overloaded,
		m.expiries,
		newPositionsCollector(read),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "orderflow_diverged_events_total",
			Help: "Events received from another process at a stream version this log holds as another event (two processes wrote one stream), since the start; each is a dead letter of " + events.DivergedReader + ".",
		}, func() float64 { return float64(db.Diverged()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "orderflow_writer_commits_total",
			Help: "Transactions the log's single writer committed since the start (synced at --durability full when they hold an acknowledged write).",
		}, func() float64 { c, _ := db.WriterStats(); return float64(c) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "orderflow_writer_writes_total",
			Help: "Writes (commands' appends, reactions' and projections' steps, imports) those transactions carried: writes per commit is how much group commit shares.",
		}, func() float64 { _, w := db.WriterStats(); return float64(w) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "orderflow_writer_busy_seconds_total",
			Help: "Time the log's single writer spent in transactions (running writes, committing, syncing) since the start: its rate is the writer's utilization.",
		}, func() float64 { return db.WriterBusy().Seconds() }),
	)
	return m
}

// handler serves the registry in the Prometheus exposition formats. A
// scrape that cannot read the positions fails as a whole (HTTP 500), so a
// broken database shows as a failed scrape rather than as stale numbers.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}

// ObserveAdmission records an order that had to wait for admission, and
// whether it was admitted in the end.
func (m *metrics) ObserveAdmission(waited time.Duration, admitted bool) {
	m.admissionWait.Observe(waited.Seconds())
	if !admitted {
		m.overloaded.Inc()
	}
}

// ObserveExpired records an order expired by its deadline.
func (m *metrics) ObserveExpired(reason string) { m.expiries.WithLabelValues(reason).Inc() }

// ObservePlaceOrder records how long one placeOrder mutation took.
func (m *metrics) ObservePlaceOrder(d time.Duration) { m.placeOrder.Observe(d.Seconds()) }

// ObservePlacedToValidated records how long an order took from placed to
// validated.
func (m *metrics) ObservePlacedToValidated(d time.Duration) {
	m.placedToValidated.Observe(d.Seconds())
}

// scrape is what one scrape reads of the log and its readers.
type scrape struct {
	head        int64
	projections []projectionScrape
	reactions   []ReactionStats
	// orders is how many orders entered each status, as the live orders
	// read model applied them since the start.
	orders []projections.OrderCount
}

type projectionScrape struct {
	status     projections.Status
	lagSeconds float64
}

// scrapeTimeout bounds the database reads of one scrape: Collect is given
// no context, and a scrape that hangs would hold a connection for nothing.
const scrapeTimeout = 5 * time.Second

// readScrape reads the head, every projection and
// every reaction. A projection's lag in seconds is the age, at now, of the
// first event after its position; projections at the same position (the
// usual case) share one lookup.
func readScrape(ctx context.Context, db *events.DB, store *events.Store, runner *projections.Runner,
	reactions func() []ReactionStats, now time.Time) (scrape, error) {
	s := scrape{head: db.Head(), orders: runner.OrdersEntered()}
	ages := map[int64]float64{}
	for _, st := range runner.Statuses() {
		age, ok := ages[st.Position]
		if !ok {
			at, found, err := store.FirstOccurredAfter(ctx, st.Position)
			if err != nil {
				return scrape{}, fmt.Errorf("lag of projection %s: %w", st.Name, err)
			}
			if found {
				age = max(now.Sub(at).Seconds(), 0)
			}
			ages[st.Position] = age
		}
		s.projections = append(s.projections, projectionScrape{status: st, lagSeconds: age})
	}
	if reactions != nil {
		s.reactions = reactions()
		open, err := db.OpenDeadLetters(ctx)
		if err != nil {
			return scrape{}, err
		}
		for i := range s.reactions {
			s.reactions[i].OpenDeadLetters = open[s.reactions[i].Name]
		}
	}
	return s, nil
}

// positionsCollector turns a scrape into metrics when Prometheus asks for
// them, so the numbers are as of the scrape and nothing runs between
// scrapes to keep gauges up to date.
type positionsCollector struct {
	read func(context.Context) (scrape, error)

	head, ordersEntered                                       *prometheus.Desc
	projPosition, projLag, projLagSeconds, projRebuilding     *prometheus.Desc
	reactPosition, reactLag, reactLagSeconds                  *prometheus.Desc
	reactHandled, reactConflicts, reactRetries, reactRedelivs *prometheus.Desc
	reactDeadLetters, reactOpenDeadLetters                    *prometheus.Desc
}

func newPositionsCollector(read func(context.Context) (scrape, error)) *positionsCollector {
	proj := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"projection"}, nil)
	}
	react := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"reaction"}, nil)
	}
	return &positionsCollector{
		read: read,
		head: prometheus.NewDesc("orderflow_log_head_position", "Global position of the last committed event.", nil, nil),
		ordersEntered: prometheus.NewDesc("orderflow_orders_entered_total",
			"Orders that entered a status (PENDING: placed; VALIDATED or FAILED: settled), as the live orders read model applied their events since the start.",
			[]string{"status"}, nil),

		projPosition:   proj("orderflow_projection_position", "Last position applied by a projection."),
		projLag:        proj("orderflow_projection_lag", "Positions a projection is behind the head."),
		projLagSeconds: proj("orderflow_projection_lag_seconds", "Age of the first event a projection has not applied; 0 when caught up."),
		projRebuilding: proj("orderflow_projection_rebuilding", "1 while a rebuild of the projection runs."),

		reactPosition:   react("orderflow_reaction_position", "Position at or below which a reaction has handled every event."),
		reactLag:        react("orderflow_reaction_lag", "Positions a reaction is behind the head."),
		reactLagSeconds: react("orderflow_reaction_lag_seconds", "Age of the oldest event a reaction has not handled; 0 when caught up."),
		reactHandled:    react("orderflow_reaction_handled_total", "Messages a reaction handled."),
		reactConflicts:  react("orderflow_reaction_conflicts_total", "Version conflicts a reaction met when appending."),
		reactRetries:    react("orderflow_reaction_retries_total", "Batch attempts a reaction repeated after a failure."),
		reactRedelivs:   react("orderflow_reaction_redeliveries_total", "Messages a reaction saw again after it had handled them."),
		reactDeadLetters: react("orderflow_reaction_dead_letters_total",
			"Messages a reaction set aside as dead letters after they kept failing."),
		reactOpenDeadLetters: react("orderflow_reaction_open_dead_letters", "Dead letters of a reaction waiting for a retry."),
	}
}

func (c *positionsCollector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{c.head, c.ordersEntered,
		c.projPosition, c.projLag, c.projLagSeconds, c.projRebuilding,
		c.reactPosition, c.reactLag, c.reactLagSeconds,
		c.reactHandled, c.reactConflicts, c.reactRetries, c.reactRedelivs,
		c.reactDeadLetters, c.reactOpenDeadLetters}
}

// Describe sends every metric the collector may emit.
func (c *positionsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

// Collect reads the positions and sends them. When they cannot be read it
// sends an invalid metric, which fails the scrape.
func (c *positionsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.head, fmt.Errorf("read positions: %w", err))
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, label string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label)
	}
	gauge(c.head, float64(s.head))
	for _, o := range s.orders {
		ch <- prometheus.MustNewConstMetric(c.ordersEntered, prometheus.CounterValue, float64(o.Count), string(o.Status))
	}
	for _, p := range s.projections {
		st := p.status
		rebuilding := 0.0
		if st.State == projections.StateRebuilding {
			rebuilding = 1
		}
		gauge(c.projPosition, float64(st.Position), st.Name)
		gauge(c.projLag, float64(st.Lag()), st.Name)
		gauge(c.projLagSeconds, p.lagSeconds, st.Name)
		gauge(c.projRebuilding, rebuilding, st.Name)
	}
	for _, r := range s.reactions {
		gauge(c.reactPosition, float64(r.Position), r.Name)
		gauge(c.reactLag, float64(max(r.Head-r.Position, 0)), r.Name)
		gauge(c.reactLagSeconds, r.LagSeconds, r.Name)
		counter(c.reactHandled, r.Handled, r.Name)
		counter(c.reactConflicts, r.Conflicts, r.Name)
		counter(c.reactRetries, r.Retries, r.Name)
		counter(c.reactRedelivs, r.Redeliveries, r.Name)
		counter(c.reactDeadLetters, r.DeadLetters, r.Name)
		gauge(c.reactOpenDeadLetters, float64(r.OpenDeadLetters), r.Name)
	}
}
