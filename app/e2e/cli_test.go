package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestHelpOfEveryCommand: -h and --help of the binary and of each of its
// commands print the usage to stdout and exit 0, as a newcomer piping it
// into less expects; nothing goes to stderr. A mistake in the flags is
// still an error: one line on stderr pointing to -h, exit 2, nothing on
// stdout.
func TestHelpOfEveryCommand(t *testing.T) {
	t.Parallel()
	bin := needBinary(t)
	tests := []struct {
		command []string
		usage   string // in the usage
		flag    string // one of the command's flags, listed in the usage
	}{
		{nil, "Usage:\n  orderflow [serve] [flags]", "-auth-secret"},
		{[]string{"help"}, "Usage:\n  orderflow [serve] [flags]", "-auth-secret"},
		{[]string{"serve"}, "Usage:\n  orderflow [serve] [flags]", "-auth-secret"},
		{[]string{"replay"}, "Usage of orderflow replay", "-projection"},
		{[]string{"load"}, "Usage: orderflow load", "-target"},
		{[]string{"token"}, "Usage of orderflow token", "-secret"},
		{[]string{"cdc"}, "Usage of orderflow cdc", "-pg"},
		{[]string{"verify"}, "Usage: orderflow verify", "-kafka-brokers"},
		{[]string{"backup"}, "Usage: orderflow backup", "-out"},
		{[]string{"devbroker"}, "Usage: orderflow devbroker", "-fsync"},
	}
	for _, tt := range tests {
		name := "orderflow " + strings.Join(tt.command, " ")
		for _, help := range []string{"-h", "--help"} {
			args := append(append([]string(nil), tt.command...), help)
			if len(tt.command) == 1 && tt.command[0] == "help" {
				args = tt.command
			}
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				res := runBinary(t, bin, 20*time.Second, args...)
				if res.code != 0 || res.stderr != "" {
					t.Fatalf("%s %s: exit %d, stderr %q; want 0 and nothing on stderr", name, help, res.code, res.stderr)
				}
				for _, want := range []string{tt.usage, tt.flag} {
					if !strings.Contains(res.stdout, want) {
						t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
					}
				}
			})
		}
		if len(tt.command) == 1 && tt.command[0] == "help" {
			continue // help takes no flags
		}
		t.Run(name+" --no-such-flag", func(t *testing.T) {
			res := runBinary(t, bin, 20*time.Second, append(append([]string(nil), tt.command...), "--no-such-flag")...)
			command := strings.TrimSuffix("orderflow "+strings.Join(tt.command, " "), " ")
			if command == "orderflow serve" {
				command = "orderflow"
			}
			want := command + ": flag provided but not defined: -no-such-flag\nRun \"" + command + " -h\" for the flags.\n"
			if res.code != 2 || res.stdout != "" || res.stderr != want {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", res.code, res.stdout, res.stderr, want)
			}
		})
	}
}
