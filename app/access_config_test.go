package app

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// Without an auth secret the server is open, so it listens on localhost
// unless told where; with one it listens on every interface by default.
func TestParseFlagsAddrAndAuth(t *testing.T) {
	secret := strings.Repeat("s", 32)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string
		wantErr  string
	}{
		{"open, nothing given", nil, nil, "localhost:8080", ""},
		{"open, --addr given", []string{"--addr", ":9090"}, nil, ":9090", ""},
		{"open, ORDERFLOW_ADDR given", nil, map[string]string{"ORDERFLOW_ADDR": "0.0.0.0:8080"}, "0.0.0.0:8080", ""},
		{"secret by flag", []string{"--auth-secret", secret}, nil, ":8080", ""},
		{"secret by env", nil, map[string]string{"ORDERFLOW_AUTH_SECRET": secret}, ":8080", ""},
		{"secret and --addr", []string{"--auth-secret", secret, "--addr", "localhost:7000"}, nil, "localhost:7000", ""},
		{"secret too short", []string{"--auth-secret", "hunter2"}, nil, "", "at least 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseFlags("orderflow serve", tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Addr != tt.wantAddr {
				t.Errorf("Addr = %q, want %q", cfg.Addr, tt.wantAddr)
			}
		})
	}
}

// An open server says so, once, when it starts; a closed one does not.
func TestStartSaysWhenAccessControlIsOff(t *testing.T) {
	for _, tt := range []struct {
		secret string
		want   int
	}{{"", 1}, {strings.Repeat("s", 32), 0}} {
		var out bytes.Buffer
		a := startTestApp(t, filepath.Join(t.TempDir(), "o.db"), slog.New(slog.NewTextHandler(&out, nil)),
			func(c *Config) { c.AuthSecret = tt.secret })
		if err := a.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(out.String(), "access control is off"); got != tt.want {
			t.Errorf("secret %q: %d lines say access control is off, want %d:\n%s", tt.secret, got, tt.want, out.String())
		}
	}
}
