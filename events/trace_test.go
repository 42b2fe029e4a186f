package events_test

import (
	"context"
	"slices"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"orderflow/events"
)

const (
	parentA = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	parentB = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
)

// TestTracingOffIsFree: with tracing off nothing is started, formatted or
// read: spans are the no-op one of the context, metadata carries no trace
// context, and a traceparent given is not parsed.
func TestTracingOffIsFree(t *testing.T) {
	if events.Tracing() {
		t.Fatal("tracing is on before anything turned it on")
	}
	ctx := context.Background()
	got, span := events.StartSpan(ctx, "x", trace.SpanKindInternal, nil)
	if got != ctx || span.IsRecording() || span.SpanContext().IsValid() {
		t.Errorf("a span started with tracing off: %v", span.SpanContext())
	}
	events.EndSpan(span, nil)
	if p, s := events.TraceOf(events.ContextWithTrace(ctx, parentA, "")); p != "" || s != "" {
		t.Errorf("TraceOf = %q %q, want nothing", p, s)
	}
	if md := (events.Metadata{}).WithTrace(ctx); md != (events.Metadata{}) {
		t.Errorf("metadata %+v, want none", md)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		c, sp := events.StartSpan(ctx, "x", trace.SpanKindInternal, nil)
		events.EndSpan(sp, nil)
		_, _ = events.TraceOf(c)
		_, sp = events.StartBatchSpan(ctx, "react x", slices.Values([]events.Event{{TraceParent: parentA}}))
		events.EndSpan(sp, nil)
	}); allocs != 0 {
		t.Errorf("%v allocations per span with tracing off, want 0", allocs)
	}
}

// TestTraceContextIsKeptInTheLog: an event's traceparent and tracestate
// are stored with it, appended or imported, and read back.
func TestTraceContextIsKeptInTheLog(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	e := ev("A", 1)
	e.TraceParent, e.TraceState = parentA, "vendor=x"
	if _, err := s.Append(ctx, events.StreamAppend{StreamID: "order-1", Events: []events.Event{e, ev("B", 2)}}); err != nil {
		t.Fatal(err)
	}
	imported := events.Event{ID: "from-elsewhere", StreamID: "stock-p", StreamVersion: 1, Type: "C", SchemaVersion: 1,
		OccurredAt: time.Now(), SourcePosition: 40, Data: []byte(`{}`), TraceParent: parentB}
	if _, err := s.Import(ctx, []events.Event{imported}, nil); err != nil {
		t.Fatal(err)
	}
	for _, stream := range []struct {
		id      string
		parents []string
		state   string
	}{{"order-1", []string{parentA, ""}, "vendor=x"}, {"stock-p", []string{parentB}, ""}} {
		evs, err := s.ReadStream(ctx, stream.id, 0)
		if err != nil || len(evs) != len(stream.parents) {
			t.Fatalf("read %s: %d events, %v", stream.id, len(evs), err)
		}
		for i, e := range evs {
			if e.TraceParent != stream.parents[i] {
				t.Errorf("%s version %d: traceparent %q, want %q", stream.id, e.StreamVersion, e.TraceParent, stream.parents[i])
			}
		}
		if evs[0].TraceState != stream.state {
			t.Errorf("%s: tracestate %q, want %q", stream.id, evs[0].TraceState, stream.state)
		}
	}
	if got := events.TraceID(parentA); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("TraceID = %q", got)
	}
	if got := events.TraceID("not-a-traceparent"); got != "" {
		t.Errorf("TraceID of garbage = %q, want empty", got)
	}
}

// TestBatchSpanKeepsEachOrderInItsTrace: a batch of events of two traces
// is one span in the first one's trace, linked to the other; what it
// decides for the first continues the batch's span, what it decides for
// the other stays in that other trace.
func TestBatchSpanKeepsEachOrderInItsTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	events.SetTracerProvider(tp)
	t.Cleanup(func() { events.SetTracerProvider(nil) })

	a, b := events.Event{TraceParent: parentA}, events.Event{TraceParent: parentB}
	ctx, span := events.StartBatchSpan(context.Background(), "react inventory", slices.Values([]events.Event{a, {}, b, a}))
	if p, _ := events.Continued(ctx, a); events.TraceID(p) != events.TraceID(parentA) || p == parentA {
		t.Errorf("continued from the first trace: %q, want the batch span's, of trace %s", p, events.TraceID(parentA))
	}
	if p, _ := events.Continued(ctx, b); p != parentB {
		t.Errorf("continued from the second trace: %q, want its own %q", p, parentB)
	}
	if p, _ := events.Continued(ctx, events.Event{}); events.TraceID(p) != events.TraceID(parentA) {
		t.Errorf("continued from an untraced event: %q, want the batch span's", p)
	}
	events.EndSpan(span, nil)
	ended := rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want 1", len(ended))
	}
	s := ended[0]
	if s.Parent().TraceID().String() != events.TraceID(parentA) || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("batch span's parent %v, want the first event's span", s.Parent())
	}
	if links := s.Links(); len(links) != 1 || links[0].SpanContext.TraceID().String() != events.TraceID(parentB) {
		t.Errorf("batch span's links %v, want one, to the second trace", links)
	}
}
