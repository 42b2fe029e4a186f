package projections

import (
	"context"
	"fmt"

	"orderflow/domain/customer"
	"orderflow/events"
)

// customersDefinition is the customers read model.
var customersDefinition = Definition{
	Name:   "customers",
	Tables: []string{"customers"},
	Schema: func(t Names) string {
		return fmt.Sprintf(`
CREATE TABLE %s (
    id         TEXT PRIMARY KEY,
    name       TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);`, t("customers"))
	},
	New: func(t Names) Applier {
		c := t("customers")
		return customersApplier{
			register: `INSERT INTO ` + c + ` (id, name, email, address, version, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			move:     `UPDATE ` + c + ` SET address = ?, version = ?, updated_at = ? WHERE id = ?`,
			forget:   `UPDATE ` + c + ` SET name = '', email = '', address = '', version = ?, updated_at = ? WHERE id = ?`,
		}
	},
}

type customersApplier struct{ register, move, forget string }

func (a customersApplier) Apply(ctx context.Context, tx *Tx, e events.Event, p events.Payload) error {
	var err error
	at := e.OccurredAt.UnixNano()
	switch p := p.(type) {
	case customer.CustomerRegistered:
		_, err = tx.Exec(ctx, a.register, p.CustomerID, p.Name, p.Email, p.Address, e.StreamVersion, at)
	case customer.CustomerAddressChanged:
		_, err = tx.Exec(ctx, a.move, p.Address, e.StreamVersion, at, p.CustomerID)
	case customer.CustomerForgotten:
		// The row is overwritten in place (secure_delete zeroes what it
		// held); a rebuild reads the registration blank, its key deleted.
		_, err = tx.Exec(ctx, a.forget, e.StreamVersion, at, p.CustomerID)
	}
	return err
}
