package app

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"orderflow/app/cdc"
	"orderflow/app/flags"
	"orderflow/app/kafkaflags"
	"orderflow/commands"
	"orderflow/commands/kafkabus"
	"orderflow/domain/fraud"
	"orderflow/domain/notification"
	"orderflow/domain/order"
	"orderflow/events"
	"orderflow/graph"
	"orderflow/graph/access"
)

// Config is everything the service can be told, built once at start.
type Config struct {
	Addr            string
	DBPath          string
	FraudLimitCents int64
	FraudWindow     time.Duration
	WaitTimeout     time.Duration
	// JoinWindow is how far apart an order's validation and payment may be
	// for its confirmation to be sent.
	JoinWindow time.Duration
	// ValidationDeadline is how long an order may stay PENDING before it
	// fails with VALIDATION_TIMEOUT; PaymentDeadline how long a VALIDATED
	// order may wait for its payment before it is cancelled with
	// PAYMENT_TIMEOUT. Zero turns one off.
	ValidationDeadline, PaymentDeadline time.Duration
	Durability                          events.Durability
	// BusPartitions is how many lanes each reaction spreads its keys over:
	// one key's events are handled in order by one lane, different keys in
	// parallel (the partitions of a topic, in Kafka terms).
	BusPartitions int
	// MaxValidationLag is the admission bound of placeOrder: while the
	// validation reactions hold an event older than this, new orders wait
	// (at most WaitTimeout) before they are accepted.
	MaxValidationLag time.Duration
	// StallAfter is how long a reaction or projection may make no progress
	// while behind the head before /readyz reports the service not ready.
	StallAfter time.Duration
	// Pprof serves Go's profiler at /debug/pprof/ on the same address.
	Pprof bool
	// ReadTimeout bounds reading one request, headers and body; WriteTimeout
	// bounds a request from its headers to its answer, so it must leave room
	// for the body and for a mutation's waits; IdleTimeout bounds a
	// keep-alive connection between requests. WebSocket subscriptions are
	// not bound by the first two.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Limits bound what one GraphQL request may ask (body, complexity,
	// aliases, mutations), the parsed-query cache, the WebSocket init wait
	// and introspection.
	Limits graph.Limits
	// AuthSecret turns access control on: every request must carry an
	// HS256 token signed with it (see graph/access). Empty serves everyone
	// as admin, for development.
	AuthSecret string
	// SeedFrom, split into services, is where an absent --db comes from:
	// the address of a running process of the same contexts whose
	// database it starts as a copy of (GET /admin/backup), so that the new
	// process copies only what the topics hold beyond it; "auto" (the
	// default) for such a process found on the members topic, when one
	// is; "none" or "" to copy the topics from their beginning.
	SeedFrom string
	// AdvertiseURL, split into services, is the address other processes
	// reach this one at, said on the members topic for new members to
	// seed from: "" for this server's own (with the machine's host name
	// when it listens on every interface), "none" to say nothing.
	AdvertiseURL string
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger

	// Transport is how the contexts talk: "inproc" (one process, the log
	// read directly) or "kafka" (split into services over Kafka).
	Transport string
	// KafkaBrokers are the seed brokers, with Transport "kafka".
	KafkaBrokers []string
	// KafkaPartitions is the number of partitions of the topics created.
	KafkaPartitions int
	// KafkaReplicationFactor and KafkaMinInsyncReplicas are those of the
	// topics created (0: kafkabus.TopicSettings' defaults); an existing
	// topic is checked against them when they are set.
	KafkaReplicationFactor, KafkaMinInsyncReplicas int
	// KafkaSecurity is how the brokers are reached (TLS, SASL).
	KafkaSecurity kafkaflags.Security
	// KafkaFetchLinger is how long the broker may hold a fetch to gather
	// records (kafkabus.Cluster.FetchLinger); 0 for none.
	KafkaFetchLinger time.Duration
	// Contexts are the bounded contexts this process runs (all by default).
	Contexts []string
	// CDCPG, when set, is a legacy PostgreSQL database the server follows
	// by change data capture (as `orderflow cdc` does), writing through its
	// own writer.
	CDCPG string
	// CDCSource is the slot, the publication and the table mappings of
	// CDCPG, taken from the flags `orderflow cdc` has for them.
	CDCSource cdc.Source
}

// Transports.
const (
	TransportInproc = "inproc"
	TransportKafka  = "kafka"
)

// Runs says whether this process runs a context.
func (c Config) Runs(context string) bool { return slices.Contains(c.Contexts, context) }

// Split says the process runs over Kafka.
func (c Config) Split() bool { return c.Transport == TransportKafka }

// DefaultConfig is what `go run .` uses with no flags and no environment.
// It listens on localhost only: without an auth secret the server is open.
func DefaultConfig() Config {
	return Config{
		Addr:               "localhost:8080",
		DBPath:             "orderflow.db",
		FraudLimitCents:    fraud.DefaultLimitCents,
		FraudWindow:        fraud.DefaultWindow,
		WaitTimeout:        5 * time.Second,
		JoinWindow:         notification.DefaultJoinWindow,
		ValidationDeadline: order.DefaultValidationDeadline,
		PaymentDeadline:    order.DefaultPaymentDeadline,
		Durability:         events.DurabilityFull,
		BusPartitions:      8,
		MaxValidationLag:   100 * time.Millisecond,
		StallAfter:         30 * time.Second,
		ReadTimeout:        10 * time.Second,
		WriteTimeout:       60 * time.Second,
		IdleTimeout:        2 * time.Minute,
		Transport:          TransportInproc,
		SeedFrom:           seedAuto,
		KafkaPartitions:    12,
		KafkaFetchLinger:   10 * time.Millisecond,
		Contexts:           commands.Contexts(),
		CDCSource:          cdc.DefaultSource(),
		Limits: graph.Limits{
			MaxBodyBytes:         1 << 20,
			MaxComplexity:        10000,
			MaxAliases:           200,
			MaxMutations:         10,
			QueryCacheBytes:      2 << 20,
			WebsocketInitTimeout: 10 * time.Second,
			// On, for development and GraphiQL; turn it off in production.
			Introspection: true,
		},
	}
}

// ParseFlags reads flags, falling back to ORDERFLOW_* environment variables
// and then to the defaults. A flag given on the command line wins.
func ParseFlags(name string, args []string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fmt.Fprintln(fs.Output(), "\nFlags of orderflow [serve]:")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to serve HTTP on (env ORDERFLOW_ADDR)")
	fs.StringVar(&cfg.DBPath, "db", cfg.DBPath, "SQLite database file (env ORDERFLOW_DB)")
	fs.StringVar(&cfg.CDCPG, "cdc-pg", cfg.CDCPG,
		"follow this legacy PostgreSQL database by change data capture inside the server, as orderflow cdc does "+
			"(slot, publication and tables as --slot, --publication, --products and --customers say); "+
			"the password from PGPASSWORD or ~/.pgpass (env ORDERFLOW_CDC_PG)")
	cdc.SourceFlags(fs, &cfg.CDCSource, "with --cdc-pg")
	fs.Int64Var(&cfg.FraudLimitCents, "fraud-limit-cents", cfg.FraudLimitCents,
		"most a customer may order within the fraud window, in cents (env ORDERFLOW_FRAUD_LIMIT_CENTS)")
	fs.DurationVar(&cfg.FraudWindow, "fraud-window", cfg.FraudWindow, "trailing fraud window (env ORDERFLOW_FRAUD_WINDOW)")
	fs.DurationVar(&cfg.WaitTimeout, "wait-timeout", cfg.WaitTimeout,
		"longest a mutation waits for read models or validation (env ORDERFLOW_WAIT_TIMEOUT)")
	fs.DurationVar(&cfg.JoinWindow, "join-window", cfg.JoinWindow,
		"longest gap between an order's validation and payment for its confirmation to be sent (env ORDERFLOW_JOIN_WINDOW)")
	fs.DurationVar(&cfg.ValidationDeadline, "validation-deadline", cfg.ValidationDeadline,
		"a PENDING order not validated this long after its placement fails with VALIDATION_TIMEOUT, its stock released; 0: never (env ORDERFLOW_VALIDATION_DEADLINE)")
	fs.DurationVar(&cfg.PaymentDeadline, "payment-deadline", cfg.PaymentDeadline,
		"a VALIDATED order not paid this long after its validation is cancelled with PAYMENT_TIMEOUT, its stock released; 0: never (env ORDERFLOW_PAYMENT_DEADLINE)")
	fs.IntVar(&cfg.BusPartitions, "bus-partitions", cfg.BusPartitions,
		"lanes per reaction: keys are spread over them, each lane handles its keys in order (env ORDERFLOW_BUS_PARTITIONS)")
	fs.DurationVar(&cfg.MaxValidationLag, "max-validation-lag", cfg.MaxValidationLag,
		"placeOrder waits while validation lags by more than this (env ORDERFLOW_MAX_VALIDATION_LAG)")
	fs.DurationVar(&cfg.StallAfter, "stall-after", cfg.StallAfter,
		"/readyz fails when a reaction or projection makes no progress this long while behind (env ORDERFLOW_STALL_AFTER)")
	fs.BoolVar(&cfg.Pprof, "pprof", cfg.Pprof, "serve the Go profiler at /debug/pprof/ (env ORDERFLOW_PPROF)")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", cfg.ReadTimeout,
		"longest reading one request may take, headers and body (env ORDERFLOW_READ_TIMEOUT)")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", cfg.WriteTimeout,
		"longest from a request's headers to its answer; above read-timeout + 2 × wait-timeout (env ORDERFLOW_WRITE_TIMEOUT)")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout,
		"longest a keep-alive connection stays open between requests (env ORDERFLOW_IDLE_TIMEOUT)")
	fs.Int64Var(&cfg.Limits.MaxBodyBytes, "max-body-bytes", cfg.Limits.MaxBodyBytes,
		"largest request body, in bytes; larger ones are answered 413 (env ORDERFLOW_MAX_BODY_BYTES)")
	fs.IntVar(&cfg.Limits.MaxComplexity, "max-complexity", cfg.Limits.MaxComplexity,
		"highest complexity of one operation: a field costs 1, a list its page size times its fields (env ORDERFLOW_MAX_COMPLEXITY)")
	fs.IntVar(&cfg.Limits.MaxAliases, "max-aliases", cfg.Limits.MaxAliases,
		"most aliased fields in one request (env ORDERFLOW_MAX_ALIASES)")
	fs.IntVar(&cfg.Limits.MaxMutations, "max-mutations", cfg.Limits.MaxMutations,
		"most mutations in one request (env ORDERFLOW_MAX_MUTATIONS)")
	fs.Int64Var(&cfg.Limits.QueryCacheBytes, "query-cache-bytes", cfg.Limits.QueryCacheBytes,
		"bytes of query text whose parsed documents are cached (env ORDERFLOW_QUERY_CACHE_BYTES)")
	fs.DurationVar(&cfg.Limits.WebsocketInitTimeout, "ws-init-timeout", cfg.Limits.WebsocketInitTimeout,
		"longest a WebSocket may stay open without sending connection_init (env ORDERFLOW_WS_INIT_TIMEOUT)")
	fs.BoolVar(&cfg.Limits.Introspection, "introspection", cfg.Limits.Introspection,
		"answer GraphQL introspection (__schema, __type); turn off in production (env ORDERFLOW_INTROSPECTION)")
	fs.StringVar(&cfg.AuthSecret, "auth-secret", cfg.AuthSecret,
		"turns access control on: requests need a JWT signed with this secret, at least 32 bytes (env ORDERFLOW_AUTH_SECRET)")
	fs.StringVar(&cfg.SeedFrom, "seed-from", cfg.SeedFrom,
		"split: when --db does not exist, start it as a backup of the process at this address (http://host:port) of the same contexts; "+
			"auto: of such a process found on the members topic, when one is; none: copy the topics from their beginning (env ORDERFLOW_SEED_FROM)")
	fs.StringVar(&cfg.AdvertiseURL, "advertise-url", cfg.AdvertiseURL,
		"split: the address (http://host:port) other processes reach this one at, said on the members topic for new members to start from a copy of its database; "+
			"empty: this server's own --addr; none: say nothing (env ORDERFLOW_ADVERTISE_URL)")
	fs.Var(&cfg.Durability, "durability",
		"full: no acknowledged write lost even on power loss; normal: faster, lost only on power loss (env ORDERFLOW_DURABILITY)")

	fs.StringVar(&cfg.Transport, "transport", cfg.Transport,
		"inproc: one process, contexts talk through the log; kafka: split into services over Kafka (env ORDERFLOW_TRANSPORT)")
	brokers := fs.String("kafka-brokers", "", "Kafka seed brokers, host:port[,host:port…], for --transport kafka (env ORDERFLOW_KAFKA_BROKERS)")
	fs.IntVar(&cfg.KafkaPartitions, "kafka-partitions", cfg.KafkaPartitions,
		"partitions of the topics orderflow creates when missing (env ORDERFLOW_KAFKA_PARTITIONS)")
	fs.IntVar(&cfg.KafkaReplicationFactor, "kafka-replication-factor", cfg.KafkaReplicationFactor,
		"replication factor of the topics orderflow creates; 0: 3, or the number of brokers when fewer (env ORDERFLOW_KAFKA_REPLICATION_FACTOR)")
	fs.IntVar(&cfg.KafkaMinInsyncReplicas, "kafka-min-insync-replicas", cfg.KafkaMinInsyncReplicas,
		"min.insync.replicas of the topics orderflow creates; 0: one less than the replication factor, at least 1 (env ORDERFLOW_KAFKA_MIN_INSYNC_REPLICAS)")
	kafkaflags.Register(fs, &cfg.KafkaSecurity)
	fs.DurationVar(&cfg.KafkaFetchLinger, "kafka-fetch-linger", cfg.KafkaFetchLinger,
		"how long the broker may hold a fetch to gather records, 10ms to 1s, or 0 to answer at once: "+
			"fewer, larger polls, transactions and imports, for that much latency per hop at low load (env ORDERFLOW_KAFKA_FETCH_LINGER)")
	contexts := fs.String("contexts", "all", "bounded contexts this process runs, comma-separated, from "+
		strings.Join(commands.Contexts(), ", ")+"; others need --transport kafka (env ORDERFLOW_CONTEXTS)")

	if err := flags.Parse(fs, args, getenv); err != nil {
		return Config{}, err
	}
	cfg.KafkaBrokers = flags.List(*brokers)
	if err := cfg.KafkaSecurity.Load(getenv); err != nil {
		return Config{}, err
	}
	if *contexts != "all" {
		cfg.Contexts = flags.List(*contexts)
	}
	addrGiven := getenv(flags.EnvName("addr")) != ""
	fs.Visit(func(f *flag.Flag) { addrGiven = addrGiven || f.Name == "addr" })
	if !addrGiven && cfg.AuthSecret != "" {
		// Access control is on: serve on every interface, as a service does.
		cfg.Addr = ":8080"
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	if cfg.Split() {
		// The TLS files are read now, so a wrong path is a usage error.
		if _, err := cfg.KafkaCluster(); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// Validate refuses settings the service cannot run with.
func (c Config) Validate() error {
	switch {
	case c.DBPath == "":
		return errors.New("--db must not be empty")
	case c.FraudLimitCents < 1:
		return errors.New("--fraud-limit-cents must be at least 1")
	case c.FraudWindow <= 0:
		return errors.New("--fraud-window must be positive")
	case c.WaitTimeout <= 0:
		return errors.New("--wait-timeout must be positive")
	case c.JoinWindow <= 0:
		return errors.New("--join-window must be positive")
	case c.ValidationDeadline < 0 || c.PaymentDeadline < 0:
		return errors.New("--validation-deadline and --payment-deadline must not be negative (0 turns one off)")
	case c.BusPartitions < 1 || c.BusPartitions > 256:
		return errors.New("--bus-partitions must be between 1 and 256")
	case c.MaxValidationLag <= 0:
		return errors.New("--max-validation-lag must be positive")
	case c.StallAfter <= 0:
		return errors.New("--stall-after must be positive")
	case c.ReadTimeout <= 0 || c.WriteTimeout <= 0 || c.IdleTimeout <= 0:
		return errors.New("--read-timeout, --write-timeout and --idle-timeout must be positive")
	case c.WriteTimeout <= c.ReadTimeout+2*c.WaitTimeout:
		// The write deadline runs from the end of the headers: the body, a
		// placeOrder's wait for admission and its wait for the read models
		// all come out of it, and a mutation that waited must still answer.
		return fmt.Errorf("--write-timeout (%v) must be above --read-timeout + 2 × --wait-timeout (%v), or a mutation that waits may not answer",
			c.WriteTimeout, c.ReadTimeout+2*c.WaitTimeout)
	case c.Limits.MaxBodyBytes < 1 || c.Limits.MaxComplexity < 1 || c.Limits.MaxAliases < 1 || c.Limits.MaxMutations < 1:
		return errors.New("--max-body-bytes, --max-complexity, --max-aliases and --max-mutations must be at least 1")
	case c.Limits.QueryCacheBytes < 1:
		return errors.New("--query-cache-bytes must be at least 1")
	case c.Limits.WebsocketInitTimeout <= 0:
		return errors.New("--ws-init-timeout must be positive")
	case c.Transport != TransportInproc && c.Transport != TransportKafka:
		return fmt.Errorf("--transport must be %s or %s, not %q", TransportInproc, TransportKafka, c.Transport)
	case c.Split() && len(c.KafkaBrokers) == 0:
		return errors.New("--transport kafka needs --kafka-brokers host:port[,host:port…]")
	case c.KafkaPartitions < 1 || c.KafkaPartitions > 10000:
		return errors.New("--kafka-partitions must be between 1 and 10000")
	case c.KafkaFetchLinger != 0 && (c.KafkaFetchLinger < kafkabus.MinFetchLinger || c.KafkaFetchLinger > kafkabus.MaxFetchLinger):
		return fmt.Errorf("--kafka-fetch-linger must be 0 or between %s and %s", kafkabus.MinFetchLinger, kafkabus.MaxFetchLinger)
	case c.KafkaReplicationFactor < 0 || c.KafkaReplicationFactor > 32767:
		return errors.New("--kafka-replication-factor must be between 0 (the default) and 32767")
	case c.KafkaMinInsyncReplicas < 0 || (c.KafkaReplicationFactor > 0 && c.KafkaMinInsyncReplicas > c.KafkaReplicationFactor):
		return fmt.Errorf("--kafka-min-insync-replicas must be between 0 (the default) and the replication factor (%d)", c.KafkaReplicationFactor)
	case !c.Split() && len(c.Contexts) != len(commands.Contexts()):
		return errors.New("--contexts other than all needs --transport kafka: the contexts of other processes are reached over Kafka")
	case c.CDCPG != "" && c.Split():
		return errors.New("--cdc-pg runs in one process: split into services, the catalog and customers decide in Kafka transactions, " +
			"as any number of members; run `orderflow cdc` against a one-process database instead")
	case seedAddress(c.SeedFrom) && !c.Split():
		return errors.New("--seed-from needs --transport kafka: one process's database is the shop itself, and a copy of it would be a second shop")
	case c.AuthSecret != "" && len(c.AuthSecret) < access.MinSecretBytes:
		return fmt.Errorf("--auth-secret must be at least %d bytes (try: openssl rand -hex 32)", access.MinSecretBytes)
	}
	if err := commands.CheckContexts(c.Contexts); err != nil {
		return fmt.Errorf("--contexts: %w", err)
	}
	if seedAddress(c.SeedFrom) {
		if err := checkSeedFrom(c.SeedFrom); err != nil {
			return err
		}
	}
	if err := checkAdvertiseURL(c.AdvertiseURL); err != nil {
		return err
	}
	if c.CDCPG != "" {
		return c.CDCSource.Validate()
	}
	return nil
}

// KafkaCluster is the cluster of --kafka-brokers, reached as the --kafka-tls-*
// and --kafka-sasl-* flags say.
func (c Config) KafkaCluster() (kafkabus.Cluster, error) {
	cluster, err := c.KafkaSecurity.Cluster(c.KafkaBrokers)
	cluster.FetchLinger = c.KafkaFetchLinger
	return cluster, err
}

// KafkaTopics are the settings of the topics orderflow creates, and checks.
func (c Config) KafkaTopics() kafkabus.TopicSettings {
	return kafkabus.TopicSettings{Partitions: c.KafkaPartitions, ReplicationFactor: c.KafkaReplicationFactor,
		MinInsyncReplicas: c.KafkaMinInsyncReplicas}
}
