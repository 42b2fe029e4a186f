package devbroker_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"orderflow/app/devbroker"
	"orderflow/app/devbroker/devbrokertest"
	"orderflow/commands/kafkabus"
)

// lockedBuilder is the broker's stderr in runBroker: kfake's goroutines log
// to it while Run writes its own lines and the test reads them.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runBroker runs devbroker.Run on addr in the background and returns the
// address it listens on and a stop function that ends it and waits for it.
func runBroker(t *testing.T, addr string, cfg devbroker.Config) (string, func()) {
	t.Helper()
	ln, err := devbroker.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &lockedBuilder{}
	done := make(chan error, 1)
	go func() { done <- devbroker.Run(ctx, ln, cfg, stderr) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v\nstderr:\n%s", err, stderr)
			}
			if !strings.Contains(stderr.String(), "orderflow devbroker: stopped") {
				t.Errorf("no stop line; stderr:\n%s", stderr)
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// TestRestartKeepsTopicsRecordsAndOffsets: a broker with a data directory,
// stopped and started again on it (and on the same address), still has the
// topic with its 12 partitions and unlimited retention, every acknowledged
// record at its offset, and the group's committed offsets; and a member of
// the group resumes after them. With and without --fsync.
func TestRestartKeepsTopicsRecordsAndOffsets(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		t.Run(fmt.Sprintf("fsync=%v", fsync), func(t *testing.T) { testRestart(t, fsync) })
	}
}

func testRestart(t *testing.T, fsync bool) {
	cfg := devbroker.Config{DataDir: t.TempDir(), Fsync: fsync}
	addr, stop := runBroker(t, "127.0.0.1:0", cfg)
	acked := devbrokertest.ProduceConsumeCommit(t, addr)
	stop()

	again, _ := runBroker(t, addr, cfg)
	if again != addr {
		t.Fatalf("restarted on %s, want the same address %s", again, addr)
	}
	devbrokertest.CheckKept(t, addr, acked)

	// The group resumes where it committed: the first thing it reads is a
	// record produced after the restart, nothing from before.
	next := devbrokertest.Produce(t, addr, devbrokertest.Topic, len(acked), 1)[0]
	cl := devbrokertest.NewClient(t, addr, kgo.ConsumerGroup(devbrokertest.Group), kgo.ConsumeTopics(devbrokertest.Topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	ctx := devbrokertest.Context(t)
	for seen := false; !seen; {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("the group never read the record produced after the restart")
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			if got := devbrokertest.ToRecord(r); got != next {
				t.Errorf("the group read %v again after the restart; it had committed past it", got)
			} else {
				seen = true
			}
		})
	}
}

// TestInMemoryForgets: without a data directory a restart starts empty,
// which is what "in memory" in the ready line promises.
func TestInMemoryForgets(t *testing.T) {
	addr, stop := runBroker(t, "127.0.0.1:0", devbroker.Config{})
	devbrokertest.CreateTopic(t, addr, devbrokertest.Topic, devbrokertest.Partitions)
	stop()
	addr, _ = runBroker(t, addr, devbroker.Config{})
	// Creating it again succeeds only if the first one is gone.
	devbrokertest.CreateTopic(t, addr, devbrokertest.Topic, devbrokertest.Partitions)
}

// TestAddressInUse: another process on the address is refused at once with
// a message naming the cause and the flag to change.
func TestAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stdout, stderr strings.Builder
	code := devbroker.Main(context.Background(), []string{"--addr", ln.Addr().String()}, noEnv, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "already in use") || !strings.Contains(stderr.String(), "--addr") {
		t.Fatalf("stderr does not say the address is in use and which flag to change:\n%s", stderr.String())
	}
}

func noEnv(string) string { return "" }

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    devbroker.Config
		wantErr string
	}{
		{"defaults", nil, nil, devbroker.Config{Addr: "127.0.0.1:9092"}, ""},
		{"flags", []string{"--addr", "127.0.0.1:19092", "--data", "/tmp/b", "--fsync"}, nil,
			devbroker.Config{Addr: "127.0.0.1:19092", DataDir: "/tmp/b", Fsync: true}, ""},
		{"environment", nil, map[string]string{"ORDERFLOW_DEVBROKER_ADDR": "localhost:19092", "ORDERFLOW_DEVBROKER_DATA": "/tmp/b"},
			devbroker.Config{Addr: "localhost:19092", DataDir: "/tmp/b"}, ""},
		{"the server's ORDERFLOW_ADDR is not ours", nil, map[string]string{"ORDERFLOW_ADDR": ":8080"},
			devbroker.Config{Addr: "127.0.0.1:9092"}, ""},
		{"no port", []string{"--addr", "127.0.0.1"}, nil, devbroker.Config{}, "want host:port"},
		{"unspecified host", []string{"--addr", "0.0.0.0:9092"}, nil, devbroker.Config{}, "host clients can reach"},
		{"empty host", []string{"--addr", ":9092"}, nil, devbroker.Config{}, "host clients can reach"},
		{"fsync in memory", []string{"--fsync"}, nil, devbroker.Config{}, "--fsync needs --data"},
		{"TLS and SASL", []string{"--tls-cert", "b.pem", "--tls-key", "b.key", "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "of"},
			map[string]string{"ORDERFLOW_DEVBROKER_SASL_PASSWORD": "pw"},
			devbroker.Config{Addr: "127.0.0.1:9092", TLSCert: "b.pem", TLSKey: "b.key", SASLMechanism: "SCRAM-SHA-512", SASLUser: "of", SASLPassword: "pw"}, ""},
		{"a certificate without its key", []string{"--tls-cert", "b.pem"}, nil, devbroker.Config{}, "--tls-cert and --tls-key go together"},
		{"client CAs without TLS", []string{"--tls-client-ca", "ca.pem"}, nil, devbroker.Config{}, "--tls-client-ca needs --tls-cert"},
		{"SASL without a password", []string{"--sasl-mechanism", "PLAIN", "--sasl-user", "of"}, nil, devbroker.Config{}, "needs --sasl-user and the password"},
		{"an unknown SASL mechanism", []string{"--sasl-mechanism", "GSSAPI", "--sasl-user", "of"}, map[string]string{"ORDERFLOW_DEVBROKER_SASL_PASSWORD": "pw"},
			devbroker.Config{}, "want one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
		{"a user without SASL", []string{"--sasl-user", "of"}, nil, devbroker.Config{}, "need --sasl-mechanism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := devbroker.ParseFlags(tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || cfg != tt.want {
				t.Fatalf("got %+v, err %v; want %+v", cfg, err, tt.want)
			}
		})
	}
}

// TestSecuredBroker: a broker run with TLS (client certificates required)
// and SASL takes a client that has all three (its CA, a client
// certificate, the user and password), and refuses one that lacks any of
// them, at once, with an error saying what to check.
func TestSecuredBroker(t *testing.T) {
	certs := devbrokertest.NewCertificates(t, t.TempDir())
	addr, _ := runBroker(t, "127.0.0.1:0", devbroker.Config{TLSCert: certs.ServerCert, TLSKey: certs.ServerKey, TLSClientCA: certs.CA,
		SASLMechanism: "SCRAM-SHA-256", SASLUser: "orderflow", SASLPassword: "s3cret"})
	secured, err := kafkabus.NewTLS(certs.CA, certs.ClientCert, certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	otherCA := devbrokertest.NewCertificates(t, t.TempDir())
	untrusted, err := kafkabus.NewTLS(otherCA.CA, certs.ClientCert, certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	noClientCert, err := kafkabus.NewTLS(certs.CA, "", "")
	if err != nil {
		t.Fatal(err)
	}
	user := func(password string) sasl.Mechanism {
		m, err := kafkabus.NewSASL("SCRAM-SHA-256", "orderflow", password)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name    string
		cluster kafkabus.Cluster
		ok      bool
	}{
		{"everything right", kafkabus.Cluster{Brokers: []string{addr}, TLS: secured, SASL: user("s3cret")}, true},
		{"a wrong password", kafkabus.Cluster{Brokers: []string{addr}, TLS: secured, SASL: user("wrong")}, false},
		{"no SASL", kafkabus.Cluster{Brokers: []string{addr}, TLS: secured}, false},
		{"no TLS", kafkabus.Cluster{Brokers: []string{addr}, SASL: user("s3cret")}, false},
		{"another CA", kafkabus.Cluster{Brokers: []string{addr}, TLS: untrusted, SASL: user("s3cret")}, false},
		{"no client certificate", kafkabus.Cluster{Brokers: []string{addr}, TLS: noClientCert, SASL: user("s3cret")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := kafkabus.Reach(ctx, tt.cluster)
			if tt.ok != (err == nil) {
				t.Fatalf("Reach = %v, want ok %v", err, tt.ok)
			}
			if !tt.ok && (ctx.Err() != nil || !strings.Contains(err.Error(), "check the TLS settings")) {
				t.Fatalf("Reach = %v, want an error at once saying what to check", err)
			}
		})
	}
}
