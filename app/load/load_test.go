package load_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"orderflow/app"
	"orderflow/app/load"
	"orderflow/graph/access"
)

// TestLoadAgainstRealApp runs a short load against the real application on
// a loopback port and checks the summary's accounting: every acknowledged
// order is found, validated and counted, and nothing failed on the way.
func TestLoadAgainstRealApp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := app.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DBPath = filepath.Join(t.TempDir(), "o.db")
	a, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start app: %v", err)
	}
	defer a.Shutdown(ctx)

	var stdout, stderr bytes.Buffer
	code := load.Main(ctx, []string{
		"--target", a.URL(), "--clients", "4", "--duration", "2s", "--customers", "5", "--products", "3",
	}, &stdout, &stderr)
	t.Logf("stderr:\n%s", stderr.String())
	t.Logf("stdout:\n%s", stdout.String())
	if code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}

	out := stdout.String()
	placed := summaryInt(t, out, "orders placed")
	if placed == 0 {
		t.Errorf("orders placed = 0, want some")
	}
	if n := summaryInt(t, out, "errors"); n != 0 {
		t.Errorf("errors = %d, want 0", n)
	}
	if n := summaryInt(t, out, "PENDING"); n != 0 {
		t.Errorf("PENDING = %d after the drain, want 0", n)
	}
	if n := summaryInt(t, out, "FAILED"); n != 0 {
		t.Errorf("FAILED = %d, want 0", n)
	}
	if n := summaryInt(t, out, "VALIDATED"); n != placed {
		t.Errorf("VALIDATED = %d, want every placed order (%d)", n, placed)
	}
	for _, want := range []string{"NumCPU ", "go1.", "orders/s placed:", "orders/s settled:", "placeOrder latency ms:", "placed→VALIDATED ms:"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if !strings.Contains(stderr.String(), "placed/s") {
		t.Errorf("no progress line on stderr")
	}
}

// TestLoadWithToken runs against the real application with access control
// on: refused at the seed without a token, and accounted in full with an
// admin token.
func TestLoadWithToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	secret := strings.Repeat("k", 32)
	cfg := app.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DBPath = filepath.Join(t.TempDir(), "o.db")
	cfg.AuthSecret = secret
	a, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start app: %v", err)
	}
	defer a.Shutdown(ctx)
	args := []string{"--target", a.URL(), "--clients", "2", "--duration", "1s", "--customers", "2", "--products", "1"}

	var stdout, stderr bytes.Buffer
	if code := load.Main(ctx, args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "UNAUTHENTICATED") {
		t.Errorf("without a token: exit %d, stderr %q; want 1 and UNAUTHENTICATED", code, stderr.String())
	}

	tok, err := access.Issue([]byte(secret), access.Caller{Subject: "load", Role: access.RoleAdmin}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := load.Main(ctx, append(args, "--token", tok), &stdout, &stderr); code != 0 {
		t.Fatalf("with an admin token: exit %d\nstderr:\n%s", code, stderr.String())
	}
	placed := summaryInt(t, stdout.String(), "orders placed")
	if placed == 0 || summaryInt(t, stdout.String(), "errors") != 0 || summaryInt(t, stdout.String(), "VALIDATED") != placed {
		t.Errorf("with an admin token, want every placed order validated and no errors:\n%s", stdout.String())
	}
}

// summaryInt reads the leading number of the summary line "name: N ...".
func summaryInt(t *testing.T, summary, name string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s+(\d+)`).FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("summary has no %q line", name)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// TestPlaceOrderFailuresAreCounted runs against a fake server on loopback
// that accepts the seed and refuses every order: the run completes, counts
// the failures by kind and places nothing.
func TestPlaceOrderFailuresAreCounted(t *testing.T) {
	tests := []struct {
		name     string
		refuse   func(w http.ResponseWriter)
		wantKind string
	}{
		{"GraphQL error", func(w http.ResponseWriter) {
			w.Write([]byte(`{"errors":[{"message":"no","extensions":{"code":"CONFLICT"}}],"data":null}`))
		}, "CONFLICT"},
		{"HTTP error", func(w http.ResponseWriter) {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		}, "HTTP 503"},
		{"not JSON", func(w http.ResponseWriter) {
			w.Write([]byte(`<html>`))
		}, "bad response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req struct{ Query string }
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				if strings.Contains(req.Query, "placeOrder") {
					tt.refuse(w)
					return
				}
				w.Write([]byte(`{"data":{}}`))
			}))
			defer srv.Close()

			var stdout, stderr bytes.Buffer
			code := load.Main(context.Background(), []string{
				"--target", srv.URL, "--clients", "2", "--duration", "300ms", "--customers", "2", "--products", "1",
			}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit code %d, want 0; stderr:\n%s", code, stderr.String())
			}
			out := stdout.String()
			if n := summaryInt(t, out, "orders placed"); n != 0 {
				t.Errorf("orders placed = %d, want 0", n)
			}
			if n := summaryInt(t, out, "errors"); n == 0 {
				t.Errorf("errors = 0, want the refused orders counted")
			}
			if !strings.Contains(out, "("+tt.wantKind+" ") {
				t.Errorf("summary does not sort the errors under %q:\n%s", tt.wantKind, out)
			}
		})
	}
}

// TestUnreachableTarget fails the seed with exit code 1 and says why.
func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	var stdout, stderr bytes.Buffer
	code := load.Main(context.Background(), []string{"--target", "http://" + addr, "--duration", "1s"}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "seed:") || !strings.Contains(stderr.String(), "transport") {
		t.Errorf("stderr %q, want the seed's transport error", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want no summary", stdout.String())
	}
}

// TestInterrupted stops a run early through its context: it ends soon,
// with exit code 1 and a summary marked incomplete.
func TestInterrupted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data":{}}`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()

	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := load.Main(ctx, []string{"--target", srv.URL, "--clients", "2", "--duration", "1h", "--customers", "2", "--products", "1"}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s after the context ended", d)
	}
	if !strings.Contains(stdout.String(), "interrupted:") {
		t.Errorf("summary not marked interrupted:\n%s", stdout.String())
	}
}

// TestFlagValidation checks that bad flags are refused with exit code 2 and
// a message naming the flag, before anything is sent anywhere.
func TestFlagValidation(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown flag", []string{"--nope"}, "flag provided but not defined: -nope"},
		{"stray argument", []string{"now"}, `unexpected argument "now"`},
		{"zero clients", []string{"--clients", "0"}, "--clients must be between 1 and"},
		{"too many clients", []string{"--clients", "100000"}, "--clients must be between 1 and"},
		{"not a number", []string{"--clients", "many"}, `invalid value "many" for flag -clients`},
		{"zero duration", []string{"--duration", "0s"}, "--duration must be positive"},
		{"negative duration", []string{"--duration", "-1s"}, "--duration must be positive"},
		{"duration without unit", []string{"--duration", "5"}, `invalid value "5" for flag -duration`},
		{"no customers", []string{"--customers", "0"}, "--customers must be at least 1"},
		{"no products", []string{"--products", "0"}, "--products must be at least 1"},
		{"no stock", []string{"--stock", "0"}, "--stock must be between 1 and"},
		{"stock beyond one addStock", []string{"--stock", "1000000001"}, "--stock must be between 1 and"},
		{"no lines", []string{"--lines", "0"}, "--lines must be between 1 and 100"},
		{"more lines than the domain allows", []string{"--lines", "101", "--products", "200"}, "--lines must be between 1 and 100"},
		{"more lines than products", []string{"--lines", "4", "--products", "3"}, "--lines (4) must not exceed --products (3)"},
		{"no seed concurrency", []string{"--seed-concurrency", "0"}, "--seed-concurrency must be between 1 and"},
		{"target without scheme", []string{"--target", "localhost:8080"}, "want an http:// or https:// URL"},
		{"target of another scheme", []string{"--target", "ftp://example.com/graphql"}, "want an http:// or https:// URL"},
		{"target without host", []string{"--target", "http:///graphql"}, "want an http:// or https:// URL"},
		{"unparseable target", []string{"--target", "http://[::1"}, "--target:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := load.Main(context.Background(), tt.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit code %d, want 2 (stderr %q)", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := load.Main(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	for _, flag := range []string{"-target", "-clients", "-duration", "-customers", "-products", "-stock", "-lines", "-seed-concurrency"} {
		if !strings.Contains(stdout.String(), flag) {
			t.Errorf("help lacks %s:\n%s", flag, stdout.String())
		}
	}
}

func TestTargetURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://localhost:8080", "http://localhost:8080/graphql"},
		{"http://localhost:8080/", "http://localhost:8080/graphql"},
		{"http://127.0.0.1:9/graphql", "http://127.0.0.1:9/graphql"},
		{"https://shop.example/api/graphql", "https://shop.example/api/graphql"},
		{"http://[::1]:8080", "http://[::1]:8080/graphql"},
	}
	for _, tt := range tests {
		got, err := load.TargetURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("TargetURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 99, 0},
		{"one value, p50", ms(7), 50, 7 * time.Millisecond},
		{"one value, p99", ms(7), 99, 7 * time.Millisecond},
		{"two values, p50 is the lower", ms(1, 2), 50, 1 * time.Millisecond},
		{"two values, p51 is the upper", ms(1, 2), 51, 2 * time.Millisecond},
		{"p100 is the maximum", ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{"tiny p is the minimum", ms(1, 2, 3, 4), 0.1, 1 * time.Millisecond},
		{"p0 is clamped to the minimum", ms(1, 2, 3, 4), 0, 1 * time.Millisecond},
		{"1..100 p50", ms(hundred...), 50, 50 * time.Millisecond},
		{"1..100 p95", ms(hundred...), 95, 95 * time.Millisecond},
		{"1..100 p99", ms(hundred...), 99, 99 * time.Millisecond},
		{"1..100 p99.5 rounds up", ms(hundred...), 99.5, 100 * time.Millisecond},
		{"ten values p99 is the largest", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"ten values p90", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := load.Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(p%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}
