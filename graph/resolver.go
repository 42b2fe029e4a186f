// Package graph is the GraphQL API: the schema in graph/schema, the code
// gqlgen generates from it (graph/generated, graph/model, never edited by
// hand), and thin resolvers that call command handlers and read models.
package graph

import (
	"context"
	"time"

	"orderflow/commands"
	"orderflow/events"
	"orderflow/graph/model"
	"orderflow/projections"
)

// Resolver holds what the resolvers call. It is built once in app.
type Resolver struct {
	Commands commands.API
	Views    *projections.Views
	// Projections is waited on after each mutation, so that a query right
	// after it sees what it wrote (read-your-writes).
	Runner *projections.Runner
	Store  *events.Store
	// Orders feeds the orderUpdated subscriptions.
	Orders *OrderFeed
	// Log answers history questions (an order's events, its timeline, the
	// order at a version) straight from the event store.
	Log *projections.History
	// WaitTimeout bounds every wait of a mutation for the read models.
	WaitTimeout time.Duration
	// Admit, when set, is asked before an order is placed; it returns once
	// the asynchronous validation has room for it, or an error when it did
	// not within the context (admission control: validation lag stays
	// bounded instead of a backlog building up).
	Admit func(ctx context.Context) error
	// Redeliver hands a reaction's dead letter to it again and
	// returns once it was handled, or why it failed again.
	Redeliver func(ctx context.Context, id int64) error
	// Scrub, when set, is called once a forgetCustomer shows in the read
	// models: it leaves no older copy of an overwritten page in the
	// database files (see events.DB.Scrub).
	Scrub func(ctx context.Context) error
	// ObservePlaceOrder, when set, is told how long each placeOrder call
	// took, failed ones included, waits for the read models included.
	ObservePlaceOrder func(time.Duration)
	// Stats reads the figures /metrics serves, for the stats query.
	Stats func(ctx context.Context) (*model.Stats, error)
}

// Page size limits of list queries.
const (
	maxPage   = 100
	maxEvents = 1000
)

// observePlaceOrder reports the time since start to ObservePlaceOrder, if set.
func (r *Resolver) observePlaceOrder(start time.Time) {
	if r.ObservePlaceOrder != nil {
		r.ObservePlaceOrder(time.Since(start))
	}
}

func (r *Resolver) projectionNames() []string {
	var names []string
	for _, s := range r.Runner.Statuses() {
		names = append(names, s.Name)
	}
	return names
}
