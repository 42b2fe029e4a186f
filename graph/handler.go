package graph

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"

	"orderflow/graph/access"
	"orderflow/graph/generated"
)

// NewHandler serves the GraphQL endpoint: POST and GET queries, and
// WebSocket (graphql-ws) for subscriptions. Callers are told apart by the
// verifier's tokens, in the Authorization header or, over WebSocket, in
// the connection_init payload; a nil verifier serves everyone as admin.
func NewHandler(r *Resolver, log *slog.Logger, verifier *access.Verifier) http.Handler {
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: r}))
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 10 * time.Second,
		InitFunc:              websocketInit(verifier),
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.SetErrorPresenter(ErrorPresenter(log))
	srv.SetRecoverFunc(Recover(log))
	return access.Authenticate(verifier, srv)
}

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
			ctx = transport.AppendCloseReason(ctx, "the token has expired")
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, exp)
			// The connection's end (its request context) releases the timer.
			context.AfterFunc(ctx, cancel)
		}
		return ctx, nil, nil
	}
}

// Playground serves GraphiQL pointed at endpoint.
func Playground(endpoint string) http.Handler {
	return playground.Handler("orderflow", endpoint)
}
