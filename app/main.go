package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"orderflow/app/backup"
	"orderflow/app/cdc"
	"orderflow/app/devbroker"
	"orderflow/app/load"
	"orderflow/app/verify"
	"orderflow/commands"
)

const usage = `orderflow: an event-sourced order system with a GraphQL API.

Usage:
  orderflow [serve] [flags]                    serve GraphQL (the default)
  orderflow replay --db PATH [--projection N]  rebuild read models offline from the event store
                   [--kafka-brokers B]        (split: from every family topic, copied into --db first)
  orderflow load --target URL [flags]          place orders against a running server and report throughput
  orderflow token --secret S --sub ID [flags]  print an access token for a server run with --auth-secret S
  orderflow cdc --pg DSN --db PATH [flags]     follow a legacy PostgreSQL database into the store
  orderflow verify --kafka-brokers B | --db P  check the shop's invariants over the whole event history
  orderflow backup --db PATH --out FILE        copy a database while its server runs (a consistent snapshot)
  orderflow devbroker [--addr H:P] [--data D]  run a Kafka-protocol broker for tests and demos (not production)

Run "orderflow serve -h", "orderflow replay -h", "orderflow load -h", "orderflow token -h",
"orderflow cdc -h", "orderflow verify -h", "orderflow backup -h" or "orderflow devbroker -h" for
the flags.
`

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stderr, usage)
		return 0
	}
	if len(args) > 0 && args[0] == "load" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return load.Main(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "cdc" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return cdc.Main(ctx, args[1:], os.Getenv, stderr)
	}
	if len(args) > 0 && args[0] == "devbroker" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return devbroker.Main(ctx, args[1:], os.Getenv, stderr)
	}
	if len(args) > 0 && args[0] == "verify" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return verify.Main(ctx, args[1:], os.Getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "backup" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return backup.Main(ctx, args[1:], os.Getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "replay" {
		return replay(args[1:], os.Getenv, stderr)
	}
	if len(args) > 0 && args[0] == "token" {
		return token(args[1:], os.Getenv, time.Now(), stdout, stderr)
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	cfg, err := ParseFlags("orderflow serve", args, os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "orderflow:", err)
		return 2
	}
	return serve(cfg, stderr)
}

func serve(cfg Config, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Logger = log
	a, err := Start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "orderflow:", err)
		return 1
	}
	if cfg.Runs(commands.ContextAPI) {
		fmt.Fprintf(stderr, "orderflow: listening on %s (GraphiQL at /, GraphQL at /graphql)\n", a.URL())
	} else {
		fmt.Fprintf(stderr, "orderflow: listening on %s (/healthz, /readyz and /metrics; GraphQL is the api context's)\n", a.URL())
	}
	<-ctx.Done()
	fmt.Fprintln(stderr, "orderflow: stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintln(stderr, "orderflow: stop:", err)
		return 1
	}
	fmt.Fprintln(stderr, "orderflow: stopped")
	return 0
}
