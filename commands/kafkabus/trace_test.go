package kafkabus

import (
	"context"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"orderflow/commands"
	"orderflow/events"
)

// TestCommandsCarryTheirTrace: with tracing on, a command sent in a span
// carries the span's trace context in ce_traceparent, the member that
// carries it out continues that trace, and the reply it sends carries its
// own span's; with tracing off neither header is written nor read.
func TestCommandsCarryTheirTrace(t *testing.T) {
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	cmd := commands.Command{ID: "cmd-1", Name: commands.CmdAddStock, Context: "inventory", Key: "kettle"}
	send := func(ctx context.Context) map[string]string {
		return headersOf(record(CommandTopic("inventory"), withKey(withTraceOf(ctx, commandMessage(cmd, now)), cmd.Key)))
	}

	t.Run("off", func(t *testing.T) {
		ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled}))
		for name := range send(ctx) {
			if strings.HasPrefix(name, "ce_trace") {
				t.Errorf("tracing off, yet the command carries %s", name)
			}
		}
		rec := record(CommandTopic("inventory"), withKey(commandMessage(cmd, now), cmd.Key))
		if got := traceOf(context.Background(), rec); trace.SpanContextFromContext(got).IsValid() {
			t.Error("tracing off, yet a record's trace context was read")
		}
	})

	t.Run("on", func(t *testing.T) {
		tp := sdktrace.NewTracerProvider()
		events.SetTracerProvider(tp)
		t.Cleanup(func() { events.SetTracerProvider(nil); _ = tp.Shutdown(context.Background()) })

		ctx, span := events.StartSpan(context.Background(), "graphql mutation", trace.SpanKindServer, nil)
		defer span.End()
		h := send(ctx)
		want := span.SpanContext()
		if tp := h["ce_traceparent"]; tp != "00-"+want.TraceID().String()+"-"+want.SpanID().String()+"-01" {
			t.Fatalf("ce_traceparent %q, want the sender's span %s", tp, want.SpanID())
		}
		rec := record(CommandTopic("inventory"), withKey(withTraceOf(ctx, commandMessage(cmd, now)), cmd.Key))
		got := trace.SpanContextFromContext(traceOf(context.Background(), rec))
		if !got.IsRemote() || got.TraceID() != want.TraceID() || got.SpanID() != want.SpanID() {
			t.Errorf("the receiver's parent %v, want the sender's span %v", got, want)
		}
		// The member's span and its reply continue the trace.
		mctx, mspan := events.StartSpan(traceOf(context.Background(), rec), "execute AddStock", trace.SpanKindConsumer, nil)
		defer mspan.End()
		m, err := replyMessage("inventory", reply{CommandID: "cmd-1"}, now)
		if err != nil {
			t.Fatal(err)
		}
		rh := headersOf(record(RepliesTopic, withKey(withTraceOf(mctx, m), "cmd-1")))
		if tid := events.TraceID(rh["ce_traceparent"]); tid != want.TraceID().String() {
			t.Errorf("the reply's ce_traceparent %q, want trace %s", rh["ce_traceparent"], want.TraceID())
		}
		if md := (events.Metadata{}).WithTrace(mctx); md.TraceParent != rh["ce_traceparent"] {
			t.Errorf("the events of the command carry %q, want the member's span %q", md.TraceParent, rh["ce_traceparent"])
		}
	})
}
