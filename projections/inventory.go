package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"orderflow/domain/bounds"
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
		return &stockApplier{
			update: `UPDATE ` + s + ` SET on_hand = CAST(on_hand + ?1 AS INTEGER), reserved = CAST(reserved + ?2 AS INTEGER),
				version = ?3 WHERE product_id = ?4`,
			insert: `INSERT INTO ` + s + ` (product_id, on_hand, reserved, version) VALUES (?, ?, ?, ?)`,
			// The sums of a batch's changes, applied only where no event of
			// it breaks the CHECK on the way and no sum comes near the ends
			// of int64 (?5 to ?8, see sumOf): then the row is what the
			// events one by one leave.
			addAll: `UPDATE ` + s + ` SET on_hand = on_hand + ?1, reserved = reserved + ?2, version = ?3
				WHERE product_id = ?4 AND reserved >= ?5 AND on_hand - reserved >= ?6 AND on_hand <= ?7 AND reserved <= ?8`,
			get: `SELECT CAST(on_hand AS INTEGER), CAST(reserved AS INTEGER) FROM ` + s + ` WHERE product_id = ?`,
			set: `UPDATE ` + s + ` SET on_hand = ?, reserved = ?, version = ? WHERE product_id = ?`,
		}
	},
}

// stockApplier holds the stock changes of a batch by product until flush
// writes them at its end: a product that several events of the batch
// change (every line of an order is a reservation of its own, and a
// popular product is in many orders) costs one UPDATE instead of one per
// event. A product changed once is written as before.
type stockApplier struct {
	update, insert, addAll, get, set string

	held    map[string]*stockChanges
	changed []*stockChanges // in the order the batch first changed them
}

// stockChanges is what the events of a batch change in one product's row,
// in log order.
type stockChanges struct {
	productID string
	deltas    []stockDelta
}

// stockDelta is what one event changes in its product's row.
type stockDelta struct {
	onHand, reserved int64
	version          int64 // the event's stream version: the row's after it
	position         int64 // the event's, to name it when it breaks the row
}

// errStockOutOfBounds is the row's CHECK broken by a fold done in memory.
var errStockOutOfBounds = errors.New("stock out of bounds: 0 ≤ reserved ≤ on_hand does not hold")

func (a *stockApplier) Apply(_ context.Context, _ *Tx, e events.Event, p events.Payload) error {
	var productID string
	var d stockDelta
	switch p := p.(type) {
	case inventory.StockAdded:
		productID, d.onHand = p.ProductID, int64(p.Quantity)
	case inventory.StockReserved:
		productID, d.reserved = p.ProductID, int64(p.Quantity)
	case inventory.StockReleased:
		productID, d.reserved = p.ProductID, -int64(p.Quantity)
	case inventory.StockCommitted:
		productID, d.onHand, d.reserved = p.ProductID, -int64(p.Quantity), -int64(p.Quantity)
	case inventory.StockReservationRejected:
		productID = p.ProductID
	default:
		return nil
	}
	d.version, d.position = e.StreamVersion, e.Position
	c, ok := a.held[productID]
	if !ok {
		if a.held == nil {
			a.held = map[string]*stockChanges{}
		}
		c = &stockChanges{productID: productID}
		a.held[productID] = c
		a.changed = append(a.changed, c)
	}
	c.deltas = append(c.deltas, d)
	return nil
}

// flush writes the batch's changes, product by product.
func (a *stockApplier) flush(ctx context.Context, tx *Tx) error {
	defer a.discard()
	for _, c := range a.changed {
		var err error
		if len(c.deltas) == 1 {
			err = a.applyOne(ctx, tx, c.productID, c.deltas[0])
		} else {
			err = a.applyMany(ctx, tx, c)
		}
		if err != nil {
			return fmt.Errorf("stock of %q: %w", c.productID, err)
		}
	}
	return nil
}

// discard forgets what was held for a batch that was not applied.
func (a *stockApplier) discard() {
	clear(a.held)
	a.changed = a.changed[:0]
}

// applyOne writes one event's change, as the table's statements fold it.
func (a *stockApplier) applyOne(ctx context.Context, tx *Tx, productID string, d stockDelta) error {
	// Update first: the row's CHECK (0 ≤ reserved ≤ on_hand) would refuse
	// an insert of the delta alone before an upsert could merge it.
	res, err := tx.Exec(ctx, a.update, d.onHand, d.reserved, d.version, productID)
	if err != nil {
		return fmt.Errorf("at %d: %w", d.position, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	if _, err = tx.Exec(ctx, a.insert, productID, d.onHand, d.reserved, d.version); err != nil {
		return fmt.Errorf("at %d: %w", d.position, err)
	}
	return nil
}

// applyMany applies several events' changes to a product's row. Where
// the row is there and takes the sums as the events one by one would
// (the UPDATE's guard, see sumOf), one UPDATE adds them. Otherwise (no
// row yet, sums near the ends of int64, or an event that breaks the
// CHECK) the row is read and folded in memory.
func (a *stockApplier) applyMany(ctx context.Context, tx *Tx, c *stockChanges) error {
	if s, ok := sumOf(c.deltas); ok {
		res, err := tx.Exec(ctx, a.addAll, s.onHand, s.reserved, s.version, c.productID,
			s.minReserved, s.minFree, math.MaxInt64-s.spanOnHand, math.MaxInt64-s.spanReserved)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
	}
	return a.fold(ctx, tx, c)
}

// stockSum is what a batch's changes of one product add up to, and what
// the row must hold before them for every event to leave it within the
// CHECK: reserved ≥ minReserved and on_hand - reserved ≥ minFree. No sum
// on the way moves a column further than spanOnHand and spanReserved.
type stockSum struct {
	onHand, reserved, version int64
	minReserved, minFree      int64
	spanOnHand, spanReserved  int64
}

// sumOf adds up changes, and false when the sums or spans come near the
// ends of int64 (old events of MaxInt64 units): those are folded one by
// one, saturating.
func sumOf(deltas []stockDelta) (stockSum, bool) {
	const limit = math.MaxInt64 / 4
	s := stockSum{minReserved: math.MinInt64, minFree: math.MinInt64}
	for _, d := range deltas {
		if d.onHand > limit || d.onHand < -limit || d.reserved > limit || d.reserved < -limit {
			return stockSum{}, false
		}
		s.onHand += d.onHand
		s.reserved += d.reserved
		s.spanOnHand += max(d.onHand, -d.onHand)
		s.spanReserved += max(d.reserved, -d.reserved)
		if s.spanOnHand > limit || s.spanReserved > limit {
			return stockSum{}, false
		}
		// After this event: reserved0 + s.reserved ≥ 0 and
		// reserved0 + s.reserved ≤ onHand0 + s.onHand.
		s.minReserved = max(s.minReserved, -s.reserved)
		s.minFree = max(s.minFree, s.reserved-s.onHand)
		s.version = d.version
	}
	return s, true
}

// fold folds several events' changes into the row in memory, as
// applyOne would one after the other: sums saturate at the ends of int64
// as the casts do, the first change of a product without a row is the
// row, and every intermediate row is held to the table's CHECK, so a
// batch fails at the event it would have failed at event by event.
func (a *stockApplier) fold(ctx context.Context, tx *Tx, c *stockChanges) error {
	var onHand, reserved int64
	err := tx.QueryRow(ctx, a.get, c.productID).Scan(&onHand, &reserved)
	existed := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	row := existed
	var version int64
	for _, d := range c.deltas {
		if row {
			onHand, reserved = bounds.SaturatingAdd(onHand, d.onHand), bounds.SaturatingAdd(reserved, d.reserved)
		} else {
			onHand, reserved, row = d.onHand, d.reserved, true
		}
		if reserved < 0 || reserved > onHand {
			return fmt.Errorf("at %d: %d reserved of %d on hand: %w", d.position, reserved, onHand, errStockOutOfBounds)
		}
		version = d.version
	}
	if existed {
		_, err = tx.Exec(ctx, a.set, onHand, reserved, version, c.productID)
	} else {
		_, err = tx.Exec(ctx, a.insert, c.productID, onHand, reserved, version)
	}
	return err
}
