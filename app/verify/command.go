package verify

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"orderflow/app/flags"
	"orderflow/app/kafkaflags"
	"orderflow/commands"
	"orderflow/commands/kafkabus"
	"orderflow/events"
)

// Exit codes of Main.
const (
	ExitHolds  = 0 // every invariant holds
	ExitBroken = 1 // an invariant is broken, or a record or event is undecodable
	// ExitUsage is bad flags, or a history that could not be read (so
	// nothing was checked).
	ExitUsage = 2
)

const usage = `Usage: orderflow verify --kafka-brokers HOST:PORT[,HOST:PORT]
       orderflow verify --db PATH

Reads the whole event history and checks the invariants of the shop:

  1. every stream is linear: one event per version, versions 1..n
  2. every placed order has exactly one validation outcome (OrderValidated
     or OrderFailed; none only when it was cancelled while PENDING)
  3. stock: 0 ≤ reserved ≤ on hand after every event, and what each product
     holds is the lines of its VALIDATED and PAID orders
  4. every placed order's fraud check and customer check answered exactly once
  5. every payment received is the order's payment (OrderPaid) or, when the
     order ended CANCELLED or FAILED, refunded once

It prints each broken invariant with the streams and events involved, then a
summary line. Run it on a settled history (no order in flight): an order
still being validated is reported as not settled.

With --kafka-brokers it reads every family topic (orderflow.orders,
orderflow.inventory, ...) of a split deployment from the beginning to the
end offsets at start, committed records only, outside any consumer group;
an event delivered twice counts once. With --db it reads the SQLite log of
one process (all of it in one process; split, only the api service's log
holds every family). It writes nothing, but it holds the database like
replay does: stop the server first.

Exit status: 0 every invariant holds, 1 one is broken (or a record is not
an event), 2 bad usage or the history could not be read.

Flags (each falls back to ORDERFLOW_<NAME>, e.g. ORDERFLOW_KAFKA_BROKERS;
a flag on the command line wins, and chooses the source):
`

// Main is `orderflow verify`: it reads the history named by the flags,
// checks it and prints the report to stdout (errors to stderr). It returns
// the exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("orderflow verify", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	brokers := fs.String("kafka-brokers", "", "Kafka seed brokers of a split deployment, host:port[,host:port…] (env ORDERFLOW_KAFKA_BROKERS)")
	dbPath := fs.String("db", "", "SQLite event log of one process (env ORDERFLOW_DB)")
	limit := fs.Int("limit", 20, "violations printed per invariant; 0 prints all (env ORDERFLOW_LIMIT)")
	var security kafkaflags.Security
	kafkaflags.Register(fs, &security)
	err := flags.Parse(fs, args, getenv)
	if err == nil {
		err = security.Load(getenv)
	}
	if err != nil {
		return flags.Exit("orderflow verify", err, stdout, stderr)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch {
	case given["kafka-brokers"] && given["db"]:
		return usageError(stderr, "give --kafka-brokers or --db, not both")
	case given["kafka-brokers"]:
		*dbPath = ""
	case given["db"]:
		*brokers = ""
	case *brokers != "" && *dbPath != "":
		return usageError(stderr, "both ORDERFLOW_KAFKA_BROKERS and ORDERFLOW_DB are set: say which history to read with --kafka-brokers or --db")
	}
	brokerList := flags.List(*brokers)
	switch {
	case len(brokerList) == 0 && *dbPath == "":
		return usageError(stderr, "say which history to read: --kafka-brokers HOST:PORT[,HOST:PORT] or --db PATH")
	case *limit < 0:
		return usageError(stderr, "--limit must be 0 (all) or more")
	}

	start := time.Now()
	c := NewChecker(commands.Registry())
	if len(brokerList) > 0 {
		var cluster kafkabus.Cluster
		if cluster, err = security.Cluster(brokerList); err != nil {
			return usageError(stderr, err.Error())
		}
		_, err = ReadKafka(ctx, cluster, c)
	} else {
		_, err = ReadDB(ctx, *dbPath, c)
	}
	if err != nil {
		if errors.Is(err, events.ErrLocked) {
			err = fmt.Errorf("%s: %w; stop the server first (verify reads the log as replay does)", *dbPath, err)
		}
		fmt.Fprintln(stderr, "orderflow verify: reading the history:", err)
		return ExitUsage
	}
	rep := c.Report()
	Print(stdout, rep, *limit, time.Since(start))
	if !rep.Holds() {
		return ExitBroken
	}
	return ExitHolds
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "orderflow verify: %s (orderflow verify -h for help)\n", msg)
	return ExitUsage
}

// Print writes the report: one line per invariant that holds, a block per
// broken one with at most limit violations (0: all), and the summary line.
func Print(w io.Writer, rep Report, limit int, elapsed time.Duration) {
	block := func(title string, vs []Violation) {
		fmt.Fprintf(w, "BROKEN %s: %d violation(s)\n", title, len(vs))
		shown := vs
		if limit > 0 && len(vs) > limit {
			shown = vs[:limit]
		}
		for _, v := range shown {
			fmt.Fprintf(w, "  - %s\n", v.Message)
		}
		if len(shown) < len(vs) {
			fmt.Fprintf(w, "  … and %d more (--limit 0 prints all)\n", len(vs)-len(shown))
		}
	}
	if len(rep.Undecodable) > 0 {
		block("undecodable records and events", rep.Undecodable)
	}
	for _, inv := range rep.Invariants {
		title := fmt.Sprintf("%d. %s", inv.Number, inv.Name)
		if inv.Holds() {
			fmt.Fprintf(w, "ok     %s\n", title)
			continue
		}
		block(title, inv.Violations)
	}
	fmt.Fprintln(w, Summary(rep, elapsed))
}

// Summary is the report's last line: "verify: 123456 events in 1.2s
// (100000/s): 5 invariants hold", or how many are broken.
func Summary(rep Report, elapsed time.Duration) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(rep.Events+rep.Duplicates) / s
	}
	read := fmt.Sprintf("%d events", rep.Events)
	if rep.Duplicates > 0 {
		read += fmt.Sprintf(" (and %d redelivered, counted once)", rep.Duplicates)
	}
	var verdict string
	switch broken := rep.Broken(); {
	case broken == 0 && len(rep.Undecodable) == 0:
		verdict = fmt.Sprintf("%d invariants hold", len(rep.Invariants))
	default:
		var parts []string
		if broken > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d invariants broken", broken, len(rep.Invariants)))
		} else {
			parts = append(parts, fmt.Sprintf("%d invariants hold", len(rep.Invariants)))
		}
		if n := len(rep.Undecodable); n > 0 {
			parts = append(parts, fmt.Sprintf("%d undecodable", n))
		}
		verdict = strings.Join(parts, ", ")
	}
	return fmt.Sprintf("verify: %s in %.1fs (%.0f/s): %s", read, elapsed.Seconds(), rate, verdict)
}
