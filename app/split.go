package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"orderflow/commands"
	"orderflow/commands/kafkabus"
	"orderflow/events"
	"orderflow/migrations"
	"orderflow/projections"
)

// kafkaBus is what a process runs when split into services: the replica of
// the families it reads, the command sender of the API, and a consumer
// group per context, each deciding in Kafka transactions.
type kafkaBus struct {
	// stages are the outboxes of the contexts (see useStages).
	stages    map[string]*kafkabus.Stage
	publisher message.Publisher
	replica   *kafkabus.Replica
	keys      *kafkabus.Keys
	sender    *kafkabus.Sender
	feeds     []*kafkabus.Feed
	// cluster is how the brokers are reached.
	cluster kafkabus.Cluster

	rest                context.Context // ends when stop stops the replica and replies
	stopFeeds, stopRest context.CancelFunc
	feedsDone, restDone sync.WaitGroup
}

// openLog opens the process's log. A transactional member (split, every
// context scales out) writes its log only from committed transactions, so
// it keeps its log across crashes. A log written by an earlier version, which
// appended decisions before publishing them, may hold decisions it never
// published: the records that caused them were not committed, so the
// group hands them out again, maybe to another member that decides them
// anew, and this member's would contradict those. Such a log is moved
// aside, not deleted, and the new one is filled from the topics as a new
// member's is.
//
// seeded says the file is a backup a running member just sent (--seed-from),
// checked with quick_check on its way: opening it skips that check, and
// the count of what it left unpublished. lock is the database's lock,
// taken before; the log keeps it.
func openLog(ctx context.Context, cfg Config, seeded bool, lock *events.Lock, log *slog.Logger) (*events.DB, error) {
	opts := events.Options{Durability: cfg.Durability, Migrate: migrations.Apply}
	first := opts
	first.Checked, first.Lock = seeded, lock
	db, err := events.Open(ctx, cfg.DBPath, first)
	if err != nil || !cfg.Split() {
		return db, err
	}
	if seeded {
		// A copy a running member sent (--seed-from): that member counted
		// nothing unpublished as it started and has written its log only
		// from committed transactions since, so nothing is to count here
		// (counting scans every event after its start: 0.1 s at 1M).
		if err := kafkabus.MarkPublished(ctx, db); err != nil {
			return nil, errors.Join(err, db.Close())
		}
		return db, nil
	}
	n, err := kafkabus.Unpublished(ctx, db)
	if err == nil && n == 0 {
		// What is counted next time starts here.
		if err := kafkabus.MarkPublished(ctx, db); err != nil {
			return nil, errors.Join(err, db.Close())
		}
		return db, nil
	}
	var openLetters map[string]int
	if err == nil {
		openLetters, err = db.OpenDeadLetters(ctx)
	}
	if cerr := db.Close(); err != nil || cerr != nil {
		return nil, errors.Join(err, cerr)
	}
	aside, err := events.MoveAside(cfg.DBPath, ".unpublished-"+time.Now().UTC().Format("20060102T150405.000Z"))
	if err != nil {
		return nil, err
	}
	log.Warn("kafka: this member stopped with decisions it had not published; it starts over from the topics "+
		"(their causes are handed out again, maybe to another member), its old log moved aside",
		"unpublished", n, "moved_to", aside, "open_dead_letters_left_there", openLetters)
	return events.Open(ctx, cfg.DBPath, opts)
}

// feed is the consumer group of a context this process runs, nil for none.
func (k *kafkaBus) feed(context string) *kafkabus.Feed {
	for _, f := range k.feeds {
		if f.Context == context {
			return f
		}
	}
	return nil
}

// useStages gives each context of a process split into services its
// outbox: split, every context decides in Kafka transactions (every one
// scales out, TestEveryContextScalesOut), so every decision is caused by a
// record of its group (an event, or a command sent to the context) and is
// published with that record's offset, fenced (see
// kafkabus.Feed.runTransactions). The log is a cache of the topics: what a
// context decides reaches it once the transaction committed.
func (k *kafkaBus) useStages(cfg Config, store *events.Store, handlers *commands.Handlers) {
	if !cfg.Split() {
		return
	}
	k.stages = map[string]*kafkabus.Stage{}
	for _, c := range cfg.Contexts {
		if commands.Lookup(c).Streams == "" {
			continue
		}
		k.stages[c] = kafkabus.NewStage(c, store)
		handlers.UseOutbox(c, k.stages[c])
	}
}

// transactionalID names a member's transactional producer of a context:
// the same for the same --db on the same host, so a member restarted on
// its database fences its previous incarnation (and aborts what that one
// left open) as it starts.
func transactionalID(cfg Config, context string) string {
	path, err := filepath.Abs(cfg.DBPath)
	if err != nil {
		path = cfg.DBPath
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host + "\x00" + path))
	return kafkabus.GroupName(context) + "." + hex.EncodeToString(sum[:8])
}

// replicaFamilies are the families a process copies: what its contexts
// read of others (see commands.Needs), and the own family of each context
// it runs, which it must hold when it takes partitions over (its consumer
// group reads only its partitions, and imports only what its reaction
// takes).
func replicaFamilies(cfg Config) []string {
	var out []string
	for _, c := range cfg.Contexts {
		for _, f := range commands.Needs(c) {
			if (f == c || !cfg.Runs(f)) && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// restoredFamilies are the families a new member restores from their
// context's changelog rather than copy from their beginning: those of the
// contexts it runs that keep one, when nothing else of the process reads
// the family's events (the API's read models, a copy another context
// reads: they need the whole history).
func restoredFamilies(cfg Config) []string {
	var out []string
	for _, c := range cfg.Contexts {
		if !commands.KeepsChangelog(c) {
			continue
		}
		needed := false
		for _, other := range cfg.Contexts {
			if other != c && slices.Contains(commands.Needs(other), c) {
				needed = true
			}
		}
		if !needed {
			out = append(out, c)
		}
	}
	return out
}

// fedReaction says a reaction is fed by its context's consumer group:
// split, always (it decides in its group's transactions); in one process
// it reads the log.
func fedReaction(cfg Config, _ events.ConsumerSpec) bool { return cfg.Split() }

// readModels are the projections a process keeps: one process keeps them
// all; split, those its contexts declare (commands.Context.ReadModels: the
// API all of them), and always the products read model, the price copy
// the command handlers check products and price orders against. A service
// split off without the API keeps nothing else: nobody queries the others
// there, and they would be built from part of their streams (an inventory
// service receives only the order events of its products' partitions).
func readModels(cfg Config) []projections.Definition {
	if !cfg.Split() {
		return projections.All()
	}
	keep := map[string]bool{}
	for _, d := range projections.PricesDefinitions() {
		keep[d.Name] = true
	}
	for _, c := range cfg.Contexts {
		for _, name := range commands.Lookup(c).ReadModels {
			keep[name] = true
		}
	}
	var out []projections.Definition
	for _, d := range projections.All() {
		if keep[d.Name] {
			out = append(out, d)
		}
	}
	return out
}

// deploymentLag is, for an API process split into services, the
// validation lag of the whole deployment that admission bounds: how long
// the oldest order still PENDING in this replica's read model has waited,
// whichever service (or the broker) it waits for. That is the lag as the
// shop feels it, in time; a consumer group's lag from the broker counts
// records, and a transactional group's committed offset trails its topic's
// end by the commit markers even when it is idle. It includes this
// replica's projection lag, and compares this clock with the orders
// members' (keep the machines' clocks in step). nil in one process, where
// every reaction is here, and in a process without the API.
func deploymentLag(cfg Config, views *projections.Views) func(ctx context.Context) (time.Duration, error) {
	if !cfg.Split() || !cfg.Runs(commands.ContextAPI) {
		return nil
	}
	return func(ctx context.Context) (time.Duration, error) {
		at, ok, err := views.OldestPending(ctx)
		if err != nil || !ok {
			return 0, err
		}
		return max(time.Since(at), 0), nil
	}
}

// feedTopics are, per context this process runs (but the API), the topics
// its reaction is fed from, and whether they are re-keyed.
func feedTopics(cfg Config, specs []events.ConsumerSpec) (map[string][]string, map[string]bool) {
	topics, rekeyed := map[string][]string{}, map[string]bool{}
	for _, c := range cfg.Contexts {
		if c == commands.ContextAPI {
			continue
		}
		topics[c] = nil
		for _, spec := range specs {
			if commands.ReactionContext(spec.Name) != c || !fedReaction(cfg, spec) {
				continue
			}
			for _, t := range spec.Types {
				topic, re := kafkabus.ReactionTopic(c, commands.TypeContext(t))
				rekeyed[c] = rekeyed[c] || re
				if !slices.Contains(topics[c], topic) {
					topics[c] = append(topics[c], topic)
				}
			}
		}
	}
	return topics, rekeyed
}

// connectKafka makes sure the topics exist and starts the replies reader; the feeds start later (startFeeds), once the reactions run.
func connectKafka(ctx context.Context, cfg Config, store *events.Store, reg *events.Registry, log *slog.Logger) (*kafkaBus, error) {
	cluster, err := cfg.KafkaCluster()
	if err != nil {
		return nil, err
	}
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := kafkabus.Reach(setup, cluster); err != nil {
		return nil, fmt.Errorf("kafka (--kafka-brokers, --kafka-tls-*, --kafka-sasl-*): %w", err)
	}
	admin, err := kafkabus.NewAdminClient(cluster)
	if err != nil {
		return nil, err
	}
	err = kafkabus.EnsureTopics(setup, admin, cfg.KafkaTopics())
	if err == nil {
		err = kafkabus.EnsureKeysTopic(setup, admin, cfg.KafkaTopics())
	}
	admin.Close()
	if err == nil {
		err = kafkabus.CheckPlacement(setup, cluster)
	}
	if err != nil {
		return nil, fmt.Errorf("kafka at %s (is it running? --kafka-brokers, --kafka-tls-*, --kafka-sasl-*): %w", cluster, err)
	}
	k := &kafkaBus{cluster: cluster}
	if k.publisher, err = kafkabus.NewPublisher(cluster); err != nil {
		return nil, err
	}
	if cfg.Runs(commands.ContextAPI) {
		if k.sender, err = kafkabus.NewSender(setup, store, k.publisher, cluster, log); err != nil {
			k.publisher.Close()
			return nil, err
		}
	}
	rest, stopRest := context.WithCancel(context.Background())
	k.rest, k.stopRest = rest, stopRest
	// Customers' keys: made by the processes that run the customers
	// context, copied by every other from the keys topic before anything
	// here reads a customer's events.
	ring := reg.Keys()
	ring.Borrows = !cfg.Runs(commands.ContextCustomers)
	if k.keys, err = kafkabus.StartKeys(setup, rest, cluster, ring, reg, store.DB(), log); err != nil {
		stopRest()
		k.publisher.Close()
		return nil, err
	}
	if k.sender != nil {
		k.restDone.Go(func() {
			if err := k.sender.Run(rest); err != nil {
				log.Error("kafka replies reader stopped", "err", err)
			}
		})
	}
	return k, nil
}

// forgot finishes an erasure in this process, once the API's read models
// show it: this process's copy of the key is gone (the tombstone, published
// before the customers context answered, has been read), the write-ahead
// log is scrubbed, and the customers' command topic loses the commands
// carried out, which held the customer's data in the clear.
func (k *kafkaBus) forgot(ctx context.Context, cfg Config, db *events.DB) error {
	if err := k.keys.CatchUp(ctx); err != nil {
		return err
	}
	if err := db.Scrub(ctx); err != nil {
		return err
	}
	cl, err := kafkabus.NewAdminClient(k.cluster)
	if err != nil {
		return err
	}
	defer cl.Close()
	return kafkabus.TrimCommands(ctx, cl, commands.ContextCustomers)
}

// startReplica starts copying the families this process reads.
func (k *kafkaBus) startReplica(ctx context.Context, cfg Config, store *events.Store, log *slog.Logger) error {
	for _, c := range restoredFamilies(cfg) {
		if _, err := kafkabus.RestoreFromChangelog(ctx, store, k.cluster, cfg.KafkaPartitions, c, log); err != nil {
			return fmt.Errorf("restore %s from its changelog: %w", c, err)
		}
	}
	var err error
	if k.replica, err = kafkabus.NewReplica(ctx, store, k.cluster, cfg.KafkaPartitions, replicaFamilies(cfg), log); err != nil {
		return err
	}
	// The API's read models fold what an event caused after its cause (a
	// result into the row its order's placement made): its copy keeps
	// causes first, whatever the topics' relative pace.
	k.replica.Causal = cfg.Runs(commands.ContextAPI)
	rest := k.rest
	k.restDone.Go(func() {
		defer k.replica.Close()
		if err := k.replica.Run(rest); err != nil {
			log.Error("kafka replica stopped", "err", err)
		}
	})
	return nil
}

// startFeeds joins a consumer group for each context this process runs
// (but the API, which reads through the replica).
func (k *kafkaBus) startFeeds(cfg Config, store *events.Store, reg *events.Registry, handlers *commands.Handlers, p *pipeline, runner *projections.Runner, log *slog.Logger) error {
	ctx, stop := context.WithCancel(context.Background())
	k.stopFeeds = stop
	for _, c := range cfg.Contexts {
		if c == commands.ContextAPI {
			continue
		}
		f := &kafkabus.Feed{Context: c, Store: store, Registry: reg, Handlers: handlers, Replica: k.replica,
			ReadModelsAt: runner.WaitForPrices, Stage: k.stages[c], TransactionalID: transactionalID(cfg, c),
			Partitions: cfg.KafkaPartitions, Log: log, JoinAfter: k.replica.Copied()}
		for _, spec := range handlers.Consumers() {
			if commands.ReactionContext(spec.Name) == c && fedReaction(cfg, spec) {
				f.Reaction = p.consumer(spec.Name)
			}
		}
		topics, rekeyed := feedTopics(cfg, handlers.Consumers())
		f.Topics, f.Repartitioned = topics[c], rekeyed[c]
		if err := f.Start(k.cluster); err != nil {
			return err
		}
		k.feeds = append(k.feeds, f)
		k.feedsDone.Go(func() {
			if err := f.Run(ctx); err != nil {
				log.Error("kafka feed stopped", "context", c, "err", err)
			}
		})
	}
	if k.sender != nil {
		k.sender.CarryOutLocally(k.feeds)
	}
	return nil
}

// send carries a command to the process that runs its context, waiting
// at most timeout.
func (k *kafkaBus) send(timeout time.Duration) func(ctx context.Context, cmd commands.Command) (commands.Result, error) {
	return func(ctx context.Context, cmd commands.Command) (commands.Result, error) {
		if k.sender == nil {
			return commands.Result{}, errors.New("this process does not run the api context and sends no commands")
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return k.sender.Send(ctx, cmd)
	}
}

// stopFeedsNow leaves the consumer groups (committing what is done).
func (k *kafkaBus) stopFeedsNow() {
	if k.stopFeeds != nil {
		k.stopFeeds()
		k.feedsDone.Wait()
	}
}

// stop stops the replica and the replies reader.
func (k *kafkaBus) stop() error {
	var err error
	if k.stopRest != nil {
		k.stopRest()
		k.restDone.Wait()
	}
	if k.publisher != nil {
		err = errors.Join(err, k.publisher.Close())
	}
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// collectors are the split's metrics: per context, its transactions and
// what its consumer group holds uncommitted.
func (k *kafkaBus) collectors() []prometheus.Collector {
	var out []prometheus.Collector
	for _, f := range k.feeds {
		labels := prometheus.Labels{"context": f.Context}
		out = append(out,
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "orderflow_kafka_transactions_committed_total", ConstLabels: labels,
				Help: "Transactions a context's consumer group committed (decisions, replies and input offsets together).",
			}, func() float64 { c, _, _ := f.TransactionStats(); return float64(c) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "orderflow_kafka_transactions_aborted_total", ConstLabels: labels,
				Help: "Transactions aborted (a rebalance, a member fenced after it lost its partitions, a failed produce); their records come again.",
			}, func() float64 { _, a, _ := f.TransactionStats(); return float64(a) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "orderflow_kafka_decisions_dropped_total", ConstLabels: labels,
				Help: "Decisions staged in transactions that aborted: they never took effect anywhere.",
			}, func() float64 { _, _, d := f.TransactionStats(); return float64(d) }))
		for _, outcome := range []string{"carried_out", "handed_back"} {
			out = append(out, prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "orderflow_kafka_local_commands_total", ConstLabels: prometheus.Labels{"context": f.Context, "outcome": outcome},
				Help: "Commands of this process's API offered to its own member of the context (the key's partition is its): carried out there without crossing Kafka, or handed back to take the topic.",
			}, func() float64 {
				carried, handedBack := f.LocalCommands()
				if outcome == "carried_out" {
					return float64(carried)
				}
				return float64(handedBack)
			}))
		}
		out = append(out,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "orderflow_kafka_records_in_hand", ConstLabels: labels,
				Help: "Records a context's consumer group took and has not committed (not handled, or not yet published what they caused).",
			}, func() float64 { n, _ := f.InHand(time.Now()); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "orderflow_kafka_oldest_in_hand_seconds", ConstLabels: labels,
				Help: "Age of the oldest record a context's consumer group holds uncommitted; 0 when none.",
			}, func() float64 { _, age := f.InHand(time.Now()); return age.Seconds() }))
	}
	return out
}

// ready lists what keeps the split from working: the broker out of reach,
// the first copy of the topics into the log not done (the read models and
// decisions would see part of the history), or a context not (yet) a
// member of its consumer group.
func (k *kafkaBus) ready(ctx context.Context) []string {
	var out []string
	if k.replica != nil {
		if err := k.replica.Ping(ctx); err != nil {
			return []string{err.Error()}
		}
		if err := k.replica.FirstCopy(); err != nil {
			out = append(out, err.Error())
		}
	}
	for _, f := range k.feeds {
		if err := f.Ready(ctx); err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}
