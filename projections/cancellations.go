package projections

import (
	"context"
	"fmt"

	"orderflow/domain/order"
	"orderflow/events"
)

// cancellationsDefinition is the cancellations read model: why each
// cancelled order was cancelled (the reason given to cancelOrder, or
// PAYMENT_TIMEOUT). A projection of its own, not a column of orders, so
// that a database made before it existed gets it built from the log at
// start; order queries join it.
var cancellationsDefinition = Definition{
	Name:   "cancellations",
	Tables: []string{"cancellations"},
	Schema: func(t Names) string {
		return fmt.Sprintf(`
CREATE TABLE %[1]s (
    order_id TEXT PRIMARY KEY,
    reason   TEXT NOT NULL
);`, t("cancellations"))
	},
	New: func(t Names) Applier {
		return cancellationsApplier{
			cancelled: `INSERT INTO ` + t("cancellations") + ` (order_id, reason) VALUES (?, ?)
				ON CONFLICT (order_id) DO UPDATE SET reason = excluded.reason`,
		}
	},
}

type cancellationsApplier struct{ cancelled string }

func (a cancellationsApplier) Apply(ctx context.Context, tx *Tx, _ events.Event, p events.Payload) error {
	if c, ok := p.(order.OrderCancelled); ok {
		_, err := tx.Exec(ctx, a.cancelled, c.OrderID, c.Reason)
		return err
	}
	return nil
}
