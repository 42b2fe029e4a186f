package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"orderflow/app/flags"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"orderflow/commands"
	"orderflow/events"
	"orderflow/migrations"
	"orderflow/projections"
)

// replay is `orderflow replay --db PATH [--projection NAME]`: rebuild read
// models offline, from position 0, straight from the store in batches.
func replay(args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("orderflow replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPath := fs.String("db", envOr(getenv, "DB", "orderflow.db"), "SQLite database file (env ORDERFLOW_DB)")
	var only stringList
	fs.Var(&only, "projection", "projection to rebuild (repeatable; all when absent): "+strings.Join(projectionNames(), ", "))
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "orderflow replay: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if _, err := os.Stat(*dbPath); err != nil {
		fmt.Fprintf(stderr, "orderflow replay: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := runReplay(ctx, *dbPath, only, stderr)
	if err != nil {
		if errors.Is(err, events.ErrLocked) {
			fmt.Fprintf(stderr, "orderflow replay: %s: %v.\nStop the server first, or rebuild online while it serves: "+
				"mutation { rebuildProjection(name: \"orders\") { state } }\n", *dbPath, err)
		} else {
			fmt.Fprintln(stderr, "orderflow replay:", err)
		}
		return 1
	}
	fmt.Fprintln(stderr, sum)
	return 0
}

// runReplay rebuilds the named projections (all when none) of the database
// at path and returns the summary line.
func runReplay(ctx context.Context, path string, only []string, progressOut io.Writer) (string, error) {
	db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply, Durability: events.DurabilityNormal})
	if err != nil {
		return "", err
	}
	defer db.Close()
	store := events.NewStore(db)
	runner := projections.NewRunner(store, commands.Registry(), slog.New(slog.DiscardHandler), projections.All()...)
	if err := runner.Init(ctx); err != nil {
		return "", err
	}
	var last time.Time
	var final projections.Progress
	err = runner.Rebuild(ctx, only, func(p projections.Progress) {
		final = p
		if progressOut == nil || time.Since(last) < 500*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintln(progressOut, progressLine(p))
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("replay done: %d projections (%s), %d events in %.2fs, %.0f events/s",
		len(final.Projections), strings.Join(final.Projections, ", "), final.Done,
		final.Elapsed.Seconds(), final.EventsPerSecond()), nil
}

func progressLine(p projections.Progress) string {
	pct, eta := 100.0, "unknown"
	if p.Total > 0 {
		pct = 100 * float64(p.Done) / float64(p.Total)
	}
	switch rate := p.EventsPerSecond(); {
	case p.Done >= p.Total:
		eta = "0s"
	case rate > 0:
		eta = (time.Duration(float64(p.Total-p.Done)/rate) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("replay: %d/%d events (%.1f%%), %.0f events/s, ETA %s", p.Done, p.Total, pct, p.EventsPerSecond(), eta)
}

func projectionNames() []string {
	var out []string
	for _, d := range projections.All() {
		out = append(out, d.Name)
	}
	return out
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(flags.EnvPrefix + name); v != "" {
		return v
	}
	return def
}
