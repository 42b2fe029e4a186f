package cdc_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUnreachableSource: a source that cannot be reached (here: its server
// is down, as with a wrong host or port) does not stop cdc. It says
// "cannot reach host:port" on one line, keeps retrying, and shows it in
// /readyz and /metrics; once the server is up it streams and is ready.
func TestUnreachableSource(t *testing.T) {
	pg := startPostgres(t, "logical")
	pg.Exec(legacySchema, `INSERT INTO products VALUES ('p1', 'Widget', 1000)`)
	pg.Stop()

	cfg := testConfig(pg.DSN(), filepath.Join(t.TempDir(), "orderflow.db"))
	cfg.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	run := startCDC(t, cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", pg.port)

	waitFor(t, "retries", 30*time.Second, func() bool { return run.stats.Reconnects.Load() >= 3 })
	if !run.stats.Unreachable.Load() {
		t.Fatal("Stats.Unreachable is not set")
	}
	code, body := get(t, "http://"+cfg.MetricsAddr+"/readyz")
	if want := "cannot reach " + addr + ": connect: connection refused"; code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Fatalf("/readyz = %d %q, want 503 saying %q", code, body, want)
	}
	if _, m := get(t, "http://"+cfg.MetricsAddr+"/metrics"); !strings.Contains(m, "\norderflow_cdc_source_unreachable 1\n") {
		t.Fatalf("/metrics lacks orderflow_cdc_source_unreachable 1:\n%s", m)
	}
	log := run.log.String()
	if !strings.Contains(log, "cannot reach the source, retrying") || !strings.Contains(log, "cannot reach "+addr) {
		t.Errorf("the log does not say it cannot reach %s:\n%s", addr, log)
	}
	if strings.Contains(log, "lost the source") {
		t.Error("the log says it lost a source it never reached")
	}
	if strings.Contains(log, `\n`) || strings.Contains(log, `\t`) {
		t.Errorf("the log has literal escapes:\n%s", log)
	}

	pg.Start()
	waitFor(t, "streaming once the server is up", 30*time.Second, func() bool { return run.stats.Streaming.Load() })
	if code, body := get(t, "http://"+cfg.MetricsAddr+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d %q once streaming, want 200", code, body)
	}
	if run.stats.Unreachable.Load() || run.stats.RowsSnapshotted.Load() != 1 {
		t.Fatalf("unreachable = %v, rows snapshotted = %d; want false, 1",
			run.stats.Unreachable.Load(), run.stats.RowsSnapshotted.Load())
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
