package load

import (
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

// percentile is the p-th percentile (0 < p ≤ 100) of sorted values by the
// nearest-rank method: the smallest value with at least p% of all values at
// or below it. It is 0 when there are no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(n) / 100))
	return sorted[min(max(rank, 1), n)-1]
}

// ms formats a percentile of sorted latencies in milliseconds, or "-"
// when there is nothing to measure.
func ms(sorted []time.Duration, p float64) string {
	if len(sorted) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(percentile(sorted, p))/float64(time.Millisecond))
}

// summary is the outcome of a run, as printed at its end.
type summary struct {
	cfg      config
	run      run
	seedTime time.Duration
	loadTime time.Duration // from the first client's start to the last one's stop

	placed       int
	errors       int
	errKinds     map[string]int
	lastErr      error
	placeLatency []time.Duration // sorted

	validated, failed, pending, other, missing int
	failureReasons                             map[string]int
	validateLatency                            []time.Duration // placement to VALIDATED, sorted
	settleSpan                                 time.Duration   // first placement to last settlement, server clock
	drainErrors                                int
	drainLastErr                               error
	// interrupted is set when the caller gave up before the drain ended:
	// the settlement figures are then incomplete.
	interrupted bool
}

func newSummary(cfg config, r run, seedTime, loadTime time.Duration, rec *recorder, dr *drainResult) summary {
	s := summary{
		cfg: cfg, run: r, seedTime: seedTime, loadTime: loadTime,
		placed: len(rec.placed), errors: rec.errors, errKinds: rec.errKinds, lastErr: rec.lastErr,
		placeLatency:   slices.Sorted(slices.Values(rec.latencies)),
		failureReasons: map[string]int{},
		drainErrors:    dr.errors.n, drainLastErr: dr.errors.last,
	}
	// Both ends of the settle span are the server's own timestamps, so the
	// rate does not depend on how the client's clock compares.
	var first, last time.Time
	for _, o := range dr.states {
		if o == nil {
			s.missing++
			continue
		}
		if first.IsZero() || o.CreatedAt.Before(first) {
			first = o.CreatedAt
		}
		switch o.Status {
		case "PENDING":
			s.pending++
		case "VALIDATED":
			s.validated++
			s.validateLatency = append(s.validateLatency, o.UpdatedAt.Sub(o.CreatedAt))
		case "FAILED":
			s.failed++
			for _, reason := range o.FailureReasons {
				s.failureReasons[reason]++
			}
		default:
			s.other++ // someone else paid, shipped or cancelled a load order
		}
		if o.settled() && o.UpdatedAt.After(last) {
			last = o.UpdatedAt
		}
	}
	// Orders the drain did not get to (the run was interrupted) are as
	// unknown as those it could not find.
	s.missing += s.placed - len(dr.states)
	if !last.IsZero() {
		s.settleSpan = last.Sub(first)
	}
	slices.Sort(s.validateLatency)
	return s
}

func (s summary) settled() int { return s.validated + s.failed }

// write prints the summary as one block of "name: value" lines.
func (s summary) write(w io.Writer) {
	line := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%-28s %s\n", name+":", fmt.Sprintf(format, args...))
	}
	fmt.Fprintln(w, "orderflow load summary")
	line("target", "%s (run %s)", s.cfg.target, s.run.id)
	line("machine", "NumCPU %d, GOMAXPROCS %d, %s %s/%s (of the load generator)",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	line("load", "%d clients for %s; %d customers, %d products, %d line(s) per order; seeded in %s",
		s.cfg.clients, s.cfg.duration, s.cfg.customers, s.cfg.products, s.cfg.lines, s.seedTime.Round(time.Millisecond))
	if s.interrupted {
		line("interrupted", "the run was stopped early: the settlement figures are incomplete")
	}
	line("orders placed", "%d", s.placed)
	line("orders/s placed", "%.1f (over %s)", rate(s.placed, s.loadTime), s.loadTime.Round(time.Millisecond))
	line("orders/s settled", "%.1f (%d settled, first placement to last settlement %s, server clock)",
		rate(s.settled(), s.settleSpan), s.settled(), s.settleSpan.Round(time.Millisecond))
	line("VALIDATED", "%d", s.validated)
	line("FAILED", "%d%s", s.failed, counts(s.failureReasons))
	line("PENDING", "%d", s.pending+s.missing)
	if s.missing > 0 {
		line("not read", "%d acknowledged orders whose state the drain could not read (counted as PENDING)", s.missing)
	}
	if s.other > 0 {
		line("other status", "%d (paid, shipped or cancelled by someone else)", s.other)
	}
	errLine := fmt.Sprint(s.errors)
	if s.errors > 0 {
		errLine += counts(s.errKinds) + fmt.Sprintf("; last: %v", s.lastErr)
	}
	line("errors", "%s", errLine)
	if s.drainErrors > 0 {
		line("drain errors", "%d; last: %v", s.drainErrors, s.drainLastErr)
	}
	line("placeOrder latency ms", "p50 %s  p95 %s  p99 %s",
		ms(s.placeLatency, 50), ms(s.placeLatency, 95), ms(s.placeLatency, 99))
	line("placed→VALIDATED ms", "p50 %s  p99 %s", ms(s.validateLatency, 50), ms(s.validateLatency, 99))
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// counts formats a tally as " (A 3, B 1)", keys sorted, or "" when empty.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
