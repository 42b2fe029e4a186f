package commands

import (
	"context"
	"log/slog"
	"time"

	"orderflow/domain/order"
	"orderflow/events"
)

// DeadlineTimer is the orders context's clock: it finds the orders whose
// deadline has passed (a PENDING order not validated within the validation
// deadline, a VALIDATED one not paid within the payment deadline) and asks
// the order's single writer to expire them (Handlers.ExpireOrder).
//
// Guarantees, before the mechanism:
//   - Durable: a deadline is a fact of the log (the order's placement or
//     validation and its time), kept in the deadlines read model, not a
//     timer in memory. A process that was down when a deadline passed finds
//     the order due when it starts, and expires it then.
//   - One outcome: the timer only asks; the order's stream decides, with an
//     expected version, as for any command on it. An expiry racing a
//     validation or a payment is decided by whichever is appended first;
//     the other finds the order moved on and records nothing (a payment
//     that lost is refunded by payments).
//   - Scales with the orders context: split into services, each member
//     asks only for the orders of the partitions it owns (Owns), and asks
//     through the orders command topic, so that the owner decides inside
//     its Kafka transaction, fenced like its other decisions. A member
//     that lost the partition in between cannot make the expiry take
//     effect; the new owner's timer asks again.
//   - At least once: an order still due is asked for again after Retry,
//     whatever became of the earlier ask.
type DeadlineTimer struct {
	Deadlines order.Deadlines
	// Due lists at most limit orders whose deadline has passed at now,
	// oldest first (the deadlines read model).
	Due func(ctx context.Context, d order.Deadlines, now time.Time, limit int) ([]string, error)
	// Owns says this process is the writer of an order now; nil for every
	// order (one process).
	Owns func(orderID string) bool
	// Expire asks the order's writer to expire it.
	Expire func(ctx context.Context, orderID string) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	Log *slog.Logger
}

// deadlineRetry is how long the timer waits before it asks again for an
// order still due.
const deadlineRetry = 5 * time.Second

// deadlineBatch bounds the orders asked for in one round.
const deadlineBatch = 500

// Interval is how often the timer looks for orders due: a tenth of the
// shorter deadline, between 100 ms and a second, so that an order expires
// close to its deadline.
func (t *DeadlineTimer) Interval() time.Duration {
	shortest := time.Second * 10
	for _, d := range []time.Duration{t.Deadlines.Validation, t.Deadlines.Payment} {
		if d > 0 && d < shortest {
			shortest = d
		}
	}
	return min(max(shortest/10, 100*time.Millisecond), time.Second)
}

// Run looks for orders due until ctx ends.
func (t *DeadlineTimer) Run(ctx context.Context) {
	if t.Deadlines.Validation <= 0 && t.Deadlines.Payment <= 0 {
		return
	}
	now := t.Now
	if now == nil {
		now = time.Now
	}
	asked := map[string]time.Time{} // order → when it was last asked for
	tick := time.NewTicker(t.Interval())
	defer tick.Stop()
	for {
		t.round(ctx, now(), asked)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// round asks for the orders due at now that were not asked for within
// deadlineRetry, and forgets the asks of orders no longer due.
func (t *DeadlineTimer) round(ctx context.Context, now time.Time, asked map[string]time.Time) {
	due, err := t.Due(ctx, t.Deadlines, now, deadlineBatch)
	if err != nil {
		if ctx.Err() == nil {
			t.Log.Warn("deadlines: could not list the orders due; trying again", "err", err)
		}
		return
	}
	still := make(map[string]bool, len(due))
	for _, id := range due {
		still[id] = true
		if t.Owns != nil && !t.Owns(id) {
			continue
		}
		if at, ok := asked[id]; ok && now.Sub(at) < deadlineRetry {
			continue
		}
		asked[id] = now
		if err := t.Expire(ctx, id); err != nil {
			if ctx.Err() != nil {
				return
			}
			t.Log.Warn("deadlines: could not expire an order; asking again later", "order", id, "err", err)
		}
	}
	for id := range asked {
		if !still[id] {
			delete(asked, id)
		}
	}
}

// ExpireOrderCommand is the command that asks the orders member that owns
// an order to expire it, sent over Kafka by a DeadlineTimer.
func ExpireOrderCommand(orderID string) (Command, error) {
	return newCommand(CmdExpireOrder, ContextOrders, orderID, events.Metadata{}, orderArgs{OrderID: orderID})
}
