package app

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"orderflow/domain/fraud"
	"orderflow/domain/notification"
	"orderflow/events"
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
	Durability events.Durability
	// BusPartitions is how many lanes each reaction spreads its keys over:
	// one key's events are handled in order by one lane, different keys in
	// parallel (the partitions of a topic, in Kafka terms).
	BusPartitions int
	// MaxValidationLag is the admission bound of placeOrder: while the
	// validation reactions hold an event older than this, new orders wait
	// (at most WaitTimeout) before they are accepted.
	MaxValidationLag time.Duration
	// Pprof serves Go's profiler at /debug/pprof/ on the same address.
	Pprof bool
	// AuthSecret turns access control on: every request must carry an
	// HS256 token signed with it (see graph/access). Empty serves everyone
	// as admin, for development.
	AuthSecret string
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
}

// DefaultConfig is what `go run .` uses with no flags and no environment.
// It listens on localhost only: without an auth secret the server is open.
func DefaultConfig() Config {
	return Config{
		Addr:             "localhost:8080",
		DBPath:           "orderflow.db",
		FraudLimitCents:  fraud.DefaultLimitCents,
		FraudWindow:      fraud.DefaultWindow,
		WaitTimeout:      5 * time.Second,
		JoinWindow:       notification.DefaultJoinWindow,
		Durability:       events.DurabilityFull,
		BusPartitions:    8,
		MaxValidationLag: 100 * time.Millisecond,
	}
}

// envPrefix starts the environment fallback of every flag: --fraud-window
// falls back to ORDERFLOW_FRAUD_WINDOW.
const envPrefix = "ORDERFLOW_"

// ParseFlags reads flags, falling back to ORDERFLOW_* environment variables
// and then to the defaults. A flag given on the command line wins.
func ParseFlags(name string, args []string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to serve HTTP on (env ORDERFLOW_ADDR)")
	fs.StringVar(&cfg.DBPath, "db", cfg.DBPath, "SQLite database file (env ORDERFLOW_DB)")
	fs.Int64Var(&cfg.FraudLimitCents, "fraud-limit-cents", cfg.FraudLimitCents,
		"most a customer may order within the fraud window, in cents (env ORDERFLOW_FRAUD_LIMIT_CENTS)")
	fs.DurationVar(&cfg.FraudWindow, "fraud-window", cfg.FraudWindow, "trailing fraud window (env ORDERFLOW_FRAUD_WINDOW)")
	fs.DurationVar(&cfg.WaitTimeout, "wait-timeout", cfg.WaitTimeout,
		"longest a mutation waits for read models or validation (env ORDERFLOW_WAIT_TIMEOUT)")
	fs.DurationVar(&cfg.JoinWindow, "join-window", cfg.JoinWindow,
		"longest gap between an order's validation and payment for its confirmation to be sent (env ORDERFLOW_JOIN_WINDOW)")
	fs.IntVar(&cfg.BusPartitions, "bus-partitions", cfg.BusPartitions,
		"lanes per reaction: keys are spread over them, each lane handles its keys in order (env ORDERFLOW_BUS_PARTITIONS)")
	fs.DurationVar(&cfg.MaxValidationLag, "max-validation-lag", cfg.MaxValidationLag,
		"placeOrder waits while validation lags by more than this (env ORDERFLOW_MAX_VALIDATION_LAG)")
	fs.BoolVar(&cfg.Pprof, "pprof", cfg.Pprof, "serve the Go profiler at /debug/pprof/ (env ORDERFLOW_PPROF)")
	fs.StringVar(&cfg.AuthSecret, "auth-secret", cfg.AuthSecret,
		"turns access control on: requests need a JWT signed with this secret, at least 32 bytes (env ORDERFLOW_AUTH_SECRET)")
	durability := string(cfg.Durability)
	fs.StringVar(&durability, "durability", durability,
		"full: no acknowledged write lost even on power loss; normal: faster, lost only on power loss (env ORDERFLOW_DURABILITY)")

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		key := envPrefix + envName(f.Name)
		if v := getenv(key); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: %w", key, v, err))
			}
		}
	})
	if envErr != nil {
		return Config{}, envErr
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	addrGiven := getenv(envPrefix+envName("addr")) != ""
	fs.Visit(func(f *flag.Flag) { addrGiven = addrGiven || f.Name == "addr" })
	if !addrGiven && cfg.AuthSecret != "" {
		// Access control is on: serve on every interface, as a service does.
		cfg.Addr = ":8080"
	}
	d, err := events.ParseDurability(durability)
	if err != nil {
		return Config{}, err
	}
	cfg.Durability = d
	return cfg, cfg.Validate()
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
	case c.BusPartitions < 1 || c.BusPartitions > 256:
		return errors.New("--bus-partitions must be between 1 and 256")
	case c.MaxValidationLag <= 0:
		return errors.New("--max-validation-lag must be positive")
	case c.AuthSecret != "" && len(c.AuthSecret) < access.MinSecretBytes:
		return fmt.Errorf("--auth-secret must be at least %d bytes (try: openssl rand -hex 32)", access.MinSecretBytes)
	}
	return nil
}

func envName(flagName string) string {
	b := []byte(flagName)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '_'
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
