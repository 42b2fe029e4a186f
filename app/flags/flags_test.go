package flags_test

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"orderflow/app/flags"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    time.Duration
		wantErr string
	}{
		{"default", nil, nil, time.Hour, ""},
		{"from the environment", nil, map[string]string{"ORDERFLOW_FRAUD_WINDOW": "2h"}, 2 * time.Hour, ""},
		{"the command line wins", []string{"--fraud-window", "3h"}, map[string]string{"ORDERFLOW_FRAUD_WINDOW": "2h"}, 3 * time.Hour, ""},
		{"a bad environment value names its variable", nil, map[string]string{"ORDERFLOW_FRAUD_WINDOW": "soon"}, 0, "ORDERFLOW_FRAUD_WINDOW"},
		{"a stray argument", []string{"extra"}, nil, 0, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			window := fs.Duration("fraud-window", time.Hour, "")
			err := flags.Parse(fs, tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || *window != tt.want {
				t.Fatalf("window = %v, err %v; want %v", *window, err, tt.want)
			}
		})
	}
}

// TestParseWithPrefix: a command with its own prefix reads only its own
// variables, so the server's ORDERFLOW_ADDR does not leak into it.
func TestParseWithPrefix(t *testing.T) {
	env := map[string]string{"ORDERFLOW_ADDR": ":8080", "ORDERFLOW_DEVBROKER_ADDR": "127.0.0.1:19092"}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:9092", "")
	if err := flags.ParseWithPrefix(fs, nil, func(k string) string { return env[k] }, "ORDERFLOW_DEVBROKER_"); err != nil {
		t.Fatal(err)
	}
	if *addr != "127.0.0.1:19092" {
		t.Fatalf("addr = %q, want ORDERFLOW_DEVBROKER_ADDR's 127.0.0.1:19092", *addr)
	}
}

// TestExit: -h and --help are answered on stdout with 0, a mistake on
// stderr with 2 and a pointer to -h; parsing itself prints nothing.
func TestExit(t *testing.T) {
	tests := []struct {
		args                   []string
		wantCode               int
		wantStdout, wantStderr string
	}{
		{[]string{"-h"}, 0, "Usage of cmd:\n  -n int\n    \tcount\n", ""},
		{[]string{"--help"}, 0, "Usage of cmd:\n  -n int\n    \tcount\n", ""},
		{[]string{"--m"}, 2, "", "cmd: flag provided but not defined: -m\nRun \"cmd -h\" for the flags.\n"},
		{[]string{"-n", "1", "more"}, 2, "", "cmd: unexpected argument \"more\"\nRun \"cmd -h\" for the flags.\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
			var leaked strings.Builder
			fs.SetOutput(&leaked)
			fs.Int("n", 0, "count")
			err := flags.Parse(fs, tt.args, func(string) string { return "" })
			if leaked.Len() > 0 {
				t.Errorf("parsing printed %q", leaked.String())
			}
			var stdout, stderr strings.Builder
			code := flags.Exit("cmd", err, &stdout, &stderr)
			if code != tt.wantCode || stdout.String() != tt.wantStdout || stderr.String() != tt.wantStderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q",
					code, stdout.String(), stderr.String(), tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}
