package app

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"orderflow/events"
)

// tracingEnabled says the standard OpenTelemetry variables ask for traces
// to be exported (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set, OTEL_SDK_DISABLED not true).
func tracingEnabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// startTracing turns tracing on (events.SetTracerProvider) when the
// environment asks for it: spans exported by OTLP over HTTP, configured by
// the SDK's standard variables (OTEL_EXPORTER_OTLP_*, OTEL_TRACES_SAMPLER,
// OTEL_BSP_*, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES). The resource
// names the service "orderflow" (unless OTEL_SERVICE_NAME says otherwise)
// and the contexts the process runs, so one trace shows which process did
// what. Otherwise tracing stays off and costs nothing. The returned
// function flushes what is left and turns tracing off.
func startTracing(ctx context.Context, contexts []string, getenv func(string) string) (func(context.Context) error, error) {
	if !tracingEnabled(getenv) {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "orderflow"),
			attribute.String("orderflow.contexts", strings.Join(contexts, ","))),
		resource.WithProcessPID(), resource.WithHost(), resource.WithTelemetrySDK(),
		resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	events.SetTracerProvider(tp)
	return func(ctx context.Context) error {
		events.SetTracerProvider(nil)
		return tp.Shutdown(ctx)
	}, nil
}
