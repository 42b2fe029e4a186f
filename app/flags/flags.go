// Package flags reads the command line of orderflow's commands the same
// way everywhere: every flag falls back to an ORDERFLOW_* environment
// variable (--fraud-window reads ORDERFLOW_FRAUD_WINDOW), and a flag given
// on the command line wins. A command whose flags share names with the
// server's but mean something else (devbroker's --addr) reads its own
// prefix instead (ORDERFLOW_DEVBROKER_ADDR), so a variable exported for the
// server is not taken up by it. An address flag the command cannot listen
// on is reported the same way everywhere too, naming the flag to change.
package flags

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// EnvPrefix starts the environment fallback of every flag.
const EnvPrefix = "ORDERFLOW_"

// EnvName is the environment variable a flag falls back to.
func EnvName(flagName string) string {
	return envName(EnvPrefix, flagName)
}

func envName(prefix, flagName string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse sets the flags of fs from their environment variables (read with
// getenv), then from args, and refuses arguments that are not flags. For
// -h or --help it returns a *Help (see ParseArgs); hand its errors to Exit.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	return ParseWithPrefix(fs, args, getenv, EnvPrefix)
}

// ParseWithPrefix is Parse with the environment variables named prefix
// followed by the flag's name (prefix "ORDERFLOW_DEVBROKER_": --addr reads
// ORDERFLOW_DEVBROKER_ADDR).
func ParseWithPrefix(fs *flag.FlagSet, args []string, getenv func(string) string, prefix string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		key := envName(prefix, f.Name)
		if v := getenv(key); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: %w", key, v, err))
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	return ParseArgs(fs, args)
}

// List splits a comma-separated flag value (--kafka-brokers, --contexts),
// dropping blanks.
func List(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
