package projections

import (
	"context"
	"fmt"

	"orderflow/domain/catalog"
	"orderflow/domain/customer"
	"orderflow/domain/inventory"
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

// stockDefinition keeps on-hand and reserved quantities per product. The
// table refuses any row breaking 0 ≤ reserved ≤ on_hand.
//
// SQLite turns an integer sum that overflows into a REAL, and a REAL in
// on_hand once made every stock query of the product fail (two StockAdded
// of MaxInt64 were accepted before stock was bounded, and events stay).
// The update casts each sum back to INTEGER, which SQLite saturates at the
// ends of int64, so the fold of those old events saturates as the domain's
// does and the column only ever holds integers.
var stockDefinition = Definition{
	Name:   "stock",
	Tables: []string{"stock"},
	Schema: func(t Names) string {
		return fmt.Sprintf(`
CREATE TABLE %s (
    product_id TEXT PRIMARY KEY,
    on_hand    INTEGER NOT NULL,
    reserved   INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    CHECK (reserved >= 0 AND reserved <= on_hand)
);`, t("stock"))
	},
	New: func(t Names) Applier {
		s := t("stock")
		return stockApplier{
			update: `UPDATE ` + s + ` SET on_hand = CAST(on_hand + ?1 AS INTEGER), reserved = CAST(reserved + ?2 AS INTEGER),
				version = ?3 WHERE product_id = ?4`,
			insert: `INSERT INTO ` + s + ` (product_id, on_hand, reserved, version) VALUES (?, ?, ?, ?)`,
		}
	},
}

type stockApplier struct{ update, insert string }

func (a stockApplier) Apply(ctx context.Context, tx *Tx, e events.Event, p events.Payload) error {
	var productID string
	var onHand, reserved int64
	switch p := p.(type) {
	case inventory.StockAdded:
		productID, onHand = p.ProductID, int64(p.Quantity)
	case inventory.StockReserved:
		productID, reserved = p.ProductID, int64(p.Quantity)
	case inventory.StockReleased:
		productID, reserved = p.ProductID, -int64(p.Quantity)
	case inventory.StockCommitted:
		productID, onHand, reserved = p.ProductID, -int64(p.Quantity), -int64(p.Quantity)
	case inventory.StockReservationRejected:
		productID = p.ProductID
	default:
		return nil
	}
	// Update first: the row's CHECK (0 ≤ reserved ≤ on_hand) would refuse
	// an insert of the delta alone before an upsert could merge it.
	res, err := tx.Exec(ctx, a.update, onHand, reserved, e.StreamVersion, productID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	_, err = tx.Exec(ctx, a.insert, productID, onHand, reserved, e.StreamVersion)
	return err
}

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
		}
	},
}

type customersApplier struct{ register, move string }

func (a customersApplier) Apply(ctx context.Context, tx *Tx, e events.Event, p events.Payload) error {
	var err error
	at := e.OccurredAt.UnixNano()
	switch p := p.(type) {
	case customer.CustomerRegistered:
		_, err = tx.Exec(ctx, a.register, p.CustomerID, p.Name, p.Email, p.Address, e.StreamVersion, at)
	case customer.CustomerAddressChanged:
		_, err = tx.Exec(ctx, a.move, p.Address, e.StreamVersion, at, p.CustomerID)
	}
	return err
}
