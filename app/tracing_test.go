package app

import (
	"context"
	"testing"

	"orderflow/events"
)

// TestTracingIsOnOnlyWithAnEndpoint: the SDK's standard variables turn
// tracing on; anything else leaves it off, and starting it then turns
// nothing on.
func TestTracingIsOnOnlyWithAnEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		on   bool
	}{
		{"nothing set", nil, false},
		{"other OTEL variables", map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, false},
		{"an endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, true},
		{"a traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://localhost:4318/v1/traces"}, true},
		{"disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318", "OTEL_SDK_DISABLED": "TRUE"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			if got := tracingEnabled(getenv); got != tc.on {
				t.Fatalf("tracingEnabled = %v, want %v", got, tc.on)
			}
			if tc.on {
				return
			}
			stop, err := startTracing(context.Background(), []string{"api"}, getenv)
			if err != nil {
				t.Fatal(err)
			}
			if events.Tracing() {
				t.Error("tracing turned on")
			}
			if err := stop(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
}
