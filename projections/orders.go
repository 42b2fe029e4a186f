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
				correlation_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			setStatus:  `UPDATE ` + o + ` SET status = ?, version = ?, updated_at = ? WHERE id = ?`,
			getReasons: `SELECT failure_reasons FROM ` + o + ` WHERE id = ?`,
			setReasons: `UPDATE ` + o + ` SET failure_reasons = ? WHERE id = ?`,
		}
	},
}

type ordersApplier struct {
	insert, setStatus, getReasons, setReasons string

	// placed holds the rows of the orders placed in the batch being
	// applied, with what the batch's later events changed in them, until
	// flush inserts them at the end of the batch: an order placed and
	// taken through its statuses within one batch (most orders, in a
	// replay and under load alike) costs one INSERT instead of an INSERT
	// and an UPDATE per event. Events of orders placed before the batch
	// change the table as they come. inserted keeps them in the order
	// they were placed, which is the order of their inserts without it.
	placed   map[string]*orderRow
	inserted []*orderRow
}

// orderRow is a row of the orders table held in memory until flush.
type orderRow struct {
	id, customerID, status, lines, correlationID   string
	seq, totalCents, version, createdAt, updatedAt int64
	reasons                                        []string
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
		if _, twice := a.placed[c.orderID]; twice {
			// The insert refuses it, as it would have without the batch.
			if err := a.flush(ctx, tx); err != nil {
				return err
			}
		}
		lines, err := json.Marshal(pl.Lines)
		if err != nil {
			return err
		}
		at := e.OccurredAt.UnixNano()
		row := &orderRow{id: c.orderID, seq: e.Position, customerID: pl.CustomerID, status: string(c.status),
			totalCents: pl.TotalCents, lines: string(lines), reasons: []string{}, version: e.StreamVersion,
			correlationID: e.CorrelationID, createdAt: at, updatedAt: at}
		if a.placed == nil {
			a.placed = map[string]*orderRow{}
		}
		a.placed[c.orderID] = row
		a.inserted = append(a.inserted, row)
		return nil
	}
	if row, ok := a.placed[c.orderID]; ok {
		if c.failed {
			row.reasons, _ = withReason(row.reasons, c.reason)
		}
		if c.status != "" {
			row.status, row.version, row.updatedAt = string(c.status), e.StreamVersion, e.OccurredAt.UnixNano()
		}
		return nil
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

// flush inserts the rows of the orders placed in the batch, as the
// batch left them.
func (a *ordersApplier) flush(ctx context.Context, tx *Tx) error {
	defer a.discard()
	for _, r := range a.inserted {
		reasons, err := json.Marshal(r.reasons)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, a.insert, r.id, r.seq, r.customerID, r.status, r.totalCents, r.lines,
			string(reasons), r.version, r.correlationID, r.createdAt, r.updatedAt); err != nil {
			return fmt.Errorf("insert order %q: %w", r.id, err)
		}
	}
	return nil
}

// discard forgets the rows held for a batch that was not applied.
func (a *ordersApplier) discard() {
	clear(a.placed)
	a.inserted = a.inserted[:0]
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
