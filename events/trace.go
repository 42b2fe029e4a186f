package events

import (
	"context"
	"iter"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracing follows one order through every context (OpenTelemetry): each
// event carries the W3C trace context (traceparent, tracestate) of the span
// it was decided in, stored with it in the log and carried in its records'
// headers, so a reaction in another process, or later in this one,
// continues the trace of the event that caused it.
//
// It is off unless app turns it on (SetTracerProvider) at start, before
// anything runs: then no span is started, no trace context is formatted,
// and events carry none. Every helper here checks Tracing first, so a
// caller on a hot path pays one atomic load.
var tracer atomic.Pointer[tracerHolder]

type tracerHolder struct{ trace.Tracer }

// TracerName is the instrumentation scope of orderflow's spans.
const TracerName = "orderflow"

// SetTracerProvider turns tracing on with tp (nil turns it off).
func SetTracerProvider(tp trace.TracerProvider) {
	if tp == nil {
		tracer.Store(nil)
		return
	}
	tracer.Store(&tracerHolder{tp.Tracer(TracerName)})
}

// Tracing says spans are recorded and trace contexts carried.
func Tracing() bool { return tracer.Load() != nil }

// StartSpan starts a span as a child of the span in ctx (or of the remote
// parent ContextWithTrace put there), linked to the trace contexts of
// links; ctx and the span unchanged (a no-op span) when tracing is off.
// End it with EndSpan.
func StartSpan(ctx context.Context, name string, kind trace.SpanKind, links []trace.Link, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	t := tracer.Load()
	if t == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.Start(ctx, name, trace.WithSpanKind(kind), trace.WithLinks(links...), trace.WithAttributes(attrs...))
}

// EndSpan ends a span, recording err when there is one.
func EndSpan(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// carrier is one trace context as the headers name it.
type carrier struct{ parent, state string }

func (c *carrier) Get(key string) string {
	switch key {
	case "traceparent":
		return c.parent
	case "tracestate":
		return c.state
	}
	return ""
}

func (c *carrier) Set(key, value string) {
	switch key {
	case "traceparent":
		c.parent = value
	case "tracestate":
		c.state = value
	}
}

func (c *carrier) Keys() []string { return []string{"traceparent", "tracestate"} }

var w3c propagation.TraceContext

// TraceOf is the W3C traceparent and tracestate of the span in ctx; ""
// when tracing is off or ctx holds no valid span context.
func TraceOf(ctx context.Context) (parent, state string) {
	if !Tracing() || !trace.SpanContextFromContext(ctx).IsValid() {
		return "", ""
	}
	var c carrier
	w3c.Inject(ctx, &c)
	return c.parent, c.state
}

// ContextWithTrace is ctx with the trace context of a traceparent and
// tracestate (from an event or a record's headers) as the remote parent of
// the spans started in it; ctx itself when tracing is off or the
// traceparent is empty or not valid.
func ContextWithTrace(ctx context.Context, parent, state string) context.Context {
	if parent == "" || !Tracing() {
		return ctx
	}
	return w3c.Extract(ctx, &carrier{parent: parent, state: state})
}

// SpanContextOf is the span context of an event's trace context; not
// valid when it has none.
func SpanContextOf(parent, state string) trace.SpanContext {
	if parent == "" {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(w3c.Extract(context.Background(), &carrier{parent: parent, state: state}))
}

// TraceID is the trace id of a traceparent (32 hex digits), "" when it is
// not a valid one.
func TraceID(parent string) string {
	sc := SpanContextOf(parent, "")
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// WithTrace is md carrying the trace context of the span in ctx, so the
// events it stamps continue that span's trace; md itself when tracing is
// off.
func (md Metadata) WithTrace(ctx context.Context) Metadata {
	if p, s := TraceOf(ctx); p != "" {
		md.TraceParent, md.TraceState = p, s
	}
	return md
}

// StartBatchSpan starts the span of a batch of events (a reaction's
// decisions, a projection's batch): a child of the first traced event's
// context, linked to the others', so that one order's story stays one
// trace. Events decided in it pass their trace on with Continued.
func StartBatchSpan(ctx context.Context, name string, evs iter.Seq[Event], attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !Tracing() {
		return ctx, trace.SpanFromContext(ctx)
	}
	var parent trace.SpanContext
	var links []trace.Link
	seen := map[trace.SpanID]bool{}
	for e := range evs {
		sc := SpanContextOf(e.TraceParent, e.TraceState)
		if !sc.IsValid() || seen[sc.SpanID()] {
			continue
		}
		seen[sc.SpanID()] = true
		if !parent.IsValid() {
			parent = sc
			continue
		}
		links = append(links, trace.Link{SpanContext: sc})
	}
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	return StartSpan(ctx, name, trace.SpanKindConsumer, links, attrs...)
}

// Continued is the trace context an event decided in the span of ctx
// passes on for its cause: the span's own when the cause is of its trace
// (or has none), else the cause's (a batch of several orders: each order's
// events stay in its own trace, linked to the batch's span).
func Continued(ctx context.Context, cause Event) (parent, state string) {
	if !Tracing() {
		return "", ""
	}
	sc := trace.SpanContextFromContext(ctx)
	if c := SpanContextOf(cause.TraceParent, cause.TraceState); c.IsValid() && (!sc.IsValid() || c.TraceID() != sc.TraceID()) {
		return cause.TraceParent, cause.TraceState
	}
	return TraceOf(ctx)
}
