package kafkaflags

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		password string // what Load read
		says     string // the error's words; "" for none
	}{
		{name: "plaintext", args: nil},
		{name: "password from the environment", args: []string{"--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-user", "of"},
			env: map[string]string{"ORDERFLOW_KAFKA_SASL_PASSWORD": "from-env"}, password: "from-env"},
		{name: "password from a file, its first line", args: []string{"--kafka-sasl-mechanism", "plain", "--kafka-sasl-user", "of",
			"--kafka-sasl-password-file", pwFile}, password: "from-file"},
		{name: "no password", args: []string{"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-user", "of"},
			says: "never taken from a flag's value"},
		{name: "two passwords", args: []string{"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-user", "of", "--kafka-sasl-password-file", pwFile},
			env: map[string]string{"ORDERFLOW_KAFKA_SASL_PASSWORD": "x"}, says: "not both"},
		{name: "an empty password file", args: []string{"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-user", "of", "--kafka-sasl-password-file", empty},
			says: "first line is empty"},
		{name: "a missing password file", args: []string{"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-user", "of",
			"--kafka-sasl-password-file", filepath.Join(dir, "nope")}, says: "no such file"},
		{name: "no user", args: []string{"--kafka-sasl-mechanism", "PLAIN"}, env: map[string]string{"ORDERFLOW_KAFKA_SASL_PASSWORD": "x"},
			says: "needs --kafka-sasl-user"},
		{name: "an unknown mechanism", args: []string{"--kafka-sasl-mechanism", "GSSAPI", "--kafka-sasl-user", "of"},
			says: "want one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
		{name: "a user without a mechanism", args: []string{"--kafka-sasl-user", "of"}, says: "need --kafka-sasl-mechanism"},
		{name: "no password flag", args: []string{"--kafka-sasl-password", "x"}, says: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Security
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			Register(fs, &s)
			err := fs.Parse(tt.args)
			if err == nil {
				err = s.Load(func(k string) string { return tt.env[k] })
			}
			if tt.says == "" {
				if err != nil || s.SASLPassword != tt.password {
					t.Fatalf("Load: %v, password %q; want %q", err, s.SASLPassword, tt.password)
				}
				if _, err := s.Cluster([]string{"b:9092"}); err != nil {
					t.Fatalf("Cluster: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("got %v, want an error saying %q", err, tt.says)
			}
		})
	}
}

func TestClusterTurnsTLSOn(t *testing.T) {
	for _, s := range []Security{{TLS: true}, {SASLMechanism: "SCRAM-SHA-256", SASLUser: "u", SASLPassword: "p"}, {}} {
		c, err := s.Cluster([]string{"b:9092"})
		if err != nil {
			t.Fatal(err)
		}
		if (c.TLS != nil) != s.TLS || (c.SASL != nil) != (s.SASLMechanism != "") {
			t.Errorf("%+v: cluster %s", s, c)
		}
	}
	if _, err := (Security{TLSCA: "/nonexistent/ca.pem"}).Cluster(nil); err == nil || !strings.Contains(err.Error(), "--kafka-tls-*") {
		t.Errorf("a missing CA file: %v", err)
	}
}
