// Package graph is the GraphQL API: the schema in graph/schema, the code
// gqlgen generates from it (graph/generated, graph/model, never edited by
// hand), and thin resolvers that call command handlers and read models.
package graph

import (
	"time"

	"orderflow/commands"
	"orderflow/events"
	"orderflow/projections"
)

// Resolver holds what the resolvers call. It is built once in app.
type Resolver struct {
	Commands *commands.Handlers
	Views    *projections.Views
	// Projections is waited on after each mutation, so that a query right
	// after it sees what it wrote (read-your-writes).
	Projections *projections.Runner
	Store       *events.Store
	// WaitTimeout bounds every wait of a mutation for the read models.
	WaitTimeout time.Duration
}

// Page size limits of list queries.
const (
	maxPage   = 100
	maxEvents = 1000
)
