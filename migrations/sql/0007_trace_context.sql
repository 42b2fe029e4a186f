-- Tracing (OpenTelemetry, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set):
-- the W3C trace context (traceparent, tracestate) of the span an event was
-- decided in, so that what the event causes, in this process or another,
-- later or after a restart, continues the same trace. NULL when tracing
-- was off. Adding a nullable column rewrites nothing.
ALTER TABLE events ADD COLUMN trace_parent TEXT;
ALTER TABLE events ADD COLUMN trace_state TEXT;

-- The trace context is part of the envelope: an erasure leaves it as it is.
DROP TRIGGER events_keep_their_envelope;
CREATE TRIGGER events_keep_their_envelope BEFORE UPDATE OF
    position, id, stream_id, stream_version, type, schema_version, occurred_at,
    correlation_id, causation_id, source_position, cause_position, trace_parent, trace_state ON events
BEGIN
    SELECT RAISE(ABORT, 'events are immutable: only an erasure may blank personal fields');
END;
