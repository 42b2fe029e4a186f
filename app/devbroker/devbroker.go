// Package devbroker is `orderflow devbroker`: a single Kafka-protocol
// broker, kfake from github.com/twmb/franz-go, run in the foreground for
// local demos and tests of the split deployment. Production uses a Kafka
// cluster; this broker has one replica of everything. It can ask clients
// for TLS and SASL (PLAIN, SCRAM-SHA-256/512) as a secured cluster does, so
// that orderflow's settings for one are tested against it.
//
// Guarantees: with a data directory, topics (with their configs), records
// and committed group offsets survive a stop and a start on the same
// directory. A produce or an offset commit is written to the directory's
// files (write(2), no buffering in the process) before the broker answers
// it, so an acknowledged write survives the broker being killed with
// SIGKILL; it survives a crash of the machine only with --fsync, which
// fsyncs every batch and every group log entry before answering (kfake's
// SyncWrites; it does not sync the directory entry of a file it has just
// made, so a partition's first segment is the exception). A clean
// stop (SIGINT, SIGTERM) also writes a snapshot that makes the next start
// faster. Without a data directory everything is in memory and gone at
// exit.
package devbroker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"orderflow/app/flags"
)

// EnvPrefix starts the environment fallback of devbroker's flags
// (ORDERFLOW_DEVBROKER_ADDR, ORDERFLOW_DEVBROKER_DATA). It is not the
// server's ORDERFLOW_ because --addr means another address here.
const EnvPrefix = "ORDERFLOW_DEVBROKER_"

// GroupMinSessionTimeout is the shortest session a consumer group member may
// ask for. Kafka's default minimum is 6s; a lower one lets a test or demo
// make a killed member's partitions move to the survivors within a second
// or two.
const GroupMinSessionTimeout = time.Second

// Config is what one run of `orderflow devbroker` was told.
type Config struct {
	// Addr is the host and port the broker listens on and advertises to
	// clients in its metadata, so the host must be one they can reach.
	Addr string
	// DataDir keeps the broker's state across restarts; empty is in memory.
	DataDir string
	// Fsync syncs every produced batch and group log entry to disk before
	// answering it (only with DataDir).
	Fsync bool
	// Pprof, when set, is a host:port serving Go's profiler at
	// /debug/pprof/, to see where the broker's share of a measurement goes.
	Pprof string
	// TLSCert and TLSKey, when set, are the PEM certificate and key the
	// broker serves TLS with; TLSClientCA, when set too, is the PEM bundle
	// of the CAs whose client certificates it requires (mutual TLS).
	TLSCert, TLSKey, TLSClientCA string
	// SASLMechanism, when set (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), makes
	// the broker require SASL authentication as SASLUser with SASLPassword
	// (read from ORDERFLOW_DEVBROKER_SASL_PASSWORD or SASLPasswordFile).
	SASLMechanism, SASLUser, SASLPasswordFile, SASLPassword string
}

// saslMechanisms are the mechanisms the broker can ask for.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// DefaultConfig is Kafka's usual local address, in memory.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:9092"}
}

// ParseFlags reads the flags of `orderflow devbroker`; each falls back to an
// ORDERFLOW_DEVBROKER_* environment variable.
func ParseFlags(args []string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("orderflow devbroker", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: orderflow devbroker [--addr HOST:PORT] [--data DIR] [--fsync]
                          [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
                          [--sasl-mechanism M --sasl-user U [--sasl-password-file FILE]]

Runs one Kafka-protocol broker (kfake, from github.com/twmb/franz-go) in the
foreground until SIGINT or SIGTERM, for tests and demos of the split
deployment only; production uses a Kafka cluster.

With --data, topics, records and committed group offsets survive a restart
on the same directory. Every acknowledged produce and offset commit is in
the directory's files before the answer, so it survives the broker being
killed (even kill -9); it survives a crash of the machine only with --fsync
(an fsync per batch, slower). Without --data everything is in memory.

With --tls-cert and --tls-key it serves TLS only; with --sasl-mechanism it
requires SASL authentication as --sasl-user, the password from
ORDERFLOW_DEVBROKER_SASL_PASSWORD or --sasl-password-file: a secured
cluster's settings, to try orderflow's --kafka-tls-* and --kafka-sasl-*.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr,
		"host:port to listen on, advertised to clients as is (env "+EnvPrefix+"ADDR)")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir,
		"directory keeping topics, records and group offsets across restarts; in memory when empty (env "+EnvPrefix+"DATA)")
	fs.BoolVar(&cfg.Fsync, "fsync", cfg.Fsync,
		"fsync every produced batch before answering, to survive a machine crash and not only a killed broker (env "+EnvPrefix+"FSYNC)")
	fs.StringVar(&cfg.Pprof, "pprof", cfg.Pprof,
		"host:port serving Go's profiler at /debug/pprof/; off when empty (env "+EnvPrefix+"PPROF)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "PEM certificate to serve TLS with, with --tls-key (env "+EnvPrefix+"TLS_CERT)")
	fs.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "PEM private key of --tls-cert (env "+EnvPrefix+"TLS_KEY)")
	fs.StringVar(&cfg.TLSClientCA, "tls-client-ca", cfg.TLSClientCA,
		"PEM CAs whose client certificates the broker requires (mutual TLS); needs --tls-cert (env "+EnvPrefix+"TLS_CLIENT_CA)")
	fs.StringVar(&cfg.SASLMechanism, "sasl-mechanism", cfg.SASLMechanism,
		"require SASL authentication: "+strings.Join(saslMechanisms, ", ")+" (env "+EnvPrefix+"SASL_MECHANISM)")
	fs.StringVar(&cfg.SASLUser, "sasl-user", cfg.SASLUser, "the SASL user clients authenticate as (env "+EnvPrefix+"SASL_USER)")
	fs.StringVar(&cfg.SASLPasswordFile, "sasl-password-file", cfg.SASLPasswordFile,
		"file holding the user's password on its first line, instead of "+EnvPrefix+"SASL_PASSWORD (env "+EnvPrefix+"SASL_PASSWORD_FILE)")
	if err := flags.ParseWithPrefix(fs, args, getenv, EnvPrefix); err != nil {
		return Config{}, err
	}
	if err := cfg.loadPassword(getenv); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

// Validate refuses settings the broker cannot run with.
func (c Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want host:port, e.g. 127.0.0.1:9092: %w", c.Addr, err)
	}
	// The broker tells clients to connect to its listening address; 0.0.0.0
	// or an empty host would send them to an address that means "any".
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("--addr %q: give a host clients can reach (it is advertised to them), e.g. 127.0.0.1:9092", c.Addr)
	}
	if c.Fsync && c.DataDir == "" {
		return errors.New("--fsync needs --data: in memory there is nothing to sync")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		return errors.New("--tls-client-ca needs --tls-cert and --tls-key")
	}
	if c.SASLMechanism == "" {
		if c.SASLUser != "" || c.SASLPassword != "" {
			return errors.New("--sasl-user and the password need --sasl-mechanism")
		}
		return nil
	}
	if !slices.Contains(saslMechanisms, c.SASLMechanism) {
		return fmt.Errorf("--sasl-mechanism %q: want one of %s", c.SASLMechanism, strings.Join(saslMechanisms, ", "))
	}
	if c.SASLUser == "" || c.SASLPassword == "" {
		return fmt.Errorf("--sasl-mechanism %s needs --sasl-user and the password (%sSASL_PASSWORD or --sasl-password-file)", c.SASLMechanism, EnvPrefix)
	}
	return nil
}

// loadPassword reads the SASL password from the environment or the file.
func (c *Config) loadPassword(getenv func(string) string) error {
	env := getenv(EnvPrefix + "SASL_PASSWORD")
	switch {
	case env != "" && c.SASLPasswordFile != "":
		return fmt.Errorf("give the password in %sSASL_PASSWORD or --sasl-password-file, not both", EnvPrefix)
	case env != "":
		c.SASLPassword = env
	case c.SASLPasswordFile != "":
		b, err := os.ReadFile(c.SASLPasswordFile)
		if err != nil {
			return fmt.Errorf("--sasl-password-file: %w", err)
		}
		c.SASLPassword, _, _ = strings.Cut(string(b), "\n")
		c.SASLPassword = strings.TrimSuffix(c.SASLPassword, "\r")
	}
	return nil
}

// security is the kfake options of the TLS and SASL the broker asks for,
// and how it says so on its ready line.
func (c Config) security() ([]kfake.Opt, string, error) {
	var opts []kfake.Opt
	var says []string
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, "", fmt.Errorf("--tls-cert, --tls-key: %w", err)
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		says = append(says, "TLS")
		if c.TLSClientCA != "" {
			pem, err := os.ReadFile(c.TLSClientCA)
			if err != nil {
				return nil, "", fmt.Errorf("--tls-client-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, "", fmt.Errorf("--tls-client-ca: %s holds no PEM certificate", c.TLSClientCA)
			}
			cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
			says = append(says, "client certificates required")
		}
		opts = append(opts, kfake.TLS(cfg))
	}
	if c.SASLMechanism != "" {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(c.SASLMechanism, c.SASLUser, c.SASLPassword))
		says = append(says, "SASL "+c.SASLMechanism+" as "+c.SASLUser)
	}
	return opts, strings.Join(says, ", "), nil
}

// Main runs `orderflow devbroker` until ctx ends and returns the process
// exit code: 2 for bad flags, 1 when the broker cannot start.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := ParseFlags(args, getenv)
	if err != nil {
		return flags.Exit("orderflow devbroker", err, stdout, stderr)
	}
	ln, err := Listen(cfg.Addr)
	if err != nil {
		fmt.Fprintln(stderr, "orderflow devbroker:", err)
		return 1
	}
	if err := Run(ctx, ln, cfg, stderr); err != nil {
		fmt.Fprintln(stderr, "orderflow devbroker:", err)
		return 1
	}
	return 0
}

// Listen opens the broker's address, saying so plainly when another
// process holds it (and that --addr chooses another).
func Listen(addr string) (net.Listener, error) { return flags.Listen("addr", addr) }

// Run serves the Kafka protocol on ln until ctx ends, then stops the broker
// (writing its snapshot when it has a data directory) and returns. It
// writes one line to stderr when the broker is ready, and the broker's
// warnings after it. Run takes ownership of ln and closes it.
func Run(ctx context.Context, ln net.Listener, cfg Config, stderr io.Writer) error {
	if cfg.Fsync && cfg.DataDir == "" {
		ln.Close()
		return errors.New("fsync needs a data directory")
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(oneListener(ln)),
		kfake.ClusterID("orderflow-devbroker"),
		kfake.GroupMinSessionTimeout(GroupMinSessionTimeout),
		kfake.WithLogger(slogLogger{slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}),
		// No AllowAutoTopicCreation: orderflow creates its topics with
		// their partition count and unlimited retention, and a topic a
		// client made by asking for it would silently get the broker's
		// defaults (10 partitions, 7 days) instead.
		//
		// The log cleaner runs every second (a broker's default is every
		// few seconds to an hour): a forgotten customer's key leaves the
		// compacted keys topic moments after its tombstone.
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "1000"}),
	}
	security, secured, err := cfg.security()
	if err != nil {
		ln.Close()
		return err
	}
	opts = append(opts, security...)
	where := "in memory"
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
		where = "data " + cfg.DataDir
		if cfg.Fsync {
			opts = append(opts, kfake.SyncWrites())
			where += ", fsync per batch"
		}
	}
	if secured != "" {
		where += "; " + secured
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		ln.Close() // NewCluster closes it only when it got as far as taking it
		return fmt.Errorf("start the broker: %w", err)
	}
	fmt.Fprintf(stderr, "orderflow devbroker: Kafka protocol on %s (%s); for tests and demos only, production uses a Kafka cluster\n",
		ln.Addr(), where)
	if cfg.Pprof != "" {
		// The profiler's own server, beside the broker's.
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		prof := &http.Server{Addr: cfg.Pprof, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := prof.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintln(stderr, "orderflow devbroker: pprof:", err)
			}
		}()
		defer prof.Close()
	}
	<-ctx.Done()
	// Close answers the offset commits already received, writes the
	// snapshot and closes the files before it returns.
	cluster.Close()
	fmt.Fprintln(stderr, "orderflow devbroker: stopped")
	return nil
}

// oneListener hands kfake the listener already bound to the exact address
// (kfake would otherwise listen on 127.0.0.1 and a port of its own), once:
// the cluster has a single broker.
func oneListener(ln net.Listener) func(network, address string) (net.Listener, error) {
	var once sync.Once
	return func(string, string) (net.Listener, error) {
		var got net.Listener
		once.Do(func() { got = ln })
		if got == nil {
			return nil, errors.New("devbroker runs a single broker")
		}
		return got, nil
	}
}

// slogLogger writes kfake's messages through slog, as the rest of
// orderflow logs.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var lv slog.Level
	switch level {
	case kfake.LogLevelError:
		lv = slog.LevelError
	case kfake.LogLevelWarn:
		lv = slog.LevelWarn
	case kfake.LogLevelInfo:
		lv = slog.LevelInfo
	default:
		lv = slog.LevelDebug
	}
	if !l.log.Enabled(context.Background(), lv) {
		return // kfake logs every request at debug level: skip formatting them
	}
	l.log.Log(context.Background(), lv, fmt.Sprintf(format, args...), "component", "kfake")
}
