package projections

import (
	"context"
	"fmt"

	"orderflow/domain/catalog"
	"orderflow/events"
)

// productsDefinition is the products read model; it is also the orders
// context's catalog copy that placeOrder prices from.
var productsDefinition = Definition{
	Name:   "products",
	Tables: []string{"products"},
	Schema: func(t Names) string {
		return fmt.Sprintf(`
CREATE TABLE %s (
    id          TEXT PRIMARY KEY,
    name        TEXT    NOT NULL,
    price_cents INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);`, t("products"))
	},
	New: func(t Names) Applier {
		p := t("products")
		return productsApplier{
			define:  `INSERT INTO ` + p + ` (id, name, price_cents, version, updated_at) VALUES (?, ?, ?, ?, ?)`,
			rename:  `UPDATE ` + p + ` SET name = ?, version = ?, updated_at = ? WHERE id = ?`,
			reprice: `UPDATE ` + p + ` SET price_cents = ?, version = ?, updated_at = ? WHERE id = ?`,
			// A withdrawn product leaves the catalog: the orders context's
			// price copy no longer knows it, so placeOrder refuses it as
			// unknown, and the product query answers null.
			withdraw: `DELETE FROM ` + p + ` WHERE id = ?`,
		}
	},
}

type productsApplier struct{ define, rename, reprice, withdraw string }

func (a productsApplier) Apply(ctx context.Context, tx *Tx, e events.Event, p events.Payload) error {
	var err error
	at := e.OccurredAt.UnixNano()
	switch p := p.(type) {
	case catalog.ProductDefined:
		_, err = tx.Exec(ctx, a.define, p.ProductID, p.Name, p.PriceCents, e.StreamVersion, at)
	case catalog.ProductRenamed:
		_, err = tx.Exec(ctx, a.rename, p.Name, e.StreamVersion, at, p.ProductID)
	case catalog.ProductRepriced:
		_, err = tx.Exec(ctx, a.reprice, p.PriceCents, e.StreamVersion, at, p.ProductID)
	case catalog.ProductWithdrawn:
		_, err = tx.Exec(ctx, a.withdraw, p.ProductID)
	}
	return err
}
