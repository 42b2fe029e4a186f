// Package app wires orderflow together: configuration, the database and
// event store, the command handlers, the reactions of every bounded context
// (each a consumer of the log), the projections, /metrics and the HTTP
// server, and stops them in the order that loses nothing.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"orderflow/app/cdc"
	"orderflow/commands"
	"orderflow/commands/kafkabus"
	"orderflow/domain/fraud"
	"orderflow/events"
	"orderflow/events/pagecache"
	"orderflow/graph"
	"orderflow/projections"
)

// App is a running orderflow service.
type App struct {
	cfg      Config
	log      *slog.Logger
	db       *events.DB
	store    *events.Store
	handlers *commands.Handlers
	runner   *projections.Runner
	pipeline *pipeline
	kafka    *kafkaBus // nil in one process
	// deadlines is the orders context's deadline timer, nil in a process
	// without the orders context.
	deadlines *deadlines
	metrics   *metrics
	http      *http.Server
	ln        net.Listener

	// cdc is the follower of a legacy database (--cdc-pg), nil without one.
	cdc *cdcFollower

	stopProjections context.CancelFunc
	projectionsDone *sync.WaitGroup
	serveDone       chan struct{}
	shutdownOnce    sync.Once
	shutdownErr     error
	// backupBusy is set while /admin/backup sends a backup.
	backupBusy atomic.Bool
	// seedSynced is done once a database received with --seed-from is on
	// disk (Shutdown waits for it: a stop before would discard it).
	seedSynced sync.WaitGroup
	// self is the address this process says it serves at on the members
	// topic, split into services ("" with --advertise-url none); the
	// announcer says it there while the process runs (nil when nothing
	// is said).
	self      string
	announcer *announcer
	// ready judges whether the process is ready, for /readyz and for the
	// announcer alike: one record of how each reader of the log moves.
	ready *readiness
}

// Start opens the database, starts every component and serves HTTP. It
// returns once the server listens. The phases run in this order because
// each needs what the ones before it started: the reactions write through
// the handlers, the server answers from the projections and sends commands
// to the handlers. When a phase fails, Shutdown stops whatever had started.
func Start(ctx context.Context, cfg Config) (_ *App, err error) {
	began := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: cfg.Logger, serveDone: make(chan struct{}), ready: newReadiness(cfg.StallAfter, time.Now)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			a.Shutdown(context.Background())
		}
	}()

	// Listen first: an address in use is reported at once, before the
	// database is opened and checked, and nothing is left to stop.
	if a.ln, err = listen(cfg.Addr); err != nil {
		return nil, err
	}
	// The database's lock first: seeding writes, or discards, the file
	// the log then opens, and no other process may take it in between.
	lock, err := events.TakeLock(cfg.DBPath)
	if err != nil {
		return nil, err
	}
	if cfg.Split() {
		a.self = advertisedURL(cfg, a.ln)
	}
	seeded, synced, err := seed(ctx, cfg, a.self, a.log)
	if err != nil {
		lock.Release()
		return nil, err
	}
	if a.db, err = openLog(ctx, cfg, seeded, lock, a.log); err != nil {
		return nil, err
	}
	// A copy received early is synced once it is open, not while: opened
	// while the disk wrote it, it waited for the sync to end (0.26 s of a
	// copy of 620 MB here; SQLite makes its -wal and -shm files in the
	// directory that the sync of a file just linked in syncs too).
	if synced != nil {
		a.seedSynced.Go(func() {
			start := time.Now()
			if err := synced(); err != nil {
				a.log.Error("the database received from a running process could not be written to disk; it will be discarded at the next start", "db", cfg.DBPath, "err", err)
				return
			}
			a.log.Info("the database received from a running process is on disk", "db", cfg.DBPath, "took", time.Since(start).Round(time.Millisecond))
		})
	}
	a.store = events.NewStore(a.db)
	reg := commands.Registry()
	// Personal fields are sealed under keys kept in the database, outside
	// the log; split into services, they travel on the keys topic too.
	reg.UseKeys(events.NewKeyring(a.db))
	views := projections.NewViews(a.db.Reader())
	a.runner = projections.NewRunner(a.store, reg, a.log, readModels(cfg)...)
	if cfg.Split() {
		if err := a.connectTransport(ctx, reg); err != nil {
			return nil, err
		}
	}
	a.setUpWriteSide(reg, views)
	feed, err := a.startReadSide(views)
	if err != nil {
		return nil, err
	}
	if err := a.startReactions(ctx, reg, views); err != nil {
		return nil, err
	}
	api, err := a.startTransport(reg)
	if err != nil {
		return nil, err
	}
	a.deadlines = a.startDeadlines(views)
	if cfg.CDCPG != "" {
		a.followLegacy()
	}
	if err := a.serveHTTP(api, views, feed, reg); err != nil {
		return nil, err
	}
	if cfg.Split() {
		isReady := func(ctx context.Context) bool { return a.notReady(ctx) == "" }
		if a.announcer, err = startAnnouncing(cfg, a.self, isReady, a.log); err != nil {
			return nil, err
		}
	}
	if err := pagecache.Installed(); err != nil {
		// Only slower: every commit that split a page walks the writer's cache.
		a.log.Warn("SQLite's page cache runs without orderflow's wrapper", "err", err)
	}
	a.log.Info("orderflow listening", "url", a.URL(), "db", cfg.DBPath, "durability", string(cfg.Durability),
		"transport", cfg.Transport, "contexts", strings.Join(cfg.Contexts, ","), "started_in", time.Since(began).Round(time.Millisecond))
	return a, nil
}

// connectTransport, split into services, connects to Kafka first: the
// topics, and the replies to the commands it sends.
func (a *App) connectTransport(ctx context.Context, reg *events.Registry) (err error) {
	if a.kafka, err = connectKafka(ctx, a.cfg, a.store, reg, a.log); err != nil {
		return err
	}
	if a.cfg.Runs(commands.ContextAPI) {
		a.runner.BeforeRebuild(a.rereadTopics)
	}
	return nil
}

// rereadTopics starts every rebuild of the API service's projections
// (rebuildProjection): the topics are re-read from their beginning into the
// log first, so that the rebuild holds what the topics hold.
func (a *App) rereadTopics(ctx context.Context) error {
	started := time.Now()
	added, err := kafkabus.Reread(ctx, a.store, a.kafka.cluster, allFamilies(), a.log)
	if err == nil {
		a.log.Info("rebuild: re-read the topics from their beginning", "events_added", added, "took", time.Since(started))
	}
	return err
}

// setUpWriteSide makes the command handlers, which decide against the log
// and append to it. The orders context prices orders from its in-memory
// copy of the catalog. Split, a handler first catches up on the copied
// families it decides against, and the transactional contexts write
// through their stages.
func (a *App) setUpWriteSide(reg *events.Registry, views *projections.Views) {
	var catchUp func(ctx context.Context, families ...string) error
	if a.kafka != nil {
		// The replica starts once the reactions are known (startReactions).
		catchUp = func(ctx context.Context, families ...string) error { return a.kafka.replica.CatchUp(ctx, families...) }
	}
	a.handlers = commands.New(a.store, reg, projections.NewPrices(views, a.runner), commands.Config{
		Fraud:      fraud.Rule{LimitCents: a.cfg.FraudLimitCents, Window: a.cfg.FraudWindow},
		JoinWindow: a.cfg.JoinWindow,
		// a.metrics is set before the reactions start.
		ObserveValidated: func(d time.Duration) { a.metrics.ObservePlacedToValidated(d) },
		Deadlines:        deadlinesOf(a.cfg),
		ObserveExpired:   func(reason string) { a.metrics.ObserveExpired(reason) },
		CatchUp:          catchUp,
	})
	if a.kafka != nil {
		a.kafka.useStages(a.cfg, a.store, a.handlers)
	}
}

// startReadSide starts the projections, which catch up from their
// checkpoints before the reactions write anything, and the feed of the
// subscriptions, which hears of changed orders from the first batch on.
// They run until Shutdown.
func (a *App) startReadSide(views *projections.Views) (*graph.OrderFeed, error) {
	projCtx, stopProjections := context.WithCancel(context.Background())
	feed := graph.NewOrderFeed(views.Order, a.log)
	a.runner.OnOrdersChanged(feed.Changed)
	done, err := a.runner.Start(projCtx)
	if err != nil {
		// Nothing runs yet: Shutdown has no projections to stop.
		stopProjections()
		return nil, err
	}
	a.stopProjections, a.projectionsDone = stopProjections, done
	a.projectionsDone.Add(1)
	go func() {
		defer a.projectionsDone.Done()
		feed.Run(projCtx)
	}()
	return feed, nil
}

// startReactions starts the reactions of the contexts this process runs,
// each a consumer of the log with its own cursor, and the metrics that
// watch them. Split, the replica copying the families they read starts
// first.
func (a *App) startReactions(ctx context.Context, reg *events.Registry, views *projections.Views) error {
	a.metrics = newMetrics(a.db, a.runner, func() []ReactionStats { return a.pipeline.stats() })
	var specs []events.ConsumerSpec
	for _, spec := range a.handlers.Consumers() {
		if a.cfg.Runs(commands.ReactionContext(spec.Name)) {
			specs = append(specs, spec)
		}
	}
	if a.kafka != nil {
		if err := a.kafka.startReplica(ctx, a.cfg, a.store, a.log); err != nil {
			return err
		}
	}
	a.pipeline = startPipeline(a.store, reg, specs, a.cfg, func(spec events.ConsumerSpec) bool { return fedReaction(a.cfg, spec) },
		deploymentLag(a.cfg, views), a.metrics.ObserveAdmission, a.log)
	return nil
}

// startTransport, split into services, starts the feeds of what other
// processes send this one over Kafka (commands and events), and returns
// where the API sends commands: to the handlers of the contexts this
// process runs, over Kafka to the process that runs any other. In one
// process there is nothing to start, and the handlers take every command.
func (a *App) startTransport(reg *events.Registry) (commands.API, error) {
	if a.kafka == nil {
		return a.handlers, nil
	}
	if err := a.kafka.startFeeds(a.cfg, a.store, reg, a.handlers, a.pipeline, a.runner, a.log); err != nil {
		return nil, err
	}
	a.metrics.registry.MustRegister(a.kafka.collectors()...)
	return &commands.Router{Send: a.kafka.send(a.cfg.WaitTimeout)}, nil
}

// followLegacy starts following the legacy database (--cdc-pg) into the log,
// through the server's handlers.
func (a *App) followLegacy() {
	a.cdc = startCDC(a.cfg.CDCPG, a.cfg.CDCSource, a.db, a.handlers, a.log)
	a.metrics.registry.MustRegister(cdc.Collectors(a.cdc.stats)...)
}

// URL is the base address the server answers on.
func (a *App) URL() string {
	addr := a.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// Shutdown stops accepting requests, lets the ones in flight finish, lets
// each reaction finish the batch it is in, stops the projections and closes
// the database. Every acknowledged write is committed by then; whatever a
// reaction had not handled yet is delivered after the next start, from its
// checkpoint.
func (a *App) Shutdown(ctx context.Context) error {
	a.shutdownOnce.Do(func() {
		var errs []error
		// Withdraw the word first: no new member starts a copy of a
		// process that is stopping.
		a.announcer.close()
		switch {
		case a.http != nil: // serving: Serve returns once Shutdown closed the listener
			errs = append(errs, a.http.Shutdown(ctx))
			<-a.serveDone
		case a.ln != nil: // Start failed after listening, before serving
			a.ln.Close()
		}
		a.deadlines.close() // it writes, or asks over Kafka: before either closes
		if a.cdc != nil {
			a.cdc.stop() // it writes: before the writer closes
		}
		if a.kafka != nil {
			a.kafka.stopFeedsNow()
		}
		if a.pipeline != nil {
			errs = append(errs, a.pipeline.stop(ctx))
		}
		if a.kafka != nil {
			errs = append(errs, a.kafka.stop())
		}
		if a.stopProjections != nil {
			a.stopProjections()
			a.projectionsDone.Wait()
		}
		if a.db != nil {
			errs = append(errs, a.db.Close())
		}
		a.seedSynced.Wait()
		a.shutdownErr = errors.Join(errs...)
	})
	return a.shutdownErr
}
