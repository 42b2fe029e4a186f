package projections

import (
	"context"
	"fmt"
	"time"

	"orderflow/domain/order"
	"orderflow/events"
)

// deadlinesDefinition is the deadlines read model of the orders context:
// one row per order a deadline runs for (PENDING, or VALIDATED and not
// paid), with the time its deadline counts from. The deadline timer finds
// the orders due here; the order's stream decides whether they expire.
// Split into services, each orders member keeps it over its copy of the
// whole orders family, and expires the orders of the partitions it owns.
var deadlinesDefinition = Definition{
	Name:   "deadlines",
	Tables: []string{"deadlines"},
	Schema: func(t Names) string {
		return fmt.Sprintf(`
CREATE TABLE %[1]s (
    order_id  TEXT    PRIMARY KEY,
    status    TEXT    NOT NULL, -- PENDING or VALIDATED
    placed_at INTEGER NOT NULL, -- unix nanoseconds
    since     INTEGER NOT NULL  -- unix nanoseconds: placement, or validation
);
CREATE INDEX %[1]s_due ON %[1]s (status, since);`, t("deadlines"))
	},
	New: func(t Names) Applier {
		d := t("deadlines")
		return &deadlinesApplier{
			placed: `INSERT INTO ` + d + ` (order_id, status, placed_at, since) VALUES (?, ?, ?, ?)
				ON CONFLICT (order_id) DO NOTHING`,
			validated: `UPDATE ` + d + ` SET status = 'VALIDATED', since = COALESCE(?, placed_at) WHERE order_id = ?`,
			ended:     `DELETE FROM ` + d + ` WHERE order_id = ?`,
		}
	},
}

type deadlinesApplier struct {
	placed, validated, ended string

	// held are the orders placed in the batch being applied, as the
	// batch's later events left them, until flush writes them at its end:
	// an order placed and paid (or failed) within one batch costs one
	// DELETE that finds nothing instead of an INSERT, an UPDATE and two
	// DELETEs. Events of orders not held change the table as they come.
	held  map[string]*deadlineRow
	order []*deadlineRow
}

// deadlineRow is what the events of a batch did to an order placed in it,
// applied to a row as the placement would have inserted it. The table
// may hold a row for the order already (a placement the insert's ON
// CONFLICT leaves alone): flush then applies validations to that row,
// as they would have been without the batch.
type deadlineRow struct {
	orderID         string
	status          string
	placedAt, since int64
	ended           bool
	validations     []any // the since of each validation, nil for none given
}

func (a *deadlinesApplier) Apply(ctx context.Context, tx *Tx, _ events.Event, p events.Payload) error {
	var err error
	switch p := p.(type) {
	case order.OrderPlaced:
		if _, twice := a.held[p.OrderID]; twice {
			if err := a.flush(ctx, tx); err != nil {
				return err
			}
		}
		at := p.PlacedAt.UnixNano()
		r := &deadlineRow{orderID: p.OrderID, status: string(order.Pending), placedAt: at, since: at}
		if a.held == nil {
			a.held = map[string]*deadlineRow{}
		}
		a.held[p.OrderID] = r
		a.order = append(a.order, r)
	case order.OrderValidated:
		var since any // a version 1 event did not say when: from placement
		if !p.ValidatedAt.IsZero() {
			since = p.ValidatedAt.UnixNano()
		}
		if r, ok := a.held[p.OrderID]; ok {
			if !r.ended { // an UPDATE of a deleted row changes nothing
				r.status, r.since = string(order.Validated), r.placedAt
				if since != nil {
					r.since = since.(int64)
				}
				r.validations = append(r.validations, since)
			}
			return nil
		}
		_, err = tx.Exec(ctx, a.validated, since, p.OrderID)
	case order.OrderPaid, order.OrderFailed, order.OrderShipped, order.OrderCancelled:
		id, _ := order.IDOf(p)
		if r, ok := a.held[id]; ok {
			r.ended = true
			return nil
		}
		_, err = tx.Exec(ctx, a.ended, id)
	}
	return err
}

// flush writes what the batch did to the orders placed in it.
func (a *deadlinesApplier) flush(ctx context.Context, tx *Tx) error {
	defer a.discard()
	for _, r := range a.order {
		if r.ended {
			// No row is left, whether the placement inserted one or the
			// table held one already.
			if _, err := tx.Exec(ctx, a.ended, r.orderID); err != nil {
				return err
			}
			continue
		}
		res, err := tx.Exec(ctx, a.placed, r.orderID, r.status, r.placedAt, r.since)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			if err != nil {
				return err
			}
			continue
		}
		for _, since := range r.validations { // to the row the table held
			if _, err := tx.Exec(ctx, a.validated, since, r.orderID); err != nil {
				return err
			}
		}
	}
	return nil
}

// discard forgets what was held for a batch that was not applied.
func (a *deadlinesApplier) discard() {
	clear(a.held)
	a.order = a.order[:0]
}

// DueDeadlines lists, oldest first and at most limit, the orders whose
// deadline has passed at now by the deadlines read model (the order's
// stream has the last word). A deadline of zero is off.
func (v *Views) DueDeadlines(ctx context.Context, d order.Deadlines, now time.Time, limit int) ([]string, error) {
	never := int64(-1) // no since is below it
	validation, payment := never, never
	if d.Validation > 0 {
		validation = now.Add(-d.Validation).UnixNano()
	}
	if d.Payment > 0 {
		payment = now.Add(-d.Payment).UnixNano()
	}
	rows, err := v.query(ctx, `SELECT order_id FROM (
		SELECT order_id, since FROM deadlines WHERE status = 'PENDING' AND since <= ?
		UNION ALL
		SELECT order_id, since FROM deadlines WHERE status = 'VALIDATED' AND since <= ?)
		ORDER BY since LIMIT ?`, validation, payment, limit)
	if err != nil {
		return nil, fmt.Errorf("query deadlines: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("query deadlines: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// PendingDeadlines counts the deadlines running, by the status whose
// deadline it is (PENDING: validation, VALIDATED: payment).
func (v *Views) PendingDeadlines(ctx context.Context) (map[string]int64, error) {
	rows, err := v.query(ctx, `SELECT status, COUNT(*) FROM deadlines GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("query deadlines: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{string(order.Pending): 0, string(order.Validated): 0}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("query deadlines: %w", err)
		}
		out[s] = n
	}
	return out, rows.Err()
}
