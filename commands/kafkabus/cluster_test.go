package kafkabus_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"orderflow/commands/kafkabus"
)

func TestNewSASL(t *testing.T) {
	tests := []struct {
		mechanism, user, password string
		name                      string // the mechanism's name, or the error's words
		ok                        bool
	}{
		{"PLAIN", "u", "p", "PLAIN", true},
		{"scram-sha-256", "u", "p", "SCRAM-SHA-256", true},
		{"SCRAM-SHA-512", "u", "p", "SCRAM-SHA-512", true},
		{"GSSAPI", "u", "p", "want one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", false},
		{"PLAIN", "", "p", "needs a user and a password", false},
		{"SCRAM-SHA-256", "u", "", "needs a user and a password", false},
	}
	for _, tt := range tests {
		m, err := kafkabus.NewSASL(tt.mechanism, tt.user, tt.password)
		switch {
		case tt.ok && (err != nil || m.Name() != tt.name):
			t.Errorf("NewSASL(%s) = %v, %v; want %s", tt.mechanism, m, err, tt.name)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), tt.name)):
			t.Errorf("NewSASL(%s, %q, %q) = %v, want an error saying %q", tt.mechanism, tt.user, tt.password, err, tt.name)
		}
	}
}

func TestNewTLSRefusesWhatItCannotUse(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ca, cert, key string
		says          string
	}{
		{filepath.Join(dir, "missing.pem"), "", "", "no such file"},
		{notPEM, "", "", "holds no PEM certificate"},
		{"", filepath.Join(dir, "client.pem"), "", "needs both its certificate and its key"},
		{"", "", filepath.Join(dir, "client.key"), "needs both its certificate and its key"},
		{"", filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"), "the client certificate"},
	}
	for _, tt := range tests {
		if _, err := kafkabus.NewTLS(tt.ca, tt.cert, tt.key); err == nil || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("NewTLS(%q, %q, %q) = %v, want an error saying %q", tt.ca, tt.cert, tt.key, err, tt.says)
		}
	}
	if cfg, err := kafkabus.NewTLS("", "", ""); err != nil || cfg.RootCAs != nil {
		t.Errorf("NewTLS with no files = %v, %v; want the system's CAs", cfg, err)
	}
}

// TestClusterAuthenticatesWithSASL: a broker that asks for SASL takes the
// user and password of each mechanism, and refuses a wrong password with
// an error that says so.
func TestClusterAuthenticatesWithSASL(t *testing.T) {
	for _, mechanism := range kafkabus.SASLMechanisms {
		t.Run(mechanism, func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mechanism, "orderflow", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			for _, tt := range []struct {
				password string
				ok       bool
			}{{"s3cret", true}, {"wrong", false}} {
				m, err := kafkabus.NewSASL(mechanism, "orderflow", tt.password)
				if err != nil {
					t.Fatal(err)
				}
				c := kafkabus.Cluster{Brokers: cluster.ListenAddrs(), SASL: m}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err = kafkabus.Reach(ctx, c)
				waitedOut := ctx.Err() != nil
				cancel()
				if tt.ok && err != nil {
					t.Errorf("%s with the right password: %v", mechanism, err)
				}
				// The broker closes the connection (kfake does; Kafka
				// answers SASL_AUTHENTICATION_FAILED): an error at once,
				// not a wait until ctx ends.
				if !tt.ok && (err == nil || !strings.Contains(err.Error(), "SASL mechanism, user and password") || waitedOut) {
					t.Errorf("%s with a wrong password: %v, want an error at once saying what to check", mechanism, err)
				}
			}
		})
	}
}
