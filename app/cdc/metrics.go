package cdc

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves the run's progress at /metrics, read from stats at
// each scrape, and its readiness at /readyz.
func metricsHandler(s *Stats) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collectors(s)...)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// /readyz answers 200 while streaming, and else 503 with why not
	// (cannot reach host:port, the snapshot under way, …).
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if p := s.Problem(); p != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", p)
			return
		}
		fmt.Fprintln(w, "ready: streaming")
	})
	return mux
}

// Collectors are the orderflow_cdc_* metrics of a run, read from s at each
// scrape: served by `orderflow cdc --metrics-addr`, and by the server's
// /metrics when it runs the follower (--cdc-pg).
func Collectors(s *Stats) []prometheus.Collector {
	var out []prometheus.Collector
	counter := func(name, help string, f func() float64) {
		out = append(out, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	gauge := func(name, help string, f func() float64) {
		out = append(out, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter("orderflow_cdc_rows_snapshotted_total", "Rows read by the initial snapshot and applied.",
		func() float64 { return float64(s.RowsSnapshotted.Load()) })
	counter("orderflow_cdc_changes_applied_total", "Row changes (and snapshot rows) turned into commands.",
		func() float64 { return float64(s.ChangesApplied.Load()) })
	counter("orderflow_cdc_changes_skipped_total", "Row changes met again after a reconnection that had been applied before.",
		func() float64 { return float64(s.ChangesSkipped.Load()) })
	counter("orderflow_cdc_changes_rejected_total", "Rows the domain refused (logged with the reason).",
		func() float64 { return float64(s.ChangesRejected.Load()) })
	counter("orderflow_cdc_changes_ignored_total", "Changes (or parts) the domain keeps no record of: a customer's new name or email, a deleted customer, a TRUNCATE (logged).",
		func() float64 { return float64(s.ChangesIgnored.Load()) })
	counter("orderflow_cdc_reconnects_total", "Times the connection to the source was lost and made again.",
		func() float64 { return float64(s.Reconnects.Load()) })
	gauge("orderflow_cdc_lag_bytes", "Bytes of the source's WAL not yet applied.",
		func() float64 { return float64(s.LagBytes()) })
	gauge("orderflow_cdc_applied_lsn", "Source position up to which every change is in the store.",
		func() float64 { return float64(s.AppliedLSN.Load()) })
	gauge("orderflow_cdc_streaming", "1 while streaming from the source.", func() float64 {
		if s.Streaming.Load() {
			return 1
		}
		return 0
	})
	gauge("orderflow_cdc_source_unreachable", "1 while the last attempt to connect did not reach the source (wrong host, server down).",
		func() float64 {
			if s.Unreachable.Load() {
				return 1
			}
			return 0
		})
	return out
}
