package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"orderflow/events"
)

// operationSpans makes a span of every GraphQL query and mutation, the
// root of what a request causes: the commands it sends and, through the
// trace context its events carry, every reaction and projection in every
// process. A client that sends a W3C traceparent header has the operation
// join its trace. Subscriptions are not traced: each of their responses
// waits for the next change, so a span would measure the shop's quiet
// time. Added only with tracing on.
type operationSpans struct{}

var (
	_ graphql.HandlerExtension    = operationSpans{}
	_ graphql.ResponseInterceptor = operationSpans{}
)

func (operationSpans) ExtensionName() string                   { return "OperationSpans" }
func (operationSpans) Validate(graphql.ExecutableSchema) error { return nil }
func (operationSpans) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	op := graphql.GetOperationContext(ctx)
	kind, name := "query", op.OperationName
	if op.Operation != nil {
		if op.Operation.Operation == ast.Subscription {
			return next(ctx)
		}
		kind = string(op.Operation.Operation)
		if name == "" {
			name = op.Operation.Name
		}
	}
	spanName := "graphql " + kind
	if name != "" {
		spanName += " " + name
	}
	if !trace.SpanContextFromContext(ctx).IsValid() && op.Headers != nil {
		ctx = events.ContextWithTrace(ctx, op.Headers.Get("traceparent"), op.Headers.Get("tracestate"))
	}
	ctx, span := events.StartSpan(ctx, spanName, trace.SpanKindServer, nil,
		attribute.String("graphql.operation.type", kind), attribute.String("graphql.operation.name", name))
	resp := next(ctx)
	var err error
	if resp != nil && len(resp.Errors) > 0 {
		err = resp.Errors
	}
	events.EndSpan(span, err)
	return resp
}
