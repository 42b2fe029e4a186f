package graph

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"

	"orderflow/events"
	"orderflow/graph/access"
	"orderflow/graph/generated"
)

// NewHandler serves the GraphQL endpoint: POST and GET queries, and
// WebSocket for subscriptions (graphql-transport-ws by our own transport,
// see wsTransport; the older graphql-ws by gqlgen's), within limits. Callers are told
// apart by the verifier's tokens, in the Authorization header or, over
// WebSocket, in the connection_init payload; a nil verifier serves everyone
// as admin.
func NewHandler(r *Resolver, log *slog.Logger, limits Limits, verifier *access.Verifier) http.Handler {
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: r, Complexity: complexity()}))
	present := ErrorPresenter(log)
	srv.AddTransport(newWSTransport(websocketInit(verifier), limits.WebsocketInitTimeout, 10*time.Second, limits.MaxBodyBytes, present))
	// Clients of the older graphql-ws subprotocol (subscriptions-transport-ws).
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 10 * time.Second,
		InitTimeout:           limits.WebsocketInitTimeout,
		InitFunc:              websocketInit(verifier),
	})
	srv.AddTransport(transport.Options{})
	// Answered as the GraphQL over HTTP spec asks (see overHTTP).
	srv.AddTransport(overHTTP{transport.GET{}})
	srv.AddTransport(overHTTP{transport.POST{}})
	srv.SetQueryCache(newQueryCache(limits.QueryCacheBytes))
	// The cheap counts first, so that their refusal names what was exceeded.
	srv.Use(requestLimits{maxAliases: limits.MaxAliases, maxMutations: limits.MaxMutations, introspection: limits.Introspection})
	srv.Use(extension.FixedComplexityLimit(limits.MaxComplexity))
	if limits.Introspection {
		srv.Use(extension.Introspection{})
	}
	if events.Tracing() {
		srv.Use(operationSpans{})
	}
	srv.AroundFields(MarkResolverErrors)
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(Recover(log))
	return withRequestID(limitRequest(access.Authenticate(verifier, srv), limits.MaxBodyBytes, present))
}

type requestIDKey struct{}

// withRequestID gives every request an id, in its context for the logs and
// in the X-Request-Id response header, so that an INTERNAL error a client
// reports can be found in the log.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// requestID is the id of the request ctx belongs to; a context that is not a
// request's gets a new one, so an error is still found by its id.
func requestID(ctx context.Context) string {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		return id
	}
	return uuid.NewString()
}

// errTokenExpired ends a WebSocket connection whose token expires.
var errTokenExpired = errors.New("the token has expired")

// websocketInit takes the caller from the connection_init payload
// ({"Authorization": "Bearer <token>"}, as browsers cannot set headers on
// a WebSocket), else keeps the one of the upgrade request's header. The
// connection is closed when the token expires, so a subscription does not
// outlive the right to see what it shows.
func websocketInit(verifier *access.Verifier) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		if auth := p.Authorization(); auth != "" && verifier != nil {
			ctx = verifier.Context(ctx, auth)
		}
		if exp := access.Expires(ctx); !exp.IsZero() {
			// The reason gqlgen's transport gives, and the cause ours does.
			ctx = transport.AppendCloseReason(ctx, "the token has expired")
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadlineCause(ctx, exp, errTokenExpired)
			// The connection's end (its request context) releases the timer.
			context.AfterFunc(ctx, cancel)
		}
		return ctx, nil, nil
	}
}
