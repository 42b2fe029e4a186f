package projections

import (
	"context"
	"fmt"

	"orderflow/domain/inventory"
	"orderflow/events"
)

// stockDefinition is the inventory context's read model: on-hand and
// reserved quantities per product. The table refuses any row breaking
// 0 ≤ reserved ≤ on_hand.
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
