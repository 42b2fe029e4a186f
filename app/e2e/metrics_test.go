package e2e

import (
	"io"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsScrape is one parsed GET /metrics.
type metricsScrape map[string]*dto.MetricFamily

// scrapeMetrics gets /metrics and parses it as the Prometheus text format.
func (c *client) scrapeMetrics(t testing.TB) metricsScrape {
	t.Helper()
	resp, err := c.http.Get(c.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics is not the Prometheus text format: %v", err)
	}
	return families
}

// value returns the value of the named gauge, counter or untyped sample
// whose labels include the given name-value pairs.
func (s metricsScrape) value(name string, labels ...string) (float64, bool) {
	m := s.sample(name, labels...)
	switch {
	case m == nil:
		return 0, false
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

func (s metricsScrape) sample(name string, labels ...string) *dto.Metric {
	f := s[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// TestMetrics checks /metrics shows the log head, every reaction and every
// projection, in the Prometheus text format, and that they catch up.
func TestMetrics(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	c.registerCustomer(t, "c-m", "Metric", "m@example.com", "1 Gauge St")
	head := float64(len(c.quiesce(t)))
	c.waitProjectionsLive(t)
	s := c.scrapeMetrics(t)
	for _, want := range []struct {
		name   string
		labels []string
		value  float64
	}{
		{"orderflow_log_head_position", nil, head},
		{"orderflow_reaction_position", []string{"reaction", "inventory"}, head},
		{"orderflow_reaction_position", []string{"reaction", "order-process"}, head},
		{"orderflow_reaction_lag", []string{"reaction", "fraud"}, 0},
		{"orderflow_projection_position", []string{"projection", "orders"}, head},
		{"orderflow_projection_lag", []string{"projection", "customers"}, 0},
		{"orderflow_projection_lag_seconds", []string{"projection", "customers"}, 0},
		{"orderflow_projection_rebuilding", []string{"projection", "stock"}, 0},
	} {
		if got, ok := s.value(want.name, want.labels...); !ok || got != want.value {
			t.Errorf("%s%v = %v (present %v), want %v", want.name, want.labels, got, ok, want.value)
		}
	}
}

// TestMetricsAfterPlaceOrder checks that a scrape after an order carries
// the runtime and process collectors, the log head, a position for every
// projection, the placeOrder latency and the log writer's tallies.
func TestMetricsAfterPlaceOrder(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	c.registerCustomer(t, "c-mp", "Metric", "mp@example.com", "2 Histogram Rd")
	c.upsertProduct(t, "p-mp", "Bucket", 500)
	c.addStock(t, "p-mp", 5)
	c.placeValidated(t, "o-mp", "c-mp", []Line{{"p-mp", 1}})
	s := c.scrapeMetrics(t)

	if _, ok := s.value("go_goroutines"); !ok {
		t.Error("/metrics lacks go_goroutines")
	}
	process := 0
	for name := range s {
		if strings.HasPrefix(name, "process_") {
			process++
		}
	}
	if process == 0 {
		t.Error("/metrics has no process_* metric")
	}
	if head, ok := s.value("orderflow_log_head_position"); !ok || head <= 0 {
		t.Errorf("orderflow_log_head_position = %v (present %v), want > 0", head, ok)
	}
	for _, p := range c.projections(t) {
		if _, ok := s.value("orderflow_projection_position", "projection", p.Name); !ok {
			t.Errorf("/metrics lacks orderflow_projection_position for projection %s", p.Name)
		}
	}
	if h := s.sample("orderflow_place_order_seconds"); h == nil || h.Histogram == nil || h.Histogram.GetSampleCount() < 1 {
		t.Errorf("orderflow_place_order_seconds = %v, want a histogram with at least one observation", h)
	}
	for _, name := range []string{"orderflow_writer_commits_total", "orderflow_writer_writes_total", "orderflow_writer_busy_seconds_total"} {
		if v, ok := s.value(name); !ok || v <= 0 {
			t.Errorf("%s = %v (present %v), want > 0 after an order", name, v, ok)
		}
	}
}
