// Package kafkaflags reads the flags that say how to reach a secured Kafka
// cluster (TLS, SASL), the same for every command that reaches one
// (serve, replay, verify). The SASL password never comes from a flag's
// value, which any user of the machine can read in the process list: it
// comes from ORDERFLOW_KAFKA_SASL_PASSWORD or from a file.
package kafkaflags

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"orderflow/app/flags"
	"orderflow/commands/kafkabus"
)

// PasswordEnv is the environment variable holding the SASL password.
var PasswordEnv = flags.EnvName("kafka-sasl-password")

// Security is how a command reaches the cluster beyond its seed brokers.
// The zero value is plaintext without authentication (the devbroker's
// default).
type Security struct {
	// TLS turns TLS on with the system's CAs; any of the TLS files turns
	// it on too.
	TLS bool
	// TLSCA is a PEM bundle of the CAs the brokers' certificates are
	// checked against; TLSCert and TLSKey are a client certificate for
	// brokers that ask for one (mutual TLS).
	TLSCA, TLSCert, TLSKey string
	// SASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty for
	// no SASL.
	SASLMechanism, SASLUser string
	// SASLPasswordFile holds the password (its first line).
	SASLPasswordFile string
	// SASLPassword is the password, read by Load from PasswordEnv or
	// SASLPasswordFile.
	SASLPassword string
}

// Register adds the flags to fs, setting s when they are parsed.
func Register(fs *flag.FlagSet, s *Security) {
	fs.BoolVar(&s.TLS, "kafka-tls", s.TLS,
		"reach the brokers over TLS, their certificates checked against the system's CAs (env ORDERFLOW_KAFKA_TLS)")
	fs.StringVar(&s.TLSCA, "kafka-tls-ca", s.TLSCA,
		"PEM file of the CAs the brokers' certificates are checked against; turns TLS on (env ORDERFLOW_KAFKA_TLS_CA)")
	fs.StringVar(&s.TLSCert, "kafka-tls-cert", s.TLSCert,
		"PEM file of the client certificate, for brokers that ask for one; with --kafka-tls-key (env ORDERFLOW_KAFKA_TLS_CERT)")
	fs.StringVar(&s.TLSKey, "kafka-tls-key", s.TLSKey,
		"PEM file of the client certificate's private key (env ORDERFLOW_KAFKA_TLS_KEY)")
	fs.StringVar(&s.SASLMechanism, "kafka-sasl-mechanism", s.SASLMechanism,
		"SASL authentication: "+strings.Join(kafkabus.SASLMechanisms, ", ")+"; the password from "+PasswordEnv+
			" or --kafka-sasl-password-file (env ORDERFLOW_KAFKA_SASL_MECHANISM)")
	fs.StringVar(&s.SASLUser, "kafka-sasl-user", s.SASLUser, "SASL user (env ORDERFLOW_KAFKA_SASL_USER)")
	fs.StringVar(&s.SASLPasswordFile, "kafka-sasl-password-file", s.SASLPasswordFile,
		"file holding the SASL password on its first line, instead of "+PasswordEnv+" (env ORDERFLOW_KAFKA_SASL_PASSWORD_FILE)")
}

// Load reads the SASL password, once the flags were parsed, and refuses
// settings that do not go together.
func (s *Security) Load(getenv func(string) string) error {
	if s.SASLMechanism == "" {
		if s.SASLUser != "" || s.SASLPasswordFile != "" {
			return errors.New("--kafka-sasl-user and --kafka-sasl-password-file need --kafka-sasl-mechanism (" +
				strings.Join(kafkabus.SASLMechanisms, ", ") + ")")
		}
		return nil
	}
	if !slices.Contains(kafkabus.SASLMechanisms, strings.ToUpper(s.SASLMechanism)) {
		return fmt.Errorf("--kafka-sasl-mechanism %q: want one of %s", s.SASLMechanism, strings.Join(kafkabus.SASLMechanisms, ", "))
	}
	if s.SASLUser == "" {
		return fmt.Errorf("--kafka-sasl-mechanism %s needs --kafka-sasl-user", s.SASLMechanism)
	}
	env := getenv(PasswordEnv)
	switch {
	case env != "" && s.SASLPasswordFile != "":
		return fmt.Errorf("give the SASL password in %s or in --kafka-sasl-password-file, not both", PasswordEnv)
	case env != "":
		s.SASLPassword = env
	case s.SASLPasswordFile != "":
		b, err := os.ReadFile(s.SASLPasswordFile)
		if err != nil {
			return fmt.Errorf("--kafka-sasl-password-file: %w", err)
		}
		s.SASLPassword, _, _ = strings.Cut(string(b), "\n")
		s.SASLPassword = strings.TrimSuffix(s.SASLPassword, "\r")
		if s.SASLPassword == "" {
			return fmt.Errorf("--kafka-sasl-password-file %s: its first line is empty", s.SASLPasswordFile)
		}
	default:
		return fmt.Errorf("--kafka-sasl-mechanism %s needs the password, in %s or in a file (--kafka-sasl-password-file); "+
			"it is never taken from a flag's value", s.SASLMechanism, PasswordEnv)
	}
	return nil
}

// Cluster is the cluster of the seed brokers reached with these settings;
// an error when a TLS file cannot be read.
func (s Security) Cluster(brokers []string) (kafkabus.Cluster, error) {
	c := kafkabus.Plaintext(brokers...)
	if s.TLS || s.TLSCA != "" || s.TLSCert != "" || s.TLSKey != "" {
		cfg, err := kafkabus.NewTLS(s.TLSCA, s.TLSCert, s.TLSKey)
		if err != nil {
			return kafkabus.Cluster{}, fmt.Errorf("--kafka-tls-*: %w", err)
		}
		c.TLS = cfg
	}
	if s.SASLMechanism != "" {
		m, err := kafkabus.NewSASL(s.SASLMechanism, s.SASLUser, s.SASLPassword)
		if err != nil {
			return kafkabus.Cluster{}, fmt.Errorf("--kafka-sasl-mechanism: %w", err)
		}
		c.SASL = m
	}
	return c, nil
}
