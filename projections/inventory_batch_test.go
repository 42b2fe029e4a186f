package projections

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"orderflow/domain/inventory"
	"orderflow/events"
)

// TestStockBatchFoldsAsEventsOneByOne applies logs of stock events to the
// stock read model twice: each event in a batch of its own, and all of
// them in one batch, where a product changed several times is folded in
// memory and written once. The rows must be equal, and a log that breaks
// 0 ≤ reserved ≤ on_hand must fail at the same event both ways.
func TestStockBatchFoldsAsEventsOneByOne(t *testing.T) {
	added := func(p string, q int) events.Payload { return inventory.StockAdded{ProductID: p, Quantity: q} }
	reserved := func(p string, q int) events.Payload {
		return inventory.StockReserved{ProductID: p, OrderID: "o", Quantity: q}
	}
	released := func(p string, q int) events.Payload {
		return inventory.StockReleased{ProductID: p, OrderID: "o", Quantity: q}
	}
	committed := func(p string, q int) events.Payload {
		return inventory.StockCommitted{ProductID: p, OrderID: "o", Quantity: q}
	}
	rejected := func(p string) events.Payload {
		return inventory.StockReservationRejected{ProductID: p, OrderID: "o", Requested: 1, Reason: inventory.ReasonInsufficientStock}
	}
	tests := []struct {
		name   string
		before []events.Payload // applied in batches of their own first: rows the table holds
		log    []events.Payload
		failAt int64 // position of the event that breaks the row; 0 for none
	}{
		{name: "one event per product", log: []events.Payload{added("a", 10), added("b", 5)}},
		{name: "a new product taken through every change",
			log: []events.Payload{added("a", 10), reserved("a", 3), reserved("a", 2), released("a", 2), committed("a", 3), rejected("a")}},
		{name: "lines of orders over products the table holds", before: []events.Payload{added("a", 10), added("b", 10), added("c", 1)},
			log: []events.Payload{reserved("a", 1), reserved("b", 1), reserved("c", 1), reserved("a", 1), reserved("b", 1), rejected("c"),
				committed("a", 2), released("b", 1)}},
		{name: "a rejection first makes an empty row", log: []events.Payload{rejected("a"), rejected("a"), added("a", 1)}},
		{name: "sums saturate as the casts do", log: []events.Payload{added("g", math.MaxInt64), added("g", math.MaxInt64),
			reserved("g", 5), committed("g", 5)}},
		{name: "saturated before the batch", before: []events.Payload{added("g", math.MaxInt64), added("g", math.MaxInt64)},
			log: []events.Payload{reserved("g", 5), committed("g", 5), added("g", 1)}},
		{name: "saturating on the way over a row the table holds", before: []events.Payload{added("g", math.MaxInt64)},
			log: []events.Payload{added("g", 1), reserved("g", 5), committed("g", 5)}},
		{name: "reserved beyond on hand, covered later in the batch", before: []events.Payload{added("a", 1)},
			log: []events.Payload{reserved("a", 1), reserved("a", 1), added("a", 5)}, failAt: 3},
		{name: "tight all the way over a row the table holds", before: []events.Payload{added("a", 2)},
			log: []events.Payload{reserved("a", 2), committed("a", 2), added("a", 3), reserved("a", 3), released("a", 1), reserved("a", 1)}},
		{name: "released beyond reserved over a row the table holds, reserved again", before: []events.Payload{added("a", 5), reserved("a", 1)},
			log: []events.Payload{reserved("a", 1), released("a", 3), reserved("a", 2)}, failAt: 4},
		{name: "committed beyond on hand over a row the table holds, added again", before: []events.Payload{added("a", 2), reserved("a", 2)},
			log: []events.Payload{added("a", 1), committed("a", 2), committed("a", 2), added("a", 5)}, failAt: 5},
		{name: "released more than reserved", log: []events.Payload{added("a", 1), released("a", 1), reserved("a", 1)}, failAt: 2},
		{name: "reserved on a product without a row", log: []events.Payload{reserved("a", 1), added("a", 5)}, failAt: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var evs []events.Event
			versions := map[string]int64{}
			for i, p := range append(append([]events.Payload{}, tc.before...), tc.log...) {
				id := stockProductOf(p)
				versions[id]++
				evs = append(evs, events.Event{Position: int64(i + 1), StreamID: inventory.StreamID(id), StreamVersion: versions[id], Type: p.EventType()})
			}
			all := append(append([]events.Payload{}, tc.before...), tc.log...)
			pre := len(tc.before)

			one := newStockTable(t)
			var oneErr error
			for i := range evs {
				if oneErr = one.apply(t, evs[i:i+1], all[i:i+1]); oneErr != nil {
					break
				}
			}
			batch := newStockTable(t)
			for i := range pre {
				if err := batch.apply(t, evs[i:i+1], all[i:i+1]); err != nil {
					t.Fatal(err)
				}
			}
			batchErr := batch.apply(t, evs[pre:], all[pre:])

			if tc.failAt == 0 {
				if oneErr != nil || batchErr != nil {
					t.Fatalf("event by event: %v; in one batch: %v", oneErr, batchErr)
				}
				if got, want := batch.rows(t), one.rows(t); !reflect.DeepEqual(got, want) {
					t.Fatalf("in one batch %v\nevent by event %v", got, want)
				}
				return
			}
			at := fmt.Sprintf("at %d", tc.failAt)
			if oneErr == nil || batchErr == nil || !strings.Contains(oneErr.Error(), at) || !strings.Contains(batchErr.Error(), at) {
				t.Fatalf("want both to fail %s:\nevent by event: %v\nin one batch: %v", at, oneErr, batchErr)
			}
		})
	}
}

func stockProductOf(p events.Payload) string {
	switch p := p.(type) {
	case inventory.StockAdded:
		return p.ProductID
	case inventory.StockReserved:
		return p.ProductID
	case inventory.StockReleased:
		return p.ProductID
	case inventory.StockCommitted:
		return p.ProductID
	case inventory.StockReservationRejected:
		return p.ProductID
	}
	return ""
}

// stockTable is one generation of the stock read model in a database of
// its own, with its applier.
type stockTable struct {
	db *sql.DB
	a  Applier
}

func newStockTable(t *testing.T) *stockTable {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	names := generationNames(1)
	if _, err := db.Exec(stockDefinition.Schema(names)); err != nil {
		t.Fatal(err)
	}
	return &stockTable{db: db, a: stockDefinition.New(names)}
}

// apply applies evs as one batch in one transaction, committed unless it
// failed.
func (s *stockTable) apply(t *testing.T, evs []events.Event, payloads []events.Payload) error {
	t.Helper()
	ctx := context.Background()
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = withTx(sqlTx, func(tx *Tx) error { return applyAll(ctx, tx, "stock", s.a, evs, payloads) })
	if err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		t.Fatal(err)
	}
	return nil
}

func (s *stockTable) rows(t *testing.T) []string {
	t.Helper()
	rows, err := s.db.Query(`SELECT product_id, typeof(on_hand), on_hand, reserved, version FROM stock_g1 ORDER BY product_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, kind string
		var onHand, reserved, version int64
		if err := rows.Scan(&id, &kind, &onHand, &reserved, &version); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %d/%d v%d", id, kind, onHand, reserved, version))
	}
	return out
}
