package graph

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"orderflow/commands"
	"orderflow/graph/model"
)

// settled waits until the read models reflect a command's result, bounded
// by the wait timeout. When the timeout passes first the answer is
// errTimeout: the change is recorded, but the read models would answer the
// state from before it, which must not pass for the mutation's result.
func (r *Resolver) settled(ctx context.Context, res commands.Result) error {
	wait, cancel := context.WithTimeout(ctx, r.WaitTimeout)
	defer cancel()
	err := r.Runner.WaitFor(wait, res.Position)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return errTimeout // the wait timed out, not the caller
	}
	return err
}

// admitted waits, bounded by the wait timeout, until the asynchronous
// validation has room for another order. Nothing is written before it
// returns, so an overloaded answer can simply be retried.
func (r *Resolver) admitted(ctx context.Context) error {
	if r.Admit == nil {
		return nil
	}
	wait, cancel := context.WithTimeout(ctx, r.WaitTimeout)
	defer cancel()
	if err := r.Admit(wait); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %w", errOverloaded, err)
	}
	return nil
}

// orderAfter returns the order once it has left the given status, or as it
// stands when the wait timeout (counted from start) passes first.
func (r *Resolver) orderAfter(ctx context.Context, id string, leave model.OrderStatus, start time.Time) (*model.Order, error) {
	deadline := start.Add(r.WaitTimeout)
	for {
		changed := r.Runner.Changed()
		o, err := r.order(ctx, id)
		if err != nil || o.Status != leave {
			return o, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return o, nil
		}
		select {
		case <-changed:
		case <-time.After(left):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// answer is the order a mutation returns once the read models reflect it
// (settled). A caller that asked for nothing of the order but its id (as
// a shop's front end placing an order does) is answered with the id alone:
// the order is in the read models, and reading it back would cost a query
// and the decoding of its lines for nothing.
func (r *Resolver) answer(ctx context.Context, id string) (*model.Order, error) {
	if selectsOnlyID(ctx) {
		return &model.Order{ID: id}, nil
	}
	return r.order(ctx, id)
}

// selectsOnlyID says the field being resolved selects nothing of its
// Order but id (and __typename, which gqlgen answers itself), fragments
// included.
func selectsOnlyID(ctx context.Context) bool {
	if graphql.GetFieldContext(ctx) == nil {
		return false
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"Order"}) {
		if f.Name != "id" && f.Name != "__typename" {
			return false
		}
	}
	return true
}

// order reads an order a mutation just wrote: it must be there.
func (r *Resolver) order(ctx context.Context, id string) (*model.Order, error) {
	o, err := r.Views.Order(ctx, id)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, errTimeout
	}
	return toOrder(o), nil
}

// readAfter waits until the read models reflect a command's result and
// reads the row it wrote (keyed by the result's id): it must be there.
func readAfter[T any](ctx context.Context, r *Resolver, res commands.Result, read func(context.Context, string) (*T, error)) (*T, error) {
	if err := r.settled(ctx, res); err != nil {
		return nil, err
	}
	v, err := read(ctx, res.ID)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, errTimeout
	}
	return v, nil
}

// customerAfter reads a customer a mutation just wrote.
func (r *Resolver) customerAfter(ctx context.Context, res commands.Result) (*model.Customer, error) {
	c, err := readAfter(ctx, r, res, r.Views.Customer)
	return toCustomer(c), err
}
