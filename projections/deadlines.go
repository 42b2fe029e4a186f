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
		return deadlinesApplier{
			placed: `INSERT INTO ` + d + ` (order_id, status, placed_at, since) VALUES (?, 'PENDING', ?, ?)
				ON CONFLICT (order_id) DO NOTHING`,
			validated: `UPDATE ` + d + ` SET status = 'VALIDATED', since = COALESCE(?, placed_at) WHERE order_id = ?`,
			ended:     `DELETE FROM ` + d + ` WHERE order_id = ?`,
		}
	},
}

type deadlinesApplier struct{ placed, validated, ended string }

func (a deadlinesApplier) Apply(ctx context.Context, tx *Tx, _ events.Event, p events.Payload) error {
	var err error
	switch p := p.(type) {
	case order.OrderPlaced:
		at := p.PlacedAt.UnixNano()
		_, err = tx.Exec(ctx, a.placed, p.OrderID, at, at)
	case order.OrderValidated:
		var since any // a version 1 event did not say when: from placement
		if !p.ValidatedAt.IsZero() {
			since = p.ValidatedAt.UnixNano()
		}
		_, err = tx.Exec(ctx, a.validated, since, p.OrderID)
	case order.OrderPaid, order.OrderFailed, order.OrderShipped, order.OrderCancelled:
		id, _ := order.IDOf(p)
		_, err = tx.Exec(ctx, a.ended, id)
	}
	return err
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
