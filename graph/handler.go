package graph

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"

	"orderflow/graph/generated"
)

// NewHandler serves the GraphQL endpoint: POST and GET queries, and
// WebSocket (graphql-ws) for subscriptions, within limits.
func NewHandler(r *Resolver, log *slog.Logger, limits Limits) http.Handler {
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: r, Complexity: complexity()}))
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 10 * time.Second,
		InitTimeout:           limits.WebsocketInitTimeout,
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(newQueryCache(limits.QueryCacheBytes))
	// The cheap counts first, so that their refusal names what was exceeded.
	srv.Use(requestLimits{maxAliases: limits.MaxAliases, maxMutations: limits.MaxMutations, introspection: limits.Introspection})
	srv.Use(extension.FixedComplexityLimit(limits.MaxComplexity))
	if limits.Introspection {
		srv.Use(extension.Introspection{})
	}
	present := ErrorPresenter(log)
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(Recover(log))
	return limitRequest(srv, limits.MaxBodyBytes, present)
}

// Playground serves GraphiQL pointed at endpoint.
func Playground(endpoint string) http.Handler {
	return playground.Handler("orderflow", endpoint)
}
