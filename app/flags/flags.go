// Package flags reads the command line of orderflow's commands the same
// way everywhere: every flag falls back to an ORDERFLOW_* environment
// variable (--fraud-window reads ORDERFLOW_FRAUD_WINDOW), and a flag given
// on the command line wins.
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
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse sets the flags of fs from their environment variables (read with
// getenv), then from args, and refuses arguments that are not flags.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		key := EnvName(f.Name)
		if v := getenv(key); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: %w", key, v, err))
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
