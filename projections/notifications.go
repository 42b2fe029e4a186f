package projections

import (
	"context"
	"fmt"
	"time"

	"orderflow/domain/customer"
	"orderflow/domain/notification"
	"orderflow/events"
)

// notificationsDefinition is the notifications read model: every message
// sent to a customer.
var notificationsDefinition = Definition{
	Name:   "notifications",
	Tables: []string{"notifications"},
	Schema: func(t Names) string {
		return fmt.Sprintf(`
CREATE TABLE %[1]s (
    seq         INTEGER PRIMARY KEY, -- global position of NotificationSent
    order_id    TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    sent_at     INTEGER NOT NULL
);
CREATE INDEX %[1]s_by_order ON %[1]s (order_id, seq);
CREATE INDEX %[1]s_by_customer ON %[1]s (customer_id, seq);`, t("notifications"))
	},
	New: func(t Names) Applier {
		return notificationsApplier{
			insert: `INSERT INTO ` + t("notifications") +
				` (seq, order_id, customer_id, kind, email, address, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			forget: `UPDATE ` + t("notifications") + ` SET email = '', address = '' WHERE customer_id = ?`,
		}
	},
}

type notificationsApplier struct{ insert, forget string }

func (a notificationsApplier) Apply(ctx context.Context, tx *Tx, e events.Event, p events.Payload) error {
	var err error
	switch p := p.(type) {
	case notification.NotificationSent:
		_, err = tx.Exec(ctx, a.insert, e.Position, p.OrderID, p.CustomerID, p.Kind, p.Email, p.Address, p.SentAt.UnixNano())
	case customer.CustomerForgotten:
		// Where each confirmation went is the customer's personal data:
		// overwritten in place, as a rebuild would read it (blank).
		_, err = tx.Exec(ctx, a.forget, p.CustomerID)
	}
	return err
}

// Notification is a row of the notifications read model.
type Notification struct {
	OrderID    string
	CustomerID string
	Kind       string
	Email      string
	Address    string
	SentAt     time.Time
}

// Notifications lists the messages sent, oldest first, of one order and/or
// one customer (empty filters match everything), at most limit.
func (v *Views) Notifications(ctx context.Context, orderID, customerID string, limit int) ([]Notification, error) {
	rows, err := v.db.QueryContext(ctx, `SELECT order_id, customer_id, kind, email, address, sent_at FROM notifications
		WHERE (?1 = '' OR order_id = ?1) AND (?2 = '' OR customer_id = ?2) ORDER BY seq LIMIT ?3`,
		orderID, customerID, limit)
	if err != nil {
		return nil, fmt.Errorf("query notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		var at int64
		if err := rows.Scan(&n.OrderID, &n.CustomerID, &n.Kind, &n.Email, &n.Address, &at); err != nil {
			return nil, fmt.Errorf("query notifications: %w", err)
		}
		n.SentAt = time.Unix(0, at).UTC()
		out = append(out, n)
	}
	return out, rows.Err()
}
