package kafkabus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Cluster is how orderflow reaches a Kafka cluster: its seed brokers, and
// the TLS and SASL authentication it asks for (nil for neither: plaintext,
// as the devbroker's default). Every client orderflow makes of it, producer,
// consumer or admin, uses all three.
type Cluster struct {
	Brokers []string
	TLS     *tls.Config
	SASL    sasl.Mechanism
	// FetchLinger is how long the broker may hold a fetch of orderflow's
	// busy readers (the consumer groups, the copy of the topics, the
	// replies) to gather more records (see fetchOpts); 0 answers a fetch as
	// soon as one record is there.
	FetchLinger time.Duration
}

// MinFetchLinger and MaxFetchLinger bound a FetchLinger other than 0 (the
// Kafka client waits at least 10 ms for a fetch that asks to wait).
const (
	MinFetchLinger = 10 * time.Millisecond
	MaxFetchLinger = time.Second
)

// fetchOpts are the fetch options of orderflow's busy readers: with a
// linger, the broker answers a fetch once it holds a megabyte for it or
// the linger passed, so each reader asks about once per linger under any
// load, and each poll, Kafka transaction and SQLite import carries what
// came in that time instead of a record or two (a split shop under load
// spent about a fifth of its CPU in the broker, most of it answering
// fetches and ending transactions). Without one, a fetch is answered as
// soon as a record is there, and waits at most a second when none is.
func (c Cluster) fetchOpts() []kgo.Opt {
	if c.FetchLinger <= 0 {
		return quietFetchOpts()
	}
	return []kgo.Opt{kgo.FetchMinBytes(1 << 20), kgo.FetchMaxWait(c.FetchLinger)}
}

// quietFetchOpts are the fetch options of a reader whose records come one
// now and then, whatever the shop's load (a feed of commands only, the
// catalog's and the customers': people register and edit products, orders
// do not): a fetch is answered as soon as a record is there and held at
// most a second when none is, so such a reader costs the broker about a
// fetch a second while idle instead of one per linger.
func quietFetchOpts() []kgo.Opt { return []kgo.Opt{kgo.FetchMaxWait(time.Second)} }

// Plaintext is a cluster reached without TLS or SASL.
func Plaintext(brokers ...string) Cluster { return Cluster{Brokers: brokers} }

// String names the cluster in messages: its seed brokers, and how it is
// reached when not in plaintext.
func (c Cluster) String() string {
	s := strings.Join(c.Brokers, ",")
	var how []string
	if c.TLS != nil {
		how = append(how, "TLS")
	}
	if c.SASL != nil {
		how = append(how, "SASL "+c.SASL.Name())
	}
	if len(how) > 0 {
		s += " (" + strings.Join(how, ", ") + ")"
	}
	return s
}

// ClientOpts are the options that reach the cluster, for a tool that makes
// its own franz-go client of it (orderflow verify).
func (c Cluster) ClientOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS.Clone()))
	}
	if c.SASL != nil {
		opts = append(opts, kgo.SASL(c.SASL))
	}
	return opts
}

// The SASL mechanisms orderflow authenticates with.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SASLMechanisms lists the mechanism names NewSASL takes.
var SASLMechanisms = []string{SASLPlain, SASLScramSHA256, SASLScramSHA512}

// NewSASL is the SASL mechanism of a name (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512) for a user and password. PLAIN sends the password as is:
// use it over TLS only.
func NewSASL(mechanism, user, password string) (sasl.Mechanism, error) {
	if user == "" || password == "" {
		return nil, fmt.Errorf("SASL %s needs a user and a password", mechanism)
	}
	switch strings.ToUpper(mechanism) {
	case SASLPlain:
		return plain.Auth{User: user, Pass: password}.AsMechanism(), nil
	case SASLScramSHA256:
		return scram.Auth{User: user, Pass: password}.AsSha256Mechanism(), nil
	case SASLScramSHA512:
		return scram.Auth{User: user, Pass: password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("SASL mechanism %q: want one of %s", mechanism, strings.Join(SASLMechanisms, ", "))
}

// NewTLS is the TLS configuration of a client of the cluster: the brokers'
// certificates checked against the CA bundle in caFile (PEM; the system's
// CAs when empty), and, for brokers that ask clients for a certificate
// (mutual TLS), the client certificate and key in certFile and keyFile
// (PEM, both or neither).
func NewTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("the brokers' CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the brokers' CA: %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("the client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case certFile != "" || keyFile != "":
		return nil, errors.New("a client certificate needs both its certificate and its key")
	}
	return cfg, nil
}

// Reach returns once a broker of the cluster answered a request. While
// none accepts connections (the cluster, or the devbroker, still
// starting) it tries again until ctx ends; a broker that takes the
// connection and then fails it (a TLS handshake that fails, a refused
// SASL authentication, which some brokers answer by closing the
// connection) is an error at once, saying what to check: waiting would not
// mend it.
func Reach(ctx context.Context, cluster Cluster) error {
	cl, err := newClient(cluster)
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		try, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := cl.Ping(try)
		cancel()
		if err == nil {
			return nil
		}
		var op *net.OpError
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("no broker of %s answered: %w (last: %v)", cluster, ctx.Err(), err)
		case errors.As(err, &op) && op.Op == "dial":
			// Nobody listening yet: wait for the broker.
		default:
			return fmt.Errorf("a broker of %s took the connection and then failed it: %w; check the TLS settings "+
				"(whether the brokers expect TLS, their CA) and the SASL mechanism, user and password", cluster, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no broker of %s answered: %w (last: %v)", cluster, ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
