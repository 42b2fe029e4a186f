package projections

import (
	"context"
	"fmt"

	"orderflow/domain/payment"
	"orderflow/events"
)

// paymentsDefinition is the payments read model: per order, the money
// received and the money refunded. It is a projection of its own (not
// columns of orders) so that a database made before refunds existed gets
// it built from the log at start, like any new projection; order queries
// join it.
var paymentsDefinition = Definition{
	Name:   "payments",
	Tables: []string{"payments"},
	Schema: func(t Names) string {
		return fmt.Sprintf(`
CREATE TABLE %[1]s (
    order_id       TEXT    PRIMARY KEY,
    paid_cents     INTEGER NOT NULL DEFAULT 0,
    refunded_cents INTEGER NOT NULL DEFAULT 0
);`, t("payments"))
	},
	New: func(t Names) Applier {
		p := t("payments")
		return paymentsApplier{
			paid: `INSERT INTO ` + p + ` (order_id, paid_cents) VALUES (?, ?)
				ON CONFLICT (order_id) DO UPDATE SET paid_cents = excluded.paid_cents`,
			refunded: `INSERT INTO ` + p + ` (order_id, refunded_cents) VALUES (?, ?)
				ON CONFLICT (order_id) DO UPDATE SET refunded_cents = excluded.refunded_cents`,
		}
	},
}

type paymentsApplier struct{ paid, refunded string }

func (a paymentsApplier) Apply(ctx context.Context, tx *Tx, _ events.Event, p events.Payload) error {
	var err error
	switch p := p.(type) {
	case payment.PaymentReceived:
		_, err = tx.Exec(ctx, a.paid, p.OrderID, p.AmountCents)
	case payment.PaymentRefunded:
		_, err = tx.Exec(ctx, a.refunded, p.OrderID, p.AmountCents)
	}
	return err
}
