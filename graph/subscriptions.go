package graph

import (
	"context"
	"slices"

	"orderflow/graph/model"
)

// watchOrder pushes an order to a subscriber: as it stands now (if it
// exists), then each time its read model changes. It reads the read model
// whenever a projection advances, so a subscriber sees the same states a
// query would, in order. The channel closes when ctx ends (the client went
// away). A subscriber that does not keep up gets the newest state, not a
// queue of stale ones.
func watchOrder(ctx context.Context, r *Resolver, id string) <-chan *model.Order {
	out := make(chan *model.Order, 1)
	go func() {
		defer close(out)
		var last *model.Order
		for {
			changed := r.Runner.Changed()
			o, err := r.Views.Order(ctx, id)
			if err != nil {
				return
			}
			if cur := toOrder(o); cur != nil && orderChanged(last, cur) {
				select {
				case out <- cur:
					last = cur
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func orderChanged(before, now *model.Order) bool {
	return before == nil || before.Version != now.Version || before.Status != now.Status ||
		!slices.Equal(before.FailureReasons, now.FailureReasons)
}
