package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"orderflow/app/flags"
	"orderflow/app/kafkaflags"
	"orderflow/commands"
	"orderflow/commands/kafkabus"
	"orderflow/events"
	"orderflow/migrations"
	"orderflow/projections"
)

// replay is `orderflow replay --db PATH [--projection NAME]
// [--kafka-brokers B]`: rebuild read models offline, from position 0,
// straight from the store in batches. With --kafka-brokers the store is
// first brought up to date with every family topic of a split deployment
// (all of them, from where the copy got to: from their beginning for a new
// --db), so the read models are rebuilt from what the topics hold.
func replay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("orderflow replay", flag.ContinueOnError)
	dbPath := fs.String("db", envOr(getenv, "DB", "orderflow.db"), "SQLite database file (env ORDERFLOW_DB)")
	var only stringList
	fs.Var(&only, "projection", "projection to rebuild (repeatable; all when absent): "+strings.Join(projectionNames(), ", "))
	brokers := fs.String("kafka-brokers", envOr(getenv, "KAFKA_BROKERS", ""),
		"first copy every family topic of a split deployment into --db (created when missing), then rebuild (env ORDERFLOW_KAFKA_BROKERS)")
	partitions := fs.Int("kafka-partitions", 12, "partitions of the topics, as the services were started with")
	var security kafkaflags.Security
	kafkaflags.Register(fs, &security)
	err := flags.ParseArgs(fs, args)
	if err == nil {
		err = security.Load(getenv)
	}
	var cluster kafkabus.Cluster
	if err == nil {
		cluster, err = security.Cluster(flags.List(*brokers))
	}
	if err != nil {
		return flags.Exit("orderflow replay", err, stdout, stderr)
	}
	if _, err := os.Stat(*dbPath); err != nil && *brokers == "" {
		fmt.Fprintf(stderr, "orderflow replay: %v\n", err)
		return 1
	}
	var copied string
	if *brokers != "" {
		n, err := copyTopics(ctx, *dbPath, cluster, *partitions)
		if err != nil {
			fmt.Fprintln(stderr, "orderflow replay: copying the topics:", err)
			return 1
		}
		copied = fmt.Sprintf("; %d events copied from the topics first", n)
	}
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
	fmt.Fprintln(stderr, sum+copied)
	return 0
}

// copyTopics brings the store at path up to date with every family topic
// and returns how many events it added. The families are taken in the
// order their events cause one another (the catalog and the customers,
// then orders and payments, then the checks and inventory, then
// notifications), each up to its end before the next: the log keeps a
// cause before what it caused, as the read models expect when they are
// rebuilt from it (a result for an order the log does not hold yet would
// stop the orders read model). Within a family, each partition in order.
func copyTopics(ctx context.Context, path string, cluster kafkabus.Cluster, partitions int) (int64, error) {
	db, err := events.Open(ctx, path, events.Options{Migrate: migrations.Apply, Durability: events.DurabilityNormal})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	store := events.NewStore(db)
	before := db.Head()
	if err := copyKeys(ctx, db, cluster); err != nil {
		return 0, err
	}
	for _, families := range kafkabus.CausalStages() {
		if err := copyFamilies(ctx, store, cluster, partitions, families); err != nil {
			return 0, err
		}
	}
	return db.Head() - before, nil
}

// copyKeys copies the customers' keys and tombstones from the keys topic
// into the store's keyring, so that the rebuild opens what the topics hold
// sealed, and blanks whoever was forgotten since the copy was taken.
func copyKeys(ctx context.Context, db *events.DB, cluster kafkabus.Cluster) error {
	reg := commands.Registry()
	ring := events.NewKeyring(db)
	ring.Borrows = true
	reg.UseKeys(ring)
	run, stop := context.WithCancel(ctx)
	keys, err := kafkabus.StartKeys(ctx, run, cluster, ring, reg, db, slog.New(slog.DiscardHandler))
	stop()
	if err != nil {
		return err
	}
	<-keys.Stopped()
	return nil
}

// copyFamilies copies the families' topics into store up to their ends.
func copyFamilies(ctx context.Context, store *events.Store, cluster kafkabus.Cluster, partitions int, families []string) error {
	replica, err := kafkabus.NewReplica(ctx, store, cluster, partitions, families, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer replica.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- replica.Run(runCtx) }()
	caughtUp := replica.CatchUp(ctx, families...)
	stop()
	return errors.Join(caughtUp, <-done)
}

// allFamilies are the contexts that write events: a topic each, all of
// which the read models read.
func allFamilies() []string {
	var families []string
	for _, c := range commands.Contexts() {
		if c != commands.ContextAPI {
			families = append(families, c)
		}
	}
	return families
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
	reg := commands.Registry()
	reg.UseKeys(events.NewKeyring(db)) // forgotten customers rebuild blank
	runner := projections.NewRunner(store, reg, slog.New(slog.DiscardHandler), projections.All()...)
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
