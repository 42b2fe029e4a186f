package graph

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"orderflow/events"
)

// TestOperationSpans: with tracing on, each query is a span named after
// its type and name, a child of the traceparent the client sent; with
// tracing off the handler starts none.
func TestOperationSpans(t *testing.T) {
	limits := Limits{MaxBodyBytes: 1 << 20, MaxComplexity: 1000, MaxAliases: 10, MaxMutations: 1,
		QueryCacheBytes: 1 << 20, WebsocketInitTimeout: time.Second, Introspection: true}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	post := func(h http.Handler) {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"query Hello { __typename }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	post(NewHandler(&Resolver{}, log, limits, nil))
	events.SetTracerProvider(tp)
	t.Cleanup(func() { events.SetTracerProvider(nil) })
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans with tracing off", n)
	}

	post(NewHandler(&Resolver{}, log, limits, nil))
	ended := rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans, want 1", len(ended))
	}
	s := ended[0]
	if s.Name() != "graphql query Hello" || s.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		s.Parent().SpanID().String() != "00f067aa0ba902b7" || !s.Parent().IsRemote() {
		t.Errorf("span %q with parent %v, want graphql query Hello under the client's span", s.Name(), s.Parent())
	}
}
