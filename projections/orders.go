package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

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

// orderChange is what one event changes in its order's row of the orders
// read model. It is the one decision of that read model: Apply writes it
// to the table, applyTo to a row in memory (History.OrderAt), so the table
// and an order's past cannot disagree about what an event did.
type orderChange struct {
	orderID string
	// placed creates the row, in PENDING with no failure reasons.
	placed *order.OrderPlaced
	// status is the status the order's own event leaves it in, with the
	// event's stream version and time; "" leaves the row's status,
	// version and time as they are.
	status order.Status
	// failed says a failure was reported: reason joins the failure
	// reasons unless it is among them already. Failures reported after the
	// order already failed still show up in failureReasons; they never
	// change the status.
	failed bool
	reason string
}

// changeOf decides what an event changes in the orders read model: the
// order's own events, and the failed validation results. ok is false when
// it changes nothing.
func changeOf(p events.Payload) (c orderChange, ok bool) {
	if s, ok := order.StatusAfter(p); ok {
		c.orderID, _ = order.IDOf(p)
		c.status = s
		switch p := p.(type) {
		case order.OrderPlaced:
			c.placed = &p
		case order.OrderFailed:
			c.failed, c.reason = true, p.Reason
		}
		return c, true
	}
	if id, r, ok := order.ResultOf(p); ok && !r.Passed {
		return orderChange{orderID: id, failed: true, reason: r.Reason}, true
	}
	return orderChange{}, false
}

// changedOrder is the order whose row the orders read model changes for an
// event, if any: the runner tells the subscriptions about it.
func changedOrder(p events.Payload) (string, bool) {
	c, ok := changeOf(p)
	return c.orderID, ok
}

func (a *ordersApplier) Apply(ctx context.Context, tx *Tx, e events.Event, p events.Payload) error {
	c, ok := changeOf(p)
	if !ok {
		return nil
	}
	if pl := c.placed; pl != nil {
		lines, err := json.Marshal(pl.Lines)
		if err != nil {
			return err
		}
		at := e.OccurredAt.UnixNano()
		_, err = tx.Exec(ctx, a.insert, c.orderID, e.Position, pl.CustomerID, string(c.status), pl.TotalCents,
			string(lines), e.StreamVersion, e.CorrelationID, at, at)
		return err
	}
	if c.failed {
		if err := a.addFailureReason(ctx, tx, c.orderID, c.reason); err != nil {
			return err
		}
	}
	if c.status != "" {
		return a.status(ctx, tx, c.orderID, c.status, e)
	}
	return nil
}

// applyTo applies the change to an order's row in memory, as Apply does
// to the table.
func (c orderChange) applyTo(o *Order, e events.Event) {
	if pl := c.placed; pl != nil {
		o.ID, o.Seq, o.CustomerID, o.TotalCents = c.orderID, e.Position, pl.CustomerID, pl.TotalCents
		o.CorrelationID, o.CreatedAt, o.FailureReasons = e.CorrelationID, e.OccurredAt, []string{}
		for _, l := range pl.Lines {
			o.Lines = append(o.Lines, OrderLine{ProductID: l.ProductID, Quantity: l.Quantity, UnitPriceCents: l.UnitPriceCents})
		}
	}
	if c.failed {
		o.FailureReasons, _ = withReason(o.FailureReasons, c.reason)
	}
	if c.status != "" {
		o.Status, o.Version, o.UpdatedAt = string(c.status), e.StreamVersion, e.OccurredAt
	}
}

// withReason adds a failure reason to reasons unless it is there already;
// added says whether it was.
func withReason(reasons []string, reason string) (out []string, added bool) {
	if slices.Contains(reasons, reason) {
		return reasons, false
	}
	return append(reasons, reason), true
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
	reasons, added := withReason(reasons, reason)
	if !added {
		return nil
	}
	out, err := json.Marshal(reasons)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, a.setReasons, string(out), orderID)
	return err
}
