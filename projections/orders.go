package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"orderflow/domain/order"
	"orderflow/events"
)

// ordersDefinition is the orders read model: one row per order with its
// status, lines, total and every failure reason any validation reported.
var ordersDefinition = Definition{
	Name:   "orders",
	Tables: []string{"orders"},
	Schema: func(t Names) string {
		return fmt.Sprintf(`
CREATE TABLE %[1]s (
    id              TEXT PRIMARY KEY,
    seq             INTEGER NOT NULL UNIQUE, -- global position of OrderPlaced: the listing order
    customer_id     TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    total_cents     INTEGER NOT NULL,
    lines           TEXT    NOT NULL, -- JSON array of {productId, quantity, unitPriceCents}
    failure_reasons TEXT    NOT NULL, -- JSON array of reason codes
    version         INTEGER NOT NULL,
    correlation_id  TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX %[1]s_by_customer ON %[1]s (customer_id, seq);
CREATE INDEX %[1]s_by_status ON %[1]s (status, seq);`, t("orders"))
	},
	New: func(t Names) Applier {
		o := t("orders")
		return &ordersApplier{
			insert: `INSERT INTO ` + o + ` (id, seq, customer_id, status, total_cents, lines, failure_reasons, version,
				correlation_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?)`,
			setStatus:  `UPDATE ` + o + ` SET status = ?, version = ?, updated_at = ? WHERE id = ?`,
			getReasons: `SELECT failure_reasons FROM ` + o + ` WHERE id = ?`,
			setReasons: `UPDATE ` + o + ` SET failure_reasons = ? WHERE id = ?`,
		}
	},
}

type ordersApplier struct {
	insert, setStatus, getReasons, setReasons string
}

func (a *ordersApplier) Apply(ctx context.Context, tx *Tx, e events.Event, p events.Payload) error {
	switch p := p.(type) {
	case order.OrderPlaced:
		lines, err := json.Marshal(p.Lines)
		if err != nil {
			return err
		}
		at := e.OccurredAt.UnixNano()
		_, err = tx.Exec(ctx, a.insert, p.OrderID, e.Position, p.CustomerID, string(order.Pending), p.TotalCents,
			string(lines), e.StreamVersion, e.CorrelationID, at, at)
		return err
	case order.OrderValidated:
		return a.status(ctx, tx, p.OrderID, order.Validated, e)
	case order.OrderFailed:
		if err := a.addFailureReason(ctx, tx, p.OrderID, p.Reason); err != nil {
			return err
		}
		return a.status(ctx, tx, p.OrderID, order.Failed, e)
	case order.OrderPaid:
		return a.status(ctx, tx, p.OrderID, order.Paid, e)
	case order.OrderShipped:
		return a.status(ctx, tx, p.OrderID, order.Shipped, e)
	case order.OrderCancelled:
		return a.status(ctx, tx, p.OrderID, order.Cancelled, e)
	}
	// Failures reported after the order already failed still show up in
	// failureReasons; they never change the status.
	if orderID, reason, ok := reportedFailure(p); ok {
		return a.addFailureReason(ctx, tx, orderID, reason)
	}
	return nil
}

// changedOrder is the order whose row the orders read model changes for an
// event, if any: what its Apply reads the order id from.
func changedOrder(p events.Payload) (string, bool) {
	switch p := p.(type) {
	case order.OrderPlaced:
		return p.OrderID, true
	case order.OrderValidated:
		return p.OrderID, true
	case order.OrderFailed:
		return p.OrderID, true
	case order.OrderPaid:
		return p.OrderID, true
	case order.OrderShipped:
		return p.OrderID, true
	case order.OrderCancelled:
		return p.OrderID, true
	}
	id, _, ok := reportedFailure(p)
	return id, ok
}

// reportedFailure reads a failed validation out of an event: the order and
// the reason code.
func reportedFailure(p events.Payload) (orderID, reason string, ok bool) {
	id, r, ok := order.ResultOf(p)
	if !ok || r.Passed {
		return "", "", false
	}
	return id, r.Reason, true
}

func (a *ordersApplier) status(ctx context.Context, tx *Tx, orderID string, s order.Status, e events.Event) error {
	res, err := tx.Exec(ctx, a.setStatus, string(s), e.StreamVersion, e.OccurredAt.UnixNano(), orderID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("order %q is not in the read model", orderID)
	}
	return nil
}

func (a *ordersApplier) addFailureReason(ctx context.Context, tx *Tx, orderID, reason string) error {
	var raw string
	if err := tx.QueryRow(ctx, a.getReasons, orderID).Scan(&raw); err != nil {
		return fmt.Errorf("failure reason for order %q: %w", orderID, err)
	}
	var reasons []string
	if err := json.Unmarshal([]byte(raw), &reasons); err != nil {
		return err
	}
	for _, r := range reasons {
		if r == reason {
			return nil
		}
	}
	out, err := json.Marshal(append(reasons, reason))
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, a.setReasons, string(out), orderID)
	return err
}
