package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"orderflow/domain/customercheck"
	"orderflow/domain/fraud"
	"orderflow/domain/order"
	"orderflow/domain/stock"
	"orderflow/events"
)

// ordersProjection keeps the orders table: one row per order with its
// status, lines, total and every failure reason any validation reported.
type ordersProjection struct{}

func (ordersProjection) Name() string { return "orders" }

func (ordersProjection) Apply(ctx context.Context, tx *sql.Tx, e events.Event, p events.Payload) error {
	at := e.OccurredAt.UnixNano()
	switch p := p.(type) {
	case order.OrderPlaced:
		lines, err := json.Marshal(p.Lines)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO orders
			(id, seq, customer_id, status, total_cents, lines, failure_reasons, version, correlation_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?)`,
			p.OrderID, e.Position, p.CustomerID, string(order.Pending), p.TotalCents, string(lines),
			e.StreamVersion, e.CorrelationID, at, at)
		return err
	case order.OrderValidated:
		return setStatus(ctx, tx, p.OrderID, order.Validated, e)
	case order.OrderFailed:
		if err := addFailureReason(ctx, tx, p.OrderID, p.Reason); err != nil {
			return err
		}
		return setStatus(ctx, tx, p.OrderID, order.Failed, e)
	case order.OrderPaid:
		return setStatus(ctx, tx, p.OrderID, order.Paid, e)
	case order.OrderShipped:
		return setStatus(ctx, tx, p.OrderID, order.Shipped, e)
	case order.OrderCancelled:
		return setStatus(ctx, tx, p.OrderID, order.Cancelled, e)
	// Failures reported after the order already failed still show up in
	// failureReasons; they never change the status.
	case stock.StockReservationRejected:
		return addFailureReason(ctx, tx, p.OrderID, p.Reason)
	case fraud.FraudCheckFailed:
		return addFailureReason(ctx, tx, p.OrderID, p.Reason)
	case customercheck.CustomerCheckFailed:
		return addFailureReason(ctx, tx, p.OrderID, p.Reason)
	}
	return nil
}

func setStatus(ctx context.Context, tx *sql.Tx, orderID string, s order.Status, e events.Event) error {
	res, err := tx.ExecContext(ctx, `UPDATE orders SET status = ?, version = ?, updated_at = ? WHERE id = ?`,
		string(s), e.StreamVersion, e.OccurredAt.UnixNano(), orderID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("order %q is not in the read model", orderID)
	}
	return nil
}

func addFailureReason(ctx context.Context, tx *sql.Tx, orderID, reason string) error {
	var raw string
	err := tx.QueryRowContext(ctx, `SELECT failure_reasons FROM orders WHERE id = ?`, orderID).Scan(&raw)
	if err != nil {
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
	_, err = tx.ExecContext(ctx, `UPDATE orders SET failure_reasons = ? WHERE id = ?`, string(out), orderID)
	return err
}
