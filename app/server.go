package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"orderflow/app/board"
	"orderflow/app/flags"
	"orderflow/commands"
	"orderflow/events"
	"orderflow/graph"
	"orderflow/graph/access"
	"orderflow/graph/graphiql"
	"orderflow/projections"
)

// listen opens the server's socket on --addr, saying plainly when another
// process holds the address.
func listen(addr string) (net.Listener, error) { return flags.Listen("addr", addr) }

// serveHTTP serves the routes on the socket Start opened, in the
// background until Shutdown: GraphQL (sending commands to api, reading
// views), the health and readiness checks and /metrics.
func (a *App) serveHTTP(api commands.API, views *projections.Views, feed *graph.OrderFeed, reg *events.Registry) error {
	scrub := a.db.Scrub
	if a.kafka != nil {
		scrub = func(ctx context.Context) error { return a.kafka.forgot(ctx, a.cfg, a.db) }
	}
	if events.Tracing() {
		api = commands.Traced(api)
	}
	resolver := &graph.Resolver{Commands: api, Views: views, Runner: a.runner, Store: a.store,
		Orders: feed, Log: projections.NewHistory(a.store, reg), WaitTimeout: a.cfg.WaitTimeout, Admit: a.pipeline.admit,
		ObservePlaceOrder: a.metrics.ObservePlaceOrder, Redeliver: a.pipeline.retry, Stats: a.metrics.stats, Scrub: scrub}
	mux, err := a.routes(resolver)
	if err != nil {
		return err
	}
	a.http = &http.Server{Handler: mux, ReadHeaderTimeout: min(10*time.Second, a.cfg.ReadTimeout),
		ReadTimeout: a.cfg.ReadTimeout, WriteTimeout: a.cfg.WriteTimeout, IdleTimeout: a.cfg.IdleTimeout}
	go func() {
		defer close(a.serveDone)
		if err := a.http.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// firstQuery is what GraphiQL opens on, rather than its generic welcome:
// a query a newcomer can run as it is, in an empty shop or a busy one,
// without arguments or variables. It shows what the system is about, the
// orders and their status, and the read models answering for them.
const firstQuery = `# Welcome to orderflow. Run this query with the ▶ button (or Ctrl-Enter):
# orders with their status and lines, and how far each read model (projection)
# has got through the event log. A new shop has no orders yet: the README's
# walkthrough registers a customer, adds a product and its stock and places an
# order, all from here. The Docs button lists every query, mutation and
# subscription.
query OrdersAndProjections {
  orders {
    edges {
      node {
        id
        customerId
        status
        totalCents
        lines { productId quantity }
        failureReasons
      }
    }
  }
  projections { name state lag }
}
`

// routes are what the server answers. Only the process that runs the api
// context serves GraphQL, its IDE and the board; every process answers
// /healthz, /readyz, /metrics and /admin/backup (admins: a copy of its
// database, see --seed-from), and /debug/pprof with --pprof.
func (a *App) routes(resolver *graph.Resolver) (*http.ServeMux, error) {
	verifier, err := a.verifier()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	if a.cfg.Runs(commands.ContextAPI) {
		mux.Handle("/graphql", graph.NewHandler(resolver, a.log, a.cfg.Limits, verifier))
		// GraphiQL, with every file it loads served from the binary.
		ide := graphiql.Handler("orderflow", "/graphql", firstQuery)
		mux.Handle("GET /{$}", ide)
		mux.Handle("GET "+graphiql.AssetsPath, ide)
		boardFiles := board.Handler()
		mux.Handle("GET "+board.Path, boardFiles)
		mux.Handle("GET "+board.Path+"/", boardFiles)
	}
	mux.Handle("GET "+backupPath, a.serveBackup(verifier))
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.Handle("GET /metrics", a.metrics.handler())
	mux.HandleFunc("GET /readyz", a.readyz)
	if a.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux, nil
}

// verifier checks the callers' tokens against --auth-secret; without one
// it is nil and every caller may do everything, which is said once, as a
// warning.
func (a *App) verifier() (*access.Verifier, error) {
	if a.cfg.AuthSecret == "" {
		a.log.Warn("access control is off (no --auth-secret): every caller may do everything; for development only")
		return nil, nil
	}
	return access.NewVerifier([]byte(a.cfg.AuthSecret), time.Now)
}

// healthz answers whether the process can read its database.
func (a *App) healthz(w http.ResponseWriter, r *http.Request) {
	if err := a.db.Reader().PingContext(r.Context()); err != nil {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}
