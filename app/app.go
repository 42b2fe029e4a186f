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
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"orderflow/app/board"
	"orderflow/app/cdc"
	"orderflow/app/flags"
	"orderflow/commands"
	"orderflow/commands/kafkabus"
	"orderflow/domain/fraud"
	"orderflow/events"
	"orderflow/graph"
	"orderflow/graph/access"
	"orderflow/graph/graphiql"
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
	metrics  *metrics
	http     *http.Server
	ln       net.Listener

	// cdc is the follower of a legacy database (--cdc-pg), nil without one.
	cdc *cdcFollower

	stopProjections context.CancelFunc
	projectionsDone *sync.WaitGroup
	serveDone       chan struct{}
	shutdownOnce    sync.Once
	shutdownErr     error
}

// Start opens the database, starts every component and serves HTTP. It
// returns once the server listens.
func Start(ctx context.Context, cfg Config) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, log: log, serveDone: make(chan struct{})}
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
	a.db, err = openLog(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	store := events.NewStore(a.db)
	a.store = store
	reg := commands.Registry()
	views := projections.NewViews(a.db.Reader())
	runner := projections.NewRunner(store, reg, log, readModels(cfg)...)
	var catchUp func(ctx context.Context, families ...string) error
	if cfg.Split() {
		// Kafka first: the topics, the relay of what this process writes,
		// and the copy of what it reads.
		if a.kafka, err = connectKafka(ctx, cfg, store, reg, log); err != nil {
			return nil, err
		}
		// The replica starts once the reactions are known (below).
		catchUp = func(ctx context.Context, families ...string) error { return a.kafka.replica.CatchUp(ctx, families...) }
		if cfg.Runs(commands.ContextAPI) {
			// rebuildProjection rebuilds from what the topics hold: they
			// are re-read from their beginning into the log first.
			runner.BeforeRebuild(func(ctx context.Context) error {
				started := time.Now()
				added, err := kafkabus.Reread(ctx, store, cfg.KafkaBrokers, allFamilies(), log)
				if err == nil {
					log.Info("rebuild: re-read the topics from their beginning", "events_added", added, "took", time.Since(started))
				}
				return err
			})
		}
	}
	// The orders context prices orders from its in-memory copy of the catalog.
	handlers := commands.New(store, reg, projections.NewPrices(views, runner), commands.Config{
		Fraud:      fraud.Rule{LimitCents: cfg.FraudLimitCents, Window: cfg.FraudWindow},
		JoinWindow: cfg.JoinWindow,
		// a.metrics is set before the reactions start.
		ObserveValidated: func(d time.Duration) { a.metrics.ObservePlacedToValidated(d) },
		CatchUp:          catchUp,
	})

	if a.kafka != nil {
		a.kafka.useStages(cfg, store, handlers)
	}

	// Read side first: projections catch up from their checkpoints.
	a.handlers, a.runner = handlers, runner
	projCtx, stopProjections := context.WithCancel(context.Background())
	a.stopProjections = stopProjections
	// The subscriptions' feed hears of changed orders from the first batch on.
	feed := graph.NewOrderFeed(views.Order, log)
	runner.OnOrdersChanged(feed.Changed)
	if a.projectionsDone, err = runner.Start(projCtx); err != nil {
		return nil, err
	}
	a.projectionsDone.Add(1)
	go func() {
		defer a.projectionsDone.Done()
		feed.Run(projCtx)
	}()

	// Then the reactions: each a consumer of the log with its own cursor.
	a.metrics = newMetrics(a.db, runner, func() []ReactionStats { return a.pipeline.stats() })
	var specs []events.ConsumerSpec
	for _, spec := range handlers.Consumers() {
		if cfg.Runs(commands.ReactionContext(spec.Name)) {
			specs = append(specs, spec)
		}
	}
	if a.kafka != nil {
		if err := a.kafka.startReplica(ctx, cfg, store, specs, log); err != nil {
			return nil, err
		}
	}
	a.pipeline = startPipeline(store, reg, specs, cfg, func(spec events.ConsumerSpec) bool { return fedReaction(cfg, spec) },
		a.metrics.ObserveAdmission, log)
	var api commands.API = handlers
	if a.kafka != nil {
		if err := a.kafka.startFeeds(cfg, store, reg, handlers, a.pipeline, runner, log); err != nil {
			return nil, err
		}
		api = &commands.Router{Local: handlers, Runs: cfg.Runs, Send: a.kafka.send(cfg.WaitTimeout)}
		a.metrics.registry.MustRegister(a.kafka.collectors(store)...)
	}

	if cfg.CDCPG != "" {
		a.cdc = startCDC(cfg.CDCPG, a.db, handlers, log)
		a.metrics.registry.MustRegister(cdc.Collectors(a.cdc.stats)...)
	}

	resolver := &graph.Resolver{Commands: api, Views: views, Runner: runner, Store: store,
		Orders: feed, Log: projections.NewHistory(store, reg), WaitTimeout: cfg.WaitTimeout, Admit: a.pipeline.admit,
		ObservePlaceOrder: a.metrics.ObservePlaceOrder, Redeliver: a.pipeline.retry}
	var verifier *access.Verifier
	if cfg.AuthSecret != "" {
		if verifier, err = access.NewVerifier([]byte(cfg.AuthSecret), time.Now); err != nil {
			return nil, err
		}
	} else {
		log.Warn("access control is off (no --auth-secret): every caller may do everything; for development only")
	}
	mux := http.NewServeMux()
	if cfg.Runs(commands.ContextAPI) {
		mux.Handle("/graphql", graph.NewHandler(resolver, log, cfg.Limits, verifier))
		// GraphiQL, with every file it loads served from the binary.
		ide := graphiql.Handler("orderflow", "/graphql")
		mux.Handle("GET /{$}", ide)
		mux.Handle("GET "+graphiql.AssetsPath, ide)
		mux.Handle("GET /board", http.RedirectHandler("/board/", http.StatusMovedPermanently))
		mux.Handle("GET /board/", http.StripPrefix("/board/", board.Handler()))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := a.db.Reader().PingContext(r.Context()); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", a.metrics.handler())
	ready := newReadiness(cfg.StallAfter, time.Now)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := a.db.Reader().PingContext(r.Context()); err != nil {
			http.Error(w, "not ready: database unavailable", http.StatusServiceUnavailable)
			return
		}
		var readers []readerPosition
		for _, s := range a.pipeline.stats() {
			readers = append(readers, readerPosition{"reaction " + s.Name, s.Position})
		}
		for _, s := range runner.Statuses() {
			readers = append(readers, readerPosition{"projection " + s.Name, s.Position})
		}
		stalled := ready.stalled(a.db.Head(), readers)
		if len(stalled) > 0 {
			http.Error(w, report(stalled), http.StatusServiceUnavailable)
			return
		}
		if problems := a.readinessProblems(r.Context()); len(problems) > 0 {
			http.Error(w, "not ready: "+strings.Join(problems, "; ")+"\n", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(report(nil)))
	})
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	a.http = &http.Server{Handler: mux, ReadHeaderTimeout: min(10*time.Second, cfg.ReadTimeout),
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout}
	go func() {
		defer close(a.serveDone)
		if err := a.http.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	log.Info("orderflow listening", "url", a.URL(), "db", cfg.DBPath, "durability", string(cfg.Durability),
		"transport", cfg.Transport, "contexts", strings.Join(cfg.Contexts, ","))
	return a, nil
}

// listen opens the server's socket on --addr, saying plainly when another
// process holds the address.
func listen(addr string) (net.Listener, error) { return flags.Listen("addr", addr) }

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
		switch {
		case a.http != nil: // serving: Serve returns once Shutdown closed the listener
			errs = append(errs, a.http.Shutdown(ctx))
			<-a.serveDone
		case a.ln != nil: // Start failed after listening, before serving
			a.ln.Close()
		}
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
			errs = append(errs, a.kafka.stop(ctx, a.store))
		}
		if a.stopProjections != nil {
			a.stopProjections()
			a.projectionsDone.Wait()
		}
		if a.db != nil {
			errs = append(errs, a.db.Close())
		}
		a.shutdownErr = errors.Join(errs...)
	})
	return a.shutdownErr
}

// readinessProblems are what keeps the service from being ready besides
// a stalled reader: a diverged stream set aside (two processes wrote one
// stream; it must be looked at), and split, the broker out of reach or a
// context not a member of its consumer group.
func (a *App) readinessProblems(ctx context.Context) []string {
	var out []string
	open, err := a.db.OpenDeadLetters(ctx)
	if err != nil {
		return []string{"dead letters unreadable: " + err.Error()}
	}
	if n := open[events.DivergedReader]; n > 0 {
		out = append(out, fmt.Sprintf("%d diverged stream event(s) set aside as dead letters of %q (two processes wrote one stream; see the deadLetters query)", n, events.DivergedReader))
	}
	if a.kafka != nil {
		out = append(out, a.kafka.ready(ctx)...)
	}
	if a.cdc != nil {
		if p := a.cdc.problem(); p != "" {
			out = append(out, "cdc: "+p)
		}
	}
	return out
}
