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
	"orderflow/app/flags"
	"orderflow/app/load"
	"orderflow/app/schemas"
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
  orderflow schemas [--out DIR]                write the JSON Schema of every event's data and command's arguments

A server running the api context (every server unless --contexts leaves it out) serves
GraphiQL at /, GraphQL at /graphql and the order board at /board; every server serves /healthz,
/readyz and /metrics.

Run "orderflow COMMAND -h" for the flags of a command (replay, load, token, cdc, verify, backup,
devbroker, schemas); the server's follow.
`

// A command is one of orderflow's subcommands: it runs with the arguments
// after its name until it is done or ctx ends (SIGINT or SIGTERM), and
// returns the process's exit code. Each ends a failed parse of its flags
// with flags.Exit, so -h and --help print the usage to stdout with 0 and a
// mistake goes to stderr with 2, whichever command it is.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// commandsByName are the subcommands; anything else is the server's flags.
var commandsByName = map[string]command{
	"serve": serveCommand,
	"load":  load.Main,
	"cdc": func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return cdc.Main(ctx, args, os.Getenv, stdout, stderr)
	},
	"devbroker": func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return devbroker.Main(ctx, args, os.Getenv, stdout, stderr)
	},
	"verify": func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return verify.Main(ctx, args, os.Getenv, stdout, stderr)
	},
	"backup": func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return backup.Main(ctx, args, os.Getenv, stdout, stderr)
	},
	"schemas": func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return schemas.Main(ctx, args, os.Getenv, stdout, stderr)
	},
	"replay": func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return replay(ctx, args, os.Getenv, stdout, stderr)
	},
	"token": func(_ context.Context, args []string, stdout, stderr io.Writer) int {
		return token(args, os.Getenv, time.Now(), stdout, stderr)
	},
}

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 && args[0] == "help" {
		// The server's usage starts with every command's.
		args = []string{"-h"}
	}
	if len(args) > 0 {
		if run, ok := commandsByName[args[0]]; ok {
			return run(ctx, args[1:], stdout, stderr)
		}
	}
	return serveCommand(ctx, args, stdout, stderr)
}

// serveCommand is `orderflow [serve] [flags]`.
func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ParseFlags("orderflow", args, os.Getenv)
	if err != nil {
		return flags.Exit("orderflow", err, stdout, stderr)
	}
	return serve(ctx, cfg, stderr)
}

func serve(ctx context.Context, cfg Config, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.Logger = log
	stopTracing, err := startTracing(ctx, cfg.Contexts, os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "orderflow:", err)
		return 1
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			fmt.Fprintln(stderr, "orderflow: tracing:", err)
		}
	}()
	a, err := Start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "orderflow:", err)
		return 1
	}
	if cfg.Runs(commands.ContextAPI) {
		fmt.Fprintf(stderr, "orderflow: listening on %s (GraphiQL at /, GraphQL at /graphql, the order board at /board)\n", a.URL())
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
